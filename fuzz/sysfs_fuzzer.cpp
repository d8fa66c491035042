// sysfs values (services/nvme/sysfs.cpp): a laid-out <root>/class/nvme-subsystem and
// <root>/class/nvme tree whose attribute files and namespace name come from the input, then the
// lookups the node makes. Input: fields separated by '\0' — the subsystem's subsysnqn, the
// namespace's name, its dev ("major:minor"), its size (sectors), the controller's subsysnqn and
// its state.
#include <unistd.h>

#include "fuzz/input_text.hpp"
#include "services/nvme/sysfs.hpp"

namespace {

namespace fs = std::filesystem;

constexpr const char* nqn = "nqn.2000-02.com.mikrotik:csi-0123456789abcdef0123456789ab";

/// Names become directory entries: only what a kernel name can be, never a path.
bool entry_name(const std::string& name) {
  if (name.empty() || name.size() > 32 || name == "." || name == "..")
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' || c == '-' || c == '.'))
      return false;
  return true;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto fields = rds::fuzz::split(rds::fuzz::text_of(data, size), '\0');
  fields.resize(6);
  auto& [sub_nqn, ns_name, dev, sectors, ctrl_nqn, state] =
    *reinterpret_cast<std::string(*)[6]>(fields.data());
  static const auto root = rds::fuzz::scratch_dir() / "sys";
  static const auto subsystem = root / "class/nvme-subsystem/nvme-subsys0";
  static const auto controller = root / "class/nvme/nvme0";
  static const auto dev_block = root / "dev/block";
  // The fixed part of the tree stays; what the last input added goes.
  static std::string last_ns, last_link;
  if (!last_ns.empty()) {
    fs::remove_all(subsystem / last_ns);
    fs::remove_all(controller / last_ns);
  }
  if (!last_link.empty())
    fs::remove(dev_block / last_link);
  last_ns.clear();
  last_link.clear();
  fs::create_directories(subsystem);
  fs::create_directories(controller);
  fs::create_directories(dev_block);
  rds::fuzz::write_file(subsystem / "subsysnqn", sub_nqn);
  rds::fuzz::write_file(controller / "subsysnqn", ctrl_nqn);
  rds::fuzz::write_file(controller / "state", state);
  if (entry_name(ns_name) && ns_name != "subsysnqn" && ns_name != "state") {
    last_ns = ns_name;
    for (auto& parent : {subsystem, controller}) {
      fs::create_directories(parent / ns_name);
      rds::fuzz::write_file(parent / ns_name / "dev", dev);
      rds::fuzz::write_file(parent / ns_name / "size", sectors);
    }
  }
  if (auto link = first_line(dev); entry_name(link)) {
    last_link = link;
    if (::symlink(("../../devices/virtual/nvme-subsystem/nvme-subsys0/" + ns_name).c_str(),
                  (dev_block / link).c_str())
        != 0)
      last_link.clear();
  }
  namespace nvme = rds::services::nvme;
  auto device = nvme::resolve_device(root.string(), nqn);
  if (device && (device->name != ns_name || device->dev_path.rfind("/dev/", 0) != 0))
    __builtin_trap();
  nvme::controllers_of(root.string(), nqn);
  nvme::managed_controllers(root.string(), "nqn.2000-02.com.mikrotik:csi-");
  return 0;
}
