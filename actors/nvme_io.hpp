// The nvme_io actor: one blocking node operation (NVMe connect, sysfs, blkid, mkfs, mount,
// resize) on its own thread. A node_volume spawns one detached per operation and awaits its
// reply; the operation's child processes carry deadlines and are killed past them. Every block
// device it finds for the volume is told to the node_volume (before the reply), which shows it.
#pragma once

#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "messages/actors.hpp"
#include "messages/volume_context.hpp"
#include "services/mount/filesystem.hpp"
#include "services/nvme/connector.hpp"

namespace rds::actors {

struct node_config {
  std::shared_ptr<services::nvme::connector> connector;
  services::mount::tools tools;
  /// Subsystems this driver may disconnect: never a host's own NVMe disks.
  std::string managed_prefix = std::string{volume_nqn_prefix} + "csi-";
  /// Where kubelet keeps pods and publishes (raw block device nodes are looked for there).
  std::string kubelet_dir = "/var/lib/kubelet";
  /// This host's NQN (from /etc/nvme/hostnqn); empty: the kernel's own.
  std::string host_nqn;
  /// How long a new namespace may take to appear after connect.
  std::chrono::milliseconds device_wait{std::chrono::seconds{15}};
  /// The bound of one whole node operation.
  std::chrono::milliseconds operation_deadline{std::chrono::minutes{3}};
};

nvme_io_actor::behavior_type nvme_io(nvme_io_actor::pointer self, node_config config,
                                     metrics_actor metrics, device_listener listener);

} // namespace rds::actors
