// Connecting and disconnecting NVMe/TCP subsystems. Blocking: use from nvme_io actors only.
// Two connectors: the kernel's fabrics interface through libnvme (a real node), and loop
// devices over the RDS simulator's disk files with a laid-out sysfs tree (a machine without
// nvme-tcp). Both leave the same sysfs shape behind, so everything after connect is the same
// code.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "messages/error_code.hpp"
#include "services/nvme/target.hpp"

namespace rds::services::nvme {

class connector {
 public:
  virtual ~connector() = default;
  /// Connects to the target's subsystem. Already connected is success; `reused` tells.
  virtual outcome connect(const nvme_target& target, bool& reused) = 0;
  /// Removes every controller of `nqn` (none is success).
  virtual outcome disconnect(const std::string& nqn) = 0;
  /// Makes the kernel read the namespace's size again (after the volume grew).
  virtual outcome rescan(const std::string& nqn) = 0;
  /// The sysfs root this connector's controllers appear under.
  virtual const std::string& sysfs_root() const = 0;
};

struct fabrics_config {
  /// Where existing controllers are looked for. libnvme itself always uses /sys and
  /// /dev/nvme-fabrics (1.3 takes no root); with another root, disconnect and rescan write the
  /// controller's sysfs attributes under it directly.
  std::string sysfs_root = "/sys";
};

std::unique_ptr<connector> make_fabrics_connector(fabrics_config config);

struct loop_config {
  /// Where the fake tree goes (it replaces /sys for the node plugin).
  std::string sysfs_root;
  /// The RDS simulator's pool directory: disk files are "<slot>[.<anything>].img" in it.
  std::string pool_dir;
  std::chrono::milliseconds deadline{std::chrono::seconds{30}};
};

class loop_connector : public connector {
 public:
  explicit loop_connector(loop_config config);
  outcome connect(const nvme_target& target, bool& reused) override;
  outcome disconnect(const std::string& nqn) override;
  outcome rescan(const std::string& nqn) override;
  const std::string& sysfs_root() const override { return config_.sysfs_root; }

  /// What a controller reset that renumbers does: the subsystem gets a new controller and a
  /// new block device, the old ones go away (the old device stays until nothing uses it).
  outcome renumber(const std::string& nqn);
  /// Sets the state of the subsystem's controllers (e.g. "connecting" after a link loss).
  outcome set_state(const std::string& nqn, const std::string& state);

 private:
  outcome attach(const std::string& nqn, const nvme_target& target);
  loop_config config_;
  /// Operations for different volumes run on different threads; the tree is laid out by one.
  std::mutex mutex_;
};

} // namespace rds::services::nvme
