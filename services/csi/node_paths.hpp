// The paths kubelet hands to the node service must lie inside the kubelet directory, name no
// ".." and pass through no symlink: a hostile path could otherwise make the plugin mount over,
// or remove, anything on the host.
#pragma once

#include <string>

#include "messages/error_code.hpp"

namespace rds::services::csi {

/// INVALID_ARGUMENT with the reason unless `path` is an absolute path strictly inside
/// `kubelet_dir` (itself absolute and free of symlinks), without "." or ".." components, and no
/// existing component from the kubelet directory down is a symlink. `what` names the field.
outcome check_node_path(const std::string& kubelet_dir, const std::string& path, const char* what);

} // namespace rds::services::csi
