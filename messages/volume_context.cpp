// Reading the volume context and the StorageClass parameters.
#include "messages/volume_context.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <chrono>

namespace rds {

namespace {

outcome bad(std::string message) {
  return outcome::failure(ec::invalid_argument, std::move(message));
}

bool is_ip_literal(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

long long seconds_of(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t).count();
}

/// One optional whole-number value: absent leaves `out` as it is.
outcome read_int(const std::map<std::string, std::string>& values, const char* key, long long lo,
                 long long hi, const char* what, std::optional<int>& out) {
  auto i = values.find(key);
  if (i == values.end())
    return outcome::success();
  long long value = 0;
  if (!read_integer(i->second, lo, hi, value))
    return bad(std::string{key} + " '" + i->second + "' must be " + what + " from "
               + std::to_string(lo) + " to " + std::to_string(hi));
  out = static_cast<int>(value);
  return outcome::success();
}

outcome read_migration_timeout(const std::map<std::string, std::string>& values,
                               const migration_policy& policy, caf::timespan& out) {
  auto i = values.find(context_key::migration_timeout);
  if (i == values.end()) {
    out = policy.fallback;
    return outcome::success();
  }
  long long seconds = 0;
  if (!read_integer(i->second, seconds_of(policy.minimum), seconds_of(policy.maximum), seconds))
    return bad(std::string{context_key::migration_timeout} + " '" + i->second
               + "' must be a whole number of seconds from "
               + std::to_string(seconds_of(policy.minimum)) + " to "
               + std::to_string(seconds_of(policy.maximum)));
  out = std::chrono::seconds{seconds};
  return outcome::success();
}

/// The keys both readings share.
outcome read_common(const std::map<std::string, std::string>& values,
                    const context_defaults& defaults, volume_context& out) {
  out.nvme_address = defaults.nvme_address;
  if (auto i = values.find(context_key::nvme_address); i != values.end()) {
    if (!is_ip_literal(i->second))
      return bad(std::string{context_key::nvme_address} + " must be an IP address (got '"
                 + i->second + "')");
    out.nvme_address = i->second;
  }
  std::optional<int> port;
  if (auto r = read_int(values, context_key::nvme_port, 1, 65535, "a port", port); !r.ok())
    return r;
  out.nvme_port = port.value_or(4420);
  if (auto r = read_migration_timeout(values, defaults.migrations, out.migration_timeout); !r.ok())
    return r;
  if (auto r = read_int(values, context_key::ctrl_loss_tmo, -1, 1000000,
                        "a whole number of seconds (-1: reconnect forever)", out.ctrl_loss_tmo);
      !r.ok())
    return r;
  if (auto r = read_int(values, context_key::reconnect_delay, 1, 100000,
                        "a whole number of seconds", out.reconnect_delay);
      !r.ok())
    return r;
  return read_int(values, context_key::keep_alive_tmo, 0, 100000, "a whole number of seconds",
                  out.keep_alive_tmo);
}

} // namespace

std::string volume_nqn(const std::string& volume_id) {
  return std::string{volume_nqn_prefix} + volume_id;
}

bool read_integer(std::string_view text, long long lo, long long hi, long long& out) {
  if (text.empty())
    return false;
  long long value = 0;
  auto end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc{} || ptr != end || value < lo || value > hi)
    return false;
  out = value;
  return true;
}

outcome read_storage_class(const std::map<std::string, std::string>& parameters,
                           const context_defaults& defaults, volume_context& out) {
  out = volume_context{};
  for (auto& [key, value] : parameters) {
    if (key.rfind("csi.storage.k8s.io/", 0) == 0)
      continue; // the provisioner's own keys
    if (key == context_key::volume_path) {
      if (value != defaults.volume_base_path)
        return bad("parameter volumePath '" + value + "' is not this driver's volume base path "
                   + defaults.volume_base_path);
      continue;
    }
    if (key != context_key::nvme_address && key != context_key::nvme_port
        && key != context_key::migration_timeout && key != context_key::ctrl_loss_tmo
        && key != context_key::reconnect_delay && key != context_key::keep_alive_tmo)
      return bad("unknown StorageClass parameter '" + key + "'");
  }
  if (auto r = read_common(parameters, defaults, out); !r.ok())
    return bad("parameter " + r.message);
  return outcome::success();
}

outcome read_volume_context(const std::map<std::string, std::string>& context,
                            const context_defaults& defaults, volume_context& out) {
  out = volume_context{};
  if (auto i = context.find(context_key::nqn); i != context.end())
    out.nqn = i->second;
  if (auto r = read_common(context, defaults, out); !r.ok())
    return bad("volume context " + r.message);
  if (context.count(context_key::nvme_address) == 0)
    out.nvme_address.clear();
  return outcome::success();
}

outcome check_stage_context(const std::string& volume_id, const volume_context& context) {
  if (context.nqn.empty() || context.nvme_address.empty())
    return bad("volume context needs nqn and nvmeAddress (from CreateVolume)");
  if (context.nqn != volume_nqn(volume_id))
    return bad("volume context nqn '" + context.nqn + "' is not the NQN of volume " + volume_id);
  return outcome::success();
}

std::map<std::string, std::string> context_of(const volume_context& context) {
  std::map<std::string, std::string> out;
  if (!context.nqn.empty())
    out[context_key::nqn] = context.nqn;
  out[context_key::nvme_address] = context.nvme_address;
  out[context_key::nvme_port] = std::to_string(context.nvme_port);
  out[context_key::migration_timeout] = std::to_string(seconds_of(context.migration_timeout));
  if (context.ctrl_loss_tmo)
    out[context_key::ctrl_loss_tmo] = std::to_string(*context.ctrl_loss_tmo);
  if (context.reconnect_delay)
    out[context_key::reconnect_delay] = std::to_string(*context.reconnect_delay);
  if (context.keep_alive_tmo)
    out[context_key::keep_alive_tmo] = std::to_string(*context.keep_alive_tmo);
  return out;
}

} // namespace rds
