// The paths kubelet hands to the node service must lie inside the kubelet directory and name no
// "." or "..": a hostile path could otherwise make the plugin mount over, or remove, anything on
// the host. This is the check on the text alone; services/mount/path_guard adds the one on the
// filesystem (no symlink on the way), made by the node operation right before it uses the path.
#pragma once

#include <string>
#include <vector>

#include "messages/error_code.hpp"

namespace rds {

/// INVALID_ARGUMENT with the reason unless `path` is an absolute path strictly inside
/// `kubelet_dir`, at most 4096 bytes, without control characters, empty, "." or ".." components.
/// `what` names the field.
outcome check_node_path(const std::string& kubelet_dir, const std::string& path, const char* what);

/// The volume_path of NodeGetVolumeStats and NodeExpandVolume: required, absolute, at most 4096
/// bytes, no control characters (INVALID_ARGUMENT). Where it lies is the node operation's
/// question: a path where the volume is not is NOT_FOUND, inside the kubelet directory or not.
outcome check_volume_path(const std::string& path);

/// Whether `path` lies strictly inside `kubelet_dir` (text only, no other check).
bool inside_kubelet_dir(const std::string& kubelet_dir, const std::string& path);

/// The paths from the first component below `kubelet_dir` down to `path` itself
/// ("<dir>/a", "<dir>/a/b", ...), for a path that passed check_node_path.
std::vector<std::string> components_below(const std::string& kubelet_dir, const std::string& path);

} // namespace rds
