// Base64 as HTTP Basic auth and kubeconfig *-data fields use it.
#pragma once

#include <string>

namespace rds::services::codec {

/// Standard alphabet, with or without padding; false on a character outside it.
bool decode_base64(const std::string& text, std::string& out);

std::string encode_base64(const std::string& bytes);

} // namespace rds::services::codec
