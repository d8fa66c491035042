// NQN -> block device, only through sysfs (reference/protocols.md §5.4): the subsystem with the
// NQN, then its namespace head "nvme<K>n<M>" (native multipath: K is the subsystem's number, not
// the controller's), falling back to a controller's own namespaces when multipath is off. The
// root is configurable ("/sys" on a node), so a laid-out tree stands in for NVMe in tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rds::services::nvme {

struct namespace_device {
  /// e.g. "nvme1n1"
  std::string name;
  /// The device node, e.g. "/dev/nvme1n1" (from <root>/dev/block/<major>:<minor>).
  std::string dev_path;
  unsigned major = 0;
  unsigned minor = 0;
  uint64_t size_bytes = 0;
  /// The first controller of the subsystem, e.g. "nvme3", and its state ("live", "connecting",
  /// ...). Empty when no controller is there.
  std::string controller;
  std::string state;
};

/// The controllers ("nvmeN") whose subsysnqn is `nqn`.
std::vector<std::string> controllers_of(const std::string& root, const std::string& nqn);

/// The namespace device of `nqn`, if the subsystem and its namespace are there.
std::optional<namespace_device> resolve_device(const std::string& root, const std::string& nqn);

/// Controllers whose subsystem NQN starts with `prefix`: this node's managed connections.
size_t managed_controllers(const std::string& root, const std::string& prefix);

/// The first line of a sysfs attribute, or "" (attributes end with a newline).
std::string read_attribute(const std::string& path);

} // namespace rds::services::nvme
