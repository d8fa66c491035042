// The mount table and mount(2): what is mounted where (from /proc/self/mountinfo, read with
// libmount, with the source device's major:minor, so a mount of a device that has since been
// renumbered is seen as stale), mounting a device or a bind mount without ever stacking one on
// another, and unmounting. Mount flags from the CO are checked (against libmount's table of
// the kernel's options) before they reach the kernel. Every function here may be called from
// several threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/error_code.hpp"

namespace rds::services::mount {

struct mount_entry {
  unsigned major = 0;
  unsigned minor = 0;
  /// The path inside the source filesystem that is mounted ("/" for a whole filesystem).
  std::string root;
  std::string mount_point;
  std::string options;
  std::string fs_type;
  std::string source;
};

/// Every entry of a mountinfo file, in its order (a line libmount cannot read is left out;
/// a file that cannot be read gives none). Paths come unescaped ("\040" is a space);
/// `options` are the per-mount (VFS) options.
std::vector<mount_entry> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

/// The topmost mount at exactly `path` (compared as a string), if any.
std::optional<mount_entry> mount_at(const std::string& path);
/// The same, in the mountinfo file `mountinfo`.
std::optional<mount_entry> mount_at(const std::string& path, const std::string& mountinfo);

/// Mounts that show the device major:minor anywhere.
std::vector<mount_entry> mounts_of(unsigned major, unsigned minor);
/// The same, in the mountinfo file `mountinfo`.
std::vector<mount_entry> mounts_of(unsigned major, unsigned minor, const std::string& mountinfo);

/// Block device nodes of major:minor below `dir` (raw block publishes), found without crossing
/// into other filesystems or following symlinks, at most 12 levels deep.
std::vector<std::string> device_nodes_under(const std::string& dir, unsigned major, unsigned minor);

/// Splits CSI mount flags into mount(2) flags and filesystem data, adding to `ms_flags` and
/// `data`. The kernel's own options are known from libmount's table: they set their bit, or
/// clear it ("rw", "async"). Those that would weaken the node ("suid", "dev", "exec") or make
/// the mount something else (bind, rbind, remount, move, propagation) are INVALID_ARGUMENT, as
/// is a flag that is not a plain word. mount(8)'s own options ("defaults", "nofail",
/// "_netdev", "x-...") are accepted and dropped; any other word is filesystem data. Pure: no
/// I/O, callable from anywhere.
outcome parse_mount_flags(const std::vector<std::string>& flags, unsigned long& ms_flags,
                          std::string& data);

/// Mounts `device` with `fs_type` at the existing directory `target`.
outcome mount_device(const std::string& device, const std::string& target,
                     const std::string& fs_type, const std::vector<std::string>& flags,
                     bool readonly);

/// Bind-mounts `source` at `target` (a directory), nosuid and nodev, then applies read-only
/// and the flags.
outcome bind_mount(const std::string& source, const std::string& target,
                   const std::vector<std::string>& flags, bool readonly);

/// Unmounts `target`; not mounted is success.
outcome unmount(const std::string& target);

/// Detaches the mount at `target` now and lets the kernel finish unmounting once nothing uses
/// it (for a stale mount that pods still hold).
outcome detach_mount(const std::string& target);

struct usage {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t total_inodes = 0;
  uint64_t free_inodes = 0;
  uint64_t used_inodes = 0;
};

outcome filesystem_usage(const std::string& path, usage& out);

} // namespace rds::services::mount
