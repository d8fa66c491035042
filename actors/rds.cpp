// CreateVolume and DeleteVolume against RouterOS: look up by slot, change, read back.
#include "actors/rds.hpp"

#include <algorithm>
#include <chrono>

#include "services/log/log.hpp"
#include "services/rds/disk.hpp"

namespace rds::actors {

namespace {

using namespace services::rds_api;
using clock_type = std::chrono::steady_clock;

volume_info info_of(const disk& d) {
  return volume_info{d.slot, d.file_size, d.nvme_tcp_server_nqn, d.nvme_tcp_server_port,
                     d.nvme_tcp_export};
}

outcome create(routeros_client& c, const rds_config& cfg, const create_volume_request& req,
               volume_info& out) {
  auto slot = slot_for(req.name);
  auto path = cfg.volume_base_path + "/" + slot + ".img";
  auto nqn = cfg.nqn_prefix + slot;
  std::optional<disk> existing;
  if (auto r = c.find_disk(slot, existing); !r.ok())
    return r;
  disk d;
  if (existing) {
    d = *existing;
    auto fits =
      d.file_size >= req.required_bytes && (req.limit_bytes == 0 || d.file_size <= req.limit_bytes);
    if (!fits || d.file_path != path)
      return outcome::failure(ec::already_exists, "");
  } else {
    disk wanted;
    wanted.slot = slot;
    wanted.file_path = path;
    wanted.file_size = req.size_bytes;
    if (auto r = c.add_disk(wanted, d); !r.ok())
      return r;
  }
  if (!d.nvme_tcp_export || d.nvme_tcp_server_nqn != nqn || d.nvme_tcp_server_port != cfg.nvme_port)
    if (auto r = c.set_export(d.id, true, cfg.nvme_port, nqn, d); !r.ok())
      return r;
  std::optional<disk> check;
  if (auto r = c.find_disk(slot, check); !r.ok())
    return r;
  if (!check || !check->nvme_tcp_export || check->nvme_tcp_server_nqn != nqn)
    return outcome::failure(ec::internal, "disk " + slot + " is not exported after being set up");
  out = info_of(*check);
  return outcome::success();
}

outcome remove(routeros_client& c, const rds_config& cfg, const std::string& volume_id) {
  std::optional<disk> existing;
  if (auto r = c.find_disk(volume_id, existing); !r.ok())
    return r;
  auto file_path = cfg.volume_base_path + "/" + volume_id + ".img";
  if (existing) {
    file_path = existing->file_path;
    disk ignored;
    if (existing->nvme_tcp_export)
      if (auto r = c.set_export(existing->id, false, cfg.nvme_port, "", ignored); !r.ok())
        return r;
    if (auto r = c.remove_disk(existing->id); !r.ok())
      return r;
  }
  // RouterOS leaves the backing file behind: remove it too (also after an interrupted delete).
  std::optional<file> backing;
  auto name = file_path.empty() || file_path.front() != '/' ? file_path : file_path.substr(1);
  if (auto r = c.find_file(name, backing); !r.ok())
    return r;
  if (backing)
    if (auto r = c.remove_file(backing->id); !r.ok())
      return r;
  std::optional<disk> check;
  if (auto r = c.find_disk(volume_id, check); !r.ok())
    return r;
  if (check)
    return outcome::failure(ec::internal, "disk " + volume_id + " is still there after removal");
  return outcome::success();
}

outcome expand(routeros_client& c, const std::string& volume_id, uint64_t bytes,
               uint64_t& capacity) {
  std::optional<disk> existing;
  if (auto r = c.find_disk(volume_id, existing); !r.ok())
    return r;
  if (!existing)
    return outcome::failure(ec::not_found, "volume " + volume_id + " does not exist on the RDS");
  if (existing->file_size < bytes) {
    disk grown;
    if (auto r = c.set_size(existing->id, bytes, grown); !r.ok())
      return r;
    std::optional<disk> check;
    if (auto r = c.find_disk(volume_id, check); !r.ok())
      return r;
    if (!check || check->file_size < bytes)
      return outcome::failure(ec::internal, "disk " + volume_id + " did not grow");
    existing = check;
  }
  capacity = existing->file_size;
  return outcome::success();
}

} // namespace

rds_actor::behavior_type rds(rds_actor::stateful_pointer<rds_state> self, rds_config config,
                             metrics_actor metrics) {
  auto observer = [self, metrics](const std::string& method, long status, double seconds) {
    self->send(metrics, rds_request_recorded{method, status == 0 ? "error" : std::to_string(status),
                                             seconds});
  };
  auto on_breaker = [self, metrics](breaker_state state) {
    auto value = state == breaker_state::closed ? 1.0 : state == breaker_state::open ? 0.0 : 0.5;
    self->send(metrics, rds_connection_changed{value});
    if (state == breaker_state::open)
      log::warning("the RDS failed repeatedly: requests are paused (circuit breaker open)");
    else if (state == breaker_state::closed)
      log::info("the RDS answers again (circuit breaker closed)");
  };
  self->state.client = std::make_unique<routeros_client>(config.connection, observer, on_breaker);
  auto record = [self, metrics](const char* operation, const outcome& result,
                                clock_type::time_point begin) {
    self->send(metrics, volume_operation_recorded{
                          operation, result.ok() ? "success" : to_string(result.code),
                          std::chrono::duration<double>(clock_type::now() - begin).count()});
  };
  return {
    [self, config, record](create_atom,
                           const create_volume_request& req) -> caf::result<outcome, volume_info> {
      auto begin = clock_type::now();
      volume_info info;
      auto result = create(*self->state.client, config, req, info);
      if (result.code == ec::already_exists)
        result = outcome::failure(ec::already_exists, "a volume named " + req.name
                                                        + " exists with another size or path");
      record("create", result, begin);
      if (!result.ok())
        log::warning("CreateVolume ", req.name, ": ", result.message);
      return {result, info};
    },
    [self, config](capacity_atom) -> caf::result<outcome, uint64_t> {
      auto pool = config.volume_base_path.substr(1, config.volume_base_path.find('/', 1) - 1);
      std::optional<disk> found;
      auto r = self->state.client->find_disk(pool, found);
      if (r.ok() && !found)
        r = outcome::failure(ec::not_found, "the RDS has no pool " + pool);
      return {r, r.ok() ? found->free : 0};
    },
    [self, record](expand_atom, const std::string& volume_id,
                   uint64_t bytes) -> caf::result<outcome, uint64_t> {
      auto begin = clock_type::now();
      uint64_t capacity = 0;
      auto result = expand(*self->state.client, volume_id, bytes, capacity);
      record("expand", result, begin);
      return {result, capacity};
    },
    [self](list_atom) -> caf::result<outcome, std::vector<volume_info>> {
      std::vector<disk> disks;
      auto r = self->state.client->list_file_disks(disks);
      std::vector<volume_info> volumes;
      for (auto& d : disks)
        if (d.slot.size() == max_slot_length && d.slot.rfind("csi-", 0) == 0)
          volumes.push_back(info_of(d));
      std::sort(volumes.begin(), volumes.end(), [](const volume_info& a, const volume_info& b) {
        return a.volume_id < b.volume_id;
      });
      return {r, std::move(volumes)};
    },
    [self, config, record](delete_atom, const std::string& volume_id) {
      auto begin = clock_type::now();
      auto result = remove(*self->state.client, config, volume_id);
      record("delete", result, begin);
      if (!result.ok())
        log::warning("DeleteVolume ", volume_id, ": ", result.message);
      return result;
    },
  };
}

} // namespace rds::actors
