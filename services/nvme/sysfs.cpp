// Directory walks over <root>/class/nvme-subsystem and <root>/class/nvme.
#include "services/nvme/sysfs.hpp"

#include <dirent.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace rds::services::nvme {

namespace {

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.')
        names.push_back(e->d_name);
    ::closedir(d);
  }
  return names;
}

/// "nvme<digits>" exactly.
bool controller_name(const std::string& name) {
  if (name.size() < 5 || name.compare(0, 4, "nvme") != 0)
    return false;
  return name.find_first_not_of("0123456789", 4) == std::string::npos;
}

/// "nvme<digits>n<digits>" (a head or non-multipath namespace; "nvme1c2n1" paths are not).
bool namespace_name(const std::string& name) {
  unsigned a = 0, b = 0;
  int used = 0;
  return std::sscanf(name.c_str(), "nvme%un%u%n", &a, &b, &used) == 2
         && static_cast<size_t>(used) == name.size();
}

std::optional<namespace_device> device_in(const std::string& root, const std::string& dir,
                                          const std::string& name) {
  namespace_device d;
  d.name = name;
  auto dev = read_attribute(dir + "/" + name + "/dev");
  if (std::sscanf(dev.c_str(), "%u:%u", &d.major, &d.minor) != 2)
    return std::nullopt;
  char target[PATH_MAX];
  auto link = root + "/dev/block/" + dev;
  auto n = ::readlink(link.c_str(), target, sizeof(target) - 1);
  if (n <= 0)
    return std::nullopt;
  std::string resolved(target, static_cast<size_t>(n));
  d.dev_path = "/dev/" + resolved.substr(resolved.rfind('/') + 1);
  unsigned long long sectors = 0;
  if (std::sscanf(read_attribute(dir + "/" + name + "/size").c_str(), "%llu", &sectors) == 1)
    d.size_bytes = static_cast<uint64_t>(sectors) * 512;
  return d;
}

} // namespace

std::string read_attribute(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  return line;
}

std::vector<std::string> controllers_of(const std::string& root, const std::string& nqn) {
  std::vector<std::string> found;
  auto base = root + "/class/nvme";
  for (auto& name : entries(base))
    if (controller_name(name) && read_attribute(base + "/" + name + "/subsysnqn") == nqn)
      found.push_back(name);
  return found;
}

std::optional<namespace_device> resolve_device(const std::string& root, const std::string& nqn) {
  std::optional<namespace_device> device;
  auto subsystems = root + "/class/nvme-subsystem";
  for (auto& sub : entries(subsystems)) {
    auto dir = subsystems + "/" + sub;
    if (read_attribute(dir + "/subsysnqn") != nqn)
      continue;
    for (auto& name : entries(dir))
      if (namespace_name(name) && (device = device_in(root, dir, name)))
        break;
  }
  auto controllers = controllers_of(root, nqn);
  // Multipath off: the namespace hangs under its controller.
  for (size_t i = 0; !device && i < controllers.size(); ++i) {
    auto dir = root + "/class/nvme/" + controllers[i];
    for (auto& name : entries(dir))
      if (namespace_name(name) && (device = device_in(root, dir, name)))
        break;
  }
  if (!device)
    return std::nullopt;
  // A live controller if there is one.
  for (auto& c : controllers) {
    auto state = read_attribute(root + "/class/nvme/" + c + "/state");
    if (device->controller.empty() || state == "live") {
      device->controller = c;
      device->state = state;
    }
  }
  return device;
}

size_t managed_controllers(const std::string& root, const std::string& prefix) {
  size_t n = 0;
  auto base = root + "/class/nvme";
  for (auto& name : entries(base))
    if (controller_name(name)
        && read_attribute(base + "/" + name + "/subsysnqn").compare(0, prefix.size(), prefix) == 0)
      ++n;
  return n;
}

} // namespace rds::services::nvme
