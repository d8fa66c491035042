// Filesystems on a block device: find out whether there is one, make one, grow one. The rule
// that keeps live data safe: format only when blkid says positively that there is no
// filesystem (exit 2); any other failure is an error and nothing is formatted
// (reference/go-driver.md §3.6 and incident quick-006).
#pragma once

#include <chrono>
#include <string>

#include "messages/error_code.hpp"

namespace rds::services::mount {

/// Programs and their deadline (paths are configurable so a node image can place them).
struct tools {
  std::string blkid = "blkid";
  std::string mkfs_ext4 = "mkfs.ext4";
  std::string mkfs_xfs = "mkfs.xfs";
  std::string resize2fs = "resize2fs";
  std::string xfs_growfs = "xfs_growfs";
  std::chrono::milliseconds deadline{std::chrono::minutes{2}};
};

/// The filesystem types the driver formats and mounts.
bool supported_fs_type(const std::string& fs_type);

/// Success with `fs_type` set ("ext4", ...) or empty (blkid: no filesystem at all). A failure
/// means blkid could not tell: the device must not be formatted.
outcome probe_filesystem(const tools& t, const std::string& device, std::string& fs_type);

/// mkfs.ext4 / mkfs.xfs on the device. Call only after probe_filesystem said "none".
outcome make_filesystem(const tools& t, const std::string& device, const std::string& fs_type);

/// Grows the filesystem mounted at `mount_point` from `device` to the device's size.
outcome grow_filesystem(const tools& t, const std::string& device, const std::string& mount_point,
                        const std::string& fs_type);

} // namespace rds::services::mount
