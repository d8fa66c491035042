// The volume context and StorageClass parameters (messages/volume_context.cpp): read as
// StorageClass parameters, as a context the CO passes back, and checked for staging. Input:
// "key=value" lines.
#include "fuzz/input_text.hpp"
#include "messages/volume_context.hpp"

namespace {

bool same(const rds::volume_context& a, const rds::volume_context& b) {
  return a.nqn == b.nqn && a.nvme_address == b.nvme_address && a.nvme_port == b.nvme_port
         && a.migration_timeout == b.migration_timeout && a.ctrl_loss_tmo == b.ctrl_loss_tmo
         && a.reconnect_delay == b.reconnect_delay && a.keep_alive_tmo == b.keep_alive_tmo;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> values;
  for (auto& line : rds::fuzz::split(rds::fuzz::text_of(data, size), '\n')) {
    auto eq = line.find('=');
    if (eq != std::string::npos)
      values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  rds::context_defaults defaults;
  rds::volume_context context;
  if (rds::read_storage_class(values, defaults, context).ok()) {
    rds::volume_context again;
    if (!rds::read_volume_context(rds::context_of(context), defaults, again).ok()
        || !same(context, again))
      __builtin_trap(); // what CreateVolume hands back must read back as it was
  }
  rds::volume_context passed;
  if (rds::read_volume_context(values, defaults, passed).ok())
    rds::check_stage_context("pvc-0123", passed);
  auto id = values.count("volumeId") != 0 ? values["volumeId"] : std::string{"pvc-0123"};
  rds::volume_nqn(id);
  for (auto& [key, value] : values) {
    long long n = 0;
    if (rds::read_integer(value, -1000000, 1000000, n) && (n < -1000000 || n > 1000000))
      __builtin_trap();
  }
  return 0;
}
