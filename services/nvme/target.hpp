// What a node connects to: an NVMe/TCP subsystem on the RDS, and the connection's timeouts.
#pragma once

#include <string>

#include "messages/error_code.hpp"

namespace rds::services::nvme {

struct nvme_target {
  /// IP literal of the RDS's NVMe/TCP portal.
  std::string address;
  int port = 4420;
  /// The subsystem NQN (the volume's).
  std::string nqn;
  /// This host's NQN (from /etc/nvme/hostnqn); empty: the kernel's own.
  std::string host_nqn;
  /// Seconds to keep reconnecting after the link is lost; -1 forever (no I/O errors on RDS blips).
  int ctrl_loss_tmo = -1;
  int reconnect_delay = 5;
  /// 0: the kernel's default.
  int keep_alive_tmo = 0;
};

/// The option string written to /dev/nvme-fabrics (reference/protocols.md §5.3), after checking
/// every field: an address that is not an IP literal, a port out of range or an NQN with
/// characters outside [A-Za-z0-9.:_-] is INVALID_ARGUMENT and nothing is written.
outcome fabrics_options(const nvme_target& target, std::string& out);

/// Whether `nqn` is a well-formed NQN: "nqn." and at most 223 bytes of [A-Za-z0-9.:_-].
bool valid_nqn(const std::string& nqn);

} // namespace rds::services::nvme
