// The mount table through libmount (each call parses into its own libmnt_table, so IO threads
// may read it at once), mount(2)/umount2(2), and CSI mount flags checked against libmount's
// own table of the kernel's mount options.
#include "services/mount/mounts.hpp"

#include <dirent.h>
#include <libmount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace rds::services::mount {

namespace {

bool plain_word(const std::string& s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
          || c == '-' || c == '=' || c == '.'))
      return false;
  return true;
}

outcome failed(const std::string& what) {
  return outcome::failure(ec::internal, what + ": " + std::strerror(errno));
}

std::string text_of(const char* s) {
  return s == nullptr ? std::string{} : std::string{s};
}

/// libmount reads LIBMOUNT_DEBUG once; done here once so that threads never race on it.
void init_libmount() {
  static std::once_flag once;
  std::call_once(once, [] { mnt_init_debug(0); });
}

struct table_deleter {
  void operator()(libmnt_table* t) const { mnt_unref_table(t); }
};
struct iter_deleter {
  void operator()(libmnt_iter* i) const { mnt_free_iter(i); }
};

/// A line libmount cannot read is left out; the rest of the table is still used.
int skip_line(libmnt_table*, const char*, int) {
  return 1;
}

/// Calls `each` with every entry of the mountinfo file at `path`, in file order.
template <class Each> void for_each_mount(const std::string& path, Each each) {
  init_libmount();
  std::unique_ptr<libmnt_table, table_deleter> table{mnt_new_table()};
  std::unique_ptr<libmnt_iter, iter_deleter> iter{mnt_new_iter(MNT_ITER_FORWARD)};
  if (!table || !iter)
    return;
  mnt_table_set_parser_errcb(table.get(), skip_line);
  if (mnt_table_parse_file(table.get(), path.c_str()) != 0)
    return;
  libmnt_fs* fs = nullptr;
  while (mnt_table_next_fs(table.get(), iter.get(), &fs) == 0) {
    mount_entry e;
    auto dev = mnt_fs_get_devno(fs);
    e.major = ::major(dev);
    e.minor = ::minor(dev);
    e.root = text_of(mnt_fs_get_root(fs));
    e.mount_point = text_of(mnt_fs_get_target(fs));
    e.options = text_of(mnt_fs_get_vfs_options(fs));
    e.fs_type = text_of(mnt_fs_get_fstype(fs));
    e.source = text_of(mnt_fs_get_source(fs));
    each(std::move(e));
  }
}

/// The entry of libmount's option map `map` that `word` is (a "name=", "name[=]" or prefix
/// entry matches with its value), or null.
const libmnt_optmap* option_in(int map, const std::string& word) {
  for (auto* e = mnt_get_builtin_optmap(map); e != nullptr && e->name != nullptr; ++e) {
    std::string name = e->name;
    if ((e->mask & MNT_PREFIX) != 0) {
      if (word.compare(0, name.size(), name) == 0)
        return e;
      continue;
    }
    auto optional_value = name.find("[=]");
    if (optional_value != std::string::npos) {
      name.resize(optional_value);
      if (word == name || word.compare(0, name.size() + 1, name + "=") == 0)
        return e;
    } else if (!name.empty() && name.back() == '=') {
      if (word.size() > name.size() && word.compare(0, name.size(), name) == 0)
        return e;
    } else if (word == name) {
      return e;
    }
  }
  return nullptr;
}

} // namespace

std::vector<mount_entry> read_mountinfo(const std::string& path) {
  std::vector<mount_entry> entries;
  for_each_mount(path, [&](mount_entry e) { entries.push_back(std::move(e)); });
  return entries;
}

std::optional<mount_entry> mount_at(const std::string& path) {
  return mount_at(path, "/proc/self/mountinfo");
}

std::optional<mount_entry> mount_at(const std::string& path, const std::string& mountinfo) {
  // Compared as strings, as libmount's mnt_table_find_target does without a path cache: the
  // callers' paths are already checked (no symlinks), and no stat of a hung mount is made.
  std::optional<mount_entry> top;
  for_each_mount(mountinfo, [&](mount_entry e) {
    if (e.mount_point == path)
      top = std::move(e); // later lines are mounted on top
  });
  return top;
}

std::vector<mount_entry> mounts_of(unsigned major, unsigned minor) {
  return mounts_of(major, minor, "/proc/self/mountinfo");
}

std::vector<mount_entry> mounts_of(unsigned major, unsigned minor, const std::string& mountinfo) {
  std::vector<mount_entry> found;
  for_each_mount(mountinfo, [&](mount_entry e) {
    if (e.major == major && e.minor == minor)
      found.push_back(std::move(e));
  });
  return found;
}

namespace {

void find_device_nodes(const std::string& dir, dev_t filesystem, dev_t wanted, int depth,
                       std::vector<std::string>& found) {
  if (depth > 12)
    return;
  auto* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    auto path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
      continue;
    if (S_ISBLK(st.st_mode) && st.st_rdev == wanted)
      found.push_back(path);
    else if (S_ISDIR(st.st_mode) && st.st_dev == filesystem)
      find_device_nodes(path, filesystem, wanted, depth + 1, found);
  }
  ::closedir(d);
}

} // namespace

std::vector<std::string> device_nodes_under(const std::string& dir, unsigned major,
                                            unsigned minor) {
  std::vector<std::string> found;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    find_device_nodes(dir, st.st_dev, makedev(major, minor), 0, found);
  return found;
}

outcome parse_mount_flags(const std::vector<std::string>& flags, unsigned long& ms_flags,
                          std::string& data) {
  // What a CSI mount flag may not do: undo nosuid/nodev/noexec, or turn the mount into a bind,
  // a remount, a move or a propagation change.
  constexpr unsigned long weakening = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  constexpr unsigned long not_a_flag =
    MS_BIND | MS_REC | MS_REMOUNT | MS_MOVE | MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;
  init_libmount();
  auto* linux_map = mnt_get_builtin_optmap(MNT_LINUX_MAP);
  for (auto& flag : flags) {
    if (!plain_word(flag))
      return outcome::failure(ec::invalid_argument,
                              "mount flag '" + flag + "' is not a plain option word");
    // "move" is mount(8)'s --move, not in the option table, and not for a CSI flag either.
    if (flag == "move")
      return outcome::failure(ec::invalid_argument, "mount flag 'move' is not allowed");
    if (auto* known = option_in(MNT_LINUX_MAP, flag)) {
      auto id = static_cast<unsigned long>(known->id);
      if ((id & not_a_flag) != 0 || ((known->mask & MNT_INVERT) != 0 && (id & weakening) != 0))
        return outcome::failure(ec::invalid_argument, "mount flag '" + flag + "' is not allowed");
      // libmount sets the option's bit, or clears it for the inverted ones ("rw", "async").
      if (mnt_optstr_get_flags(flag.c_str(), &ms_flags, linux_map) != 0)
        return outcome::failure(ec::invalid_argument,
                                "mount flag '" + flag + "' is not understood");
      continue;
    }
    // mount(8)'s own options ("defaults", "nofail", "_netdev", "x-..."): they tell mount(8) and
    // fstab what to do and mean nothing to mount(2), so they are accepted and not passed on.
    if (option_in(MNT_USERSPACE_MAP, flag) != nullptr)
      continue;
    // Anything else is the filesystem's own option (e.g. "discard", "data=ordered").
    data += (data.empty() ? "" : ",") + flag;
  }
  return outcome::success();
}

outcome mount_device(const std::string& device, const std::string& target,
                     const std::string& fs_type, const std::vector<std::string>& flags,
                     bool readonly) {
  unsigned long ms = MS_NOSUID | MS_NODEV;
  std::string data;
  if (auto r = parse_mount_flags(flags, ms, data); !r.ok())
    return r;
  if (readonly)
    ms |= MS_RDONLY;
  if (::mount(device.c_str(), target.c_str(), fs_type.c_str(), ms,
              data.empty() ? nullptr : data.c_str())
      != 0)
    return failed("mounting " + device + " (" + fs_type + ") at " + target);
  return outcome::success();
}

outcome bind_mount(const std::string& source, const std::string& target,
                   const std::vector<std::string>& flags, bool readonly) {
  unsigned long ms = MS_NOSUID | MS_NODEV;
  std::string data;
  if (auto r = parse_mount_flags(flags, ms, data); !r.ok())
    return r;
  if (readonly)
    ms |= MS_RDONLY;
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return failed("bind-mounting " + source + " at " + target);
  // The bind's own flags only take with a remount of the bind.
  if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | ms, nullptr) != 0) {
    auto r = failed("applying flags to the bind mount at " + target);
    ::umount2(target.c_str(), 0);
    return r;
  }
  return outcome::success();
}

outcome unmount(const std::string& target) {
  if (!mount_at(target))
    return outcome::success();
  if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT)
    return failed("unmounting " + target);
  return outcome::success();
}

outcome detach_mount(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL
      && errno != ENOENT)
    return failed("detaching the mount at " + target);
  return outcome::success();
}

outcome filesystem_usage(const std::string& path, usage& out) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0)
    return failed("statvfs " + path);
  out.total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  out.available_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  out.used_bytes = out.total_bytes - static_cast<uint64_t>(st.f_bfree) * st.f_frsize;
  out.total_inodes = st.f_files;
  out.free_inodes = st.f_ffree;
  out.used_inodes = st.f_files - st.f_ffree;
  return outcome::success();
}

} // namespace rds::services::mount
