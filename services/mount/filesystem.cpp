// blkid, mkfs and the grow tools as child processes with a deadline.
#include "services/mount/filesystem.hpp"

#include "services/process/child_process.hpp"

namespace rds::services::mount {

bool supported_fs_type(const std::string& fs_type) {
  return fs_type == "ext4" || fs_type == "xfs";
}

outcome probe_filesystem(const tools& t, const std::string& device, std::string& fs_type) {
  // -p: low-level probe of the device itself, no cache; exit 2 = nothing found.
  auto r = process::run_child({t.blkid, "-p", "-o", "value", "-s", "TYPE", device}, t.deadline);
  if (r.exit_code == 0) {
    fs_type = r.output.substr(0, r.output.find('\n'));
    if (fs_type.empty())
      return outcome::failure(ec::internal, "blkid found something on " + device
                                              + " but not its type: not formatting it");
    return outcome::success();
  }
  if (r.exit_code == 2 && r.start_error.empty() && !r.timed_out) {
    fs_type.clear();
    return outcome::success();
  }
  return outcome::failure(ec::internal, "cannot tell whether " + device
                                          + " holds a filesystem, so it is not formatted: "
                                          + r.describe("blkid"));
}

outcome make_filesystem(const tools& t, const std::string& device, const std::string& fs_type) {
  process::child_result r;
  if (fs_type == "ext4")
    r = process::run_child({t.mkfs_ext4, "-q", "-F", "-m", "0", device}, t.deadline);
  else if (fs_type == "xfs")
    r = process::run_child({t.mkfs_xfs, "-q", device}, t.deadline);
  else
    return outcome::failure(ec::invalid_argument, "filesystem " + fs_type + " is not supported");
  if (!r.ok())
    return outcome::failure(ec::internal, r.describe("mkfs." + fs_type));
  return outcome::success();
}

outcome grow_filesystem(const tools& t, const std::string& device, const std::string& mount_point,
                        const std::string& fs_type) {
  process::child_result r;
  if (fs_type == "ext4")
    r = process::run_child({t.resize2fs, device}, t.deadline);
  else if (fs_type == "xfs")
    r = process::run_child({t.xfs_growfs, mount_point}, t.deadline);
  else
    return outcome::failure(ec::invalid_argument, "cannot grow a " + fs_type + " filesystem");
  if (!r.ok())
    return outcome::failure(ec::internal,
                            r.describe(fs_type == "ext4" ? "resize2fs" : "xfs_growfs"));
  return outcome::success();
}

} // namespace rds::services::mount
