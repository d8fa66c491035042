// /proc/self/mountinfo parsing and mount(2)/umount2(2).
#include "services/mount/mounts.hpp"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace rds::services::mount {

namespace {

/// mountinfo escapes spaces and such as \040.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

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

} // namespace

std::vector<mount_entry> read_mountinfo(const std::string& path) {
  std::vector<mount_entry> entries;
  std::ifstream in{path};
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount_point options [optional...] - fs_type source super
    std::istringstream fields{line};
    std::string id, parent, dev, root, point, options, word;
    fields >> id >> parent >> dev >> root >> point >> options;
    while (fields >> word && word != "-") {
    }
    mount_entry e;
    fields >> e.fs_type >> e.source;
    if (std::sscanf(dev.c_str(), "%u:%u", &e.major, &e.minor) != 2)
      continue;
    e.root = unescape(root);
    e.mount_point = unescape(point);
    e.options = options;
    e.source = unescape(e.source);
    entries.push_back(std::move(e));
  }
  return entries;
}

std::optional<mount_entry> mount_at(const std::string& path) {
  std::optional<mount_entry> top;
  for (auto& e : read_mountinfo())
    if (e.mount_point == path)
      top = e; // later lines are mounted on top
  return top;
}

std::vector<mount_entry> mounts_of(unsigned major, unsigned minor) {
  std::vector<mount_entry> found;
  for (auto& e : read_mountinfo())
    if (e.major == major && e.minor == minor)
      found.push_back(e);
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
  static const std::map<std::string, unsigned long> known{{"ro", MS_RDONLY},
                                                          {"rw", 0},
                                                          {"noatime", MS_NOATIME},
                                                          {"nodiratime", MS_NODIRATIME},
                                                          {"relatime", MS_RELATIME},
                                                          {"strictatime", MS_STRICTATIME},
                                                          {"nosuid", MS_NOSUID},
                                                          {"nodev", MS_NODEV},
                                                          {"noexec", MS_NOEXEC},
                                                          {"sync", MS_SYNCHRONOUS},
                                                          {"lazytime", MS_LAZYTIME},
                                                          {"defaults", 0},
                                                          {"async", 0},
                                                          {"dirsync", MS_DIRSYNC}};
  for (auto& flag : flags) {
    if (!plain_word(flag))
      return outcome::failure(ec::invalid_argument,
                              "mount flag '" + flag + "' is not a plain option word");
    if (flag == "suid" || flag == "dev" || flag == "exec" || flag == "bind" || flag == "rbind"
        || flag == "remount" || flag == "move")
      return outcome::failure(ec::invalid_argument, "mount flag '" + flag + "' is not allowed");
    auto i = known.find(flag);
    if (i != known.end()) {
      ms_flags |= i->second;
      continue;
    }
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
