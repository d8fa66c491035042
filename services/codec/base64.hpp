// Base64 as HTTP Basic auth and kubeconfig *-data fields use it, on OpenSSL's EVP encoder.
#pragma once

#include <string>

namespace rds::services::codec {

/// Standard alphabet, with or without padding; spaces and line breaks between characters are
/// ignored. False (and `out` empty) on a character outside the alphabet, '=' anywhere but in
/// the last one or two places of a padded quantum, or a length no encoder gives
/// (4n+1 characters).
bool decode_base64(const std::string& text, std::string& out);

/// Standard alphabet, padded, no line breaks.
std::string encode_base64(const std::string& bytes);

} // namespace rds::services::codec
