// Option string for the kernel's fabrics interface.
#include "services/nvme/target.hpp"

#include <arpa/inet.h>

namespace rds::services::nvme {

bool valid_nqn(const std::string& nqn) {
  if (nqn.size() < 5 || nqn.size() > 223 || nqn.compare(0, 4, "nqn.") != 0)
    return false;
  for (char c : nqn)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
          || c == ':' || c == '-' || c == '_'))
      return false;
  return true;
}

outcome fabrics_options(const nvme_target& t, std::string& out) {
  auto bad = [](const std::string& why) { return outcome::failure(ec::invalid_argument, why); };
  unsigned char buf[16];
  bool v4 = ::inet_pton(AF_INET, t.address.c_str(), buf) == 1;
  if (!v4 && ::inet_pton(AF_INET6, t.address.c_str(), buf) != 1)
    return bad("nvmeAddress '" + t.address + "' is not an IP address");
  if (t.port < 1 || t.port > 65535)
    return bad("nvmePort " + std::to_string(t.port) + " is not a port");
  if (!valid_nqn(t.nqn))
    return bad("'" + t.nqn + "' is not an NQN");
  if (!t.host_nqn.empty() && !valid_nqn(t.host_nqn))
    return bad("host NQN '" + t.host_nqn + "' is not an NQN");
  if (t.ctrl_loss_tmo < -1 || t.reconnect_delay < 1 || t.keep_alive_tmo < 0)
    return bad("ctrlLossTmo, reconnectDelay or keepAliveTmo is out of range");
  out =
    "nqn=" + t.nqn + ",transport=tcp,traddr=" + t.address + ",trsvcid=" + std::to_string(t.port);
  if (!t.host_nqn.empty())
    out += ",hostnqn=" + t.host_nqn;
  if (t.keep_alive_tmo > 0)
    out += ",keep_alive_tmo=" + std::to_string(t.keep_alive_tmo);
  out += ",reconnect_delay=" + std::to_string(t.reconnect_delay);
  out += ",ctrl_loss_tmo=" + std::to_string(t.ctrl_loss_tmo);
  return outcome::success();
}

} // namespace rds::services::nvme
