// What a node call carries from the CO: a staging or target path (messages/node_path.cpp), mount
// flags (parse_mount_flags) and the NVMe/TCP target from the volume context (fabrics_options).
// Input lines: the path, the NQN, the address, then one mount flag per line.
#include "fuzz/input_text.hpp"
#include "messages/node_path.hpp"
#include "services/mount/mounts.hpp"
#include "services/nvme/target.hpp"

namespace {

bool climbs(const std::string& path) {
  for (auto& component : rds::fuzz::split(path, '/'))
    if (component == "..")
      return true;
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto lines = rds::fuzz::split(rds::fuzz::text_of(data, size), '\n');
  lines.resize(std::max<size_t>(lines.size(), 3));
  const std::string kubelet_dir = "/var/lib/kubelet";
  const auto& path = lines[0];
  if (rds::check_node_path(kubelet_dir, path, "target_path").ok()) {
    if (!rds::inside_kubelet_dir(kubelet_dir, path))
      __builtin_trap();
    for (auto& step : rds::components_below(kubelet_dir, path))
      if (!rds::inside_kubelet_dir(kubelet_dir, step) || climbs(step))
        __builtin_trap(); // every step the node walks stays inside, never climbs
  }
  rds::check_volume_path(path);
  rds::services::nvme::nvme_target target;
  target.nqn = lines[1];
  target.address = lines[2];
  target.host_nqn = lines[1];
  std::string options;
  if (rds::services::nvme::fabrics_options(target, options).ok()
      && options.find_first_of("\n\r") != std::string::npos)
    __builtin_trap(); // one line to /dev/nvme-fabrics, nothing smuggled after it
  std::vector<std::string> flags(lines.begin() + 3, lines.end());
  unsigned long ms_flags = 0;
  std::string fs_data;
  rds::services::mount::parse_mount_flags(flags, ms_flags, fs_data);
  return 0;
}
