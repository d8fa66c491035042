// A kubelet path checked where it is used: on the text (messages/node_path), then on the
// filesystem, in the node operation that uses it right afterwards, so no other thread's check
// leaves a gap before the mount or removal.
#pragma once

#include <string>

#include "messages/error_code.hpp"

namespace rds::services::mount {

/// check_node_path, and no existing component from the kubelet directory down is a symlink
/// (INVALID_ARGUMENT naming it).
outcome check_usable_path(const std::string& kubelet_dir, const std::string& path,
                          const char* what);

} // namespace rds::services::mount
