// CreateVolume and DeleteVolume against RouterOS: look up by slot, change, read back.
#include "actors/rds.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>

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

/// Where a volume's file goes: "<base>/<slot>.img", or "<base>/<slot>.<source>.img" for one
/// made from a snapshot or a volume, so the source is on the device and a retry with another
/// source is told apart.
std::string volume_path(const rds_config& cfg, const std::string& slot, const std::string& source) {
  return cfg.volume_base_path + "/" + slot + (source.empty() ? "" : "." + source) + ".img";
}

/// A snapshot's file records its source volume and when it was cut:
/// "<base>/<snapshot slot>.<volume slot>.<unix seconds>.img".
std::string snapshot_path(const rds_config& cfg, const std::string& slot, const std::string& source,
                          int64_t created_at) {
  return cfg.volume_base_path + "/" + slot + "." + source + "." + std::to_string(created_at)
         + ".img";
}

/// Reads a snapshot disk back; false if its path is not one snapshot_path() makes.
bool snapshot_of(const rds_config& cfg, const disk& d, snapshot_info& out) {
  // A copy in progress ("tmp-") already has the file name of the snapshot it becomes.
  auto id = d.slot.size() == max_slot_length ? snapshot_prefix + d.slot.substr(4) : d.slot;
  auto prefix = cfg.volume_base_path + "/" + id + ".";
  if (d.file_path.rfind(prefix, 0) != 0 || d.file_path.size() < prefix.size() + 4
      || d.file_path.compare(d.file_path.size() - 4, 4, ".img") != 0)
    return false;
  auto rest = d.file_path.substr(prefix.size(), d.file_path.size() - prefix.size() - 4);
  auto dot = rest.find('.');
  if (dot == std::string::npos)
    return false;
  auto source = rest.substr(0, dot);
  uint64_t created = 0;
  if (!has_slot_shape(source, volume_prefix) || !parse_bytes(rest.substr(dot + 1), created))
    return false;
  out = snapshot_info{id, source, d.file_size, static_cast<int64_t>(created)};
  return true;
}

outcome not_found(const std::string& what) {
  return outcome::failure(ec::not_found, what + " does not exist on the RDS");
}

/// A volume that exists: its disk is there and exported (a disk without export is a create
/// that has not finished).
outcome find_volume(routeros_client& c, const std::string& volume_id, std::optional<disk>& out) {
  out.reset();
  if (!has_slot_shape(volume_id, volume_prefix))
    return not_found("volume " + volume_id);
  if (auto r = c.find_disk(volume_id, out); !r.ok())
    return r;
  if (!out || !out->nvme_tcp_export)
    return not_found("volume " + volume_id);
  return outcome::success();
}

outcome find_snapshot(routeros_client& c, const rds_config& cfg, const std::string& snapshot_id,
                      disk& found, snapshot_info& out) {
  std::optional<disk> d;
  if (!has_slot_shape(snapshot_id, snapshot_prefix))
    return not_found("snapshot " + snapshot_id);
  if (auto r = c.find_disk(snapshot_id, d); !r.ok())
    return r;
  if (!d)
    return not_found("snapshot " + snapshot_id);
  if (!snapshot_of(cfg, *d, out))
    return outcome::failure(ec::internal, "snapshot disk " + snapshot_id + " has a file path ("
                                            + d->file_path + ") this driver did not make");
  found = *d;
  return outcome::success();
}

outcome create(routeros_client& c, const rds_config& cfg, const create_volume_request& req,
               volume_info& out) {
  auto slot = slot_for(req.name);
  auto source = !req.source_snapshot_id.empty() ? req.source_snapshot_id : req.source_volume_id;
  auto path = volume_path(cfg, slot, source);
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
  }
  // The content to copy, unless an exported disk says the copy was done.
  std::optional<disk> from;
  if (!source.empty() && !(existing && existing->nvme_tcp_export)) {
    if (!req.source_snapshot_id.empty()) {
      snapshot_info ignored;
      disk snapshot;
      if (auto r = find_snapshot(c, cfg, req.source_snapshot_id, snapshot, ignored); !r.ok())
        return r;
      from = snapshot;
    } else if (auto r = find_volume(c, req.source_volume_id, from); !r.ok()) {
      return r;
    }
  }
  if (!existing) {
    disk wanted;
    wanted.slot = slot;
    wanted.file_path = path;
    wanted.file_size = req.size_bytes;
    if (from) {
      // At least the source's size; exactly that when no size was asked for.
      wanted.file_size =
        req.required_bytes == 0 ? from->file_size : std::max(req.size_bytes, from->file_size);
      if (req.limit_bytes != 0 && wanted.file_size > req.limit_bytes)
        return outcome::failure(ec::out_of_range, "the source holds "
                                                    + std::to_string(from->file_size)
                                                    + " bytes, more than limit_bytes allows");
    }
    if (auto r = c.add_disk(wanted, d); !r.ok()) {
      // The same PUT may have been carried out once already (its answer lost on the way): the
      // driver's own disk, with the path it asked for, is that create, not a conflict.
      std::optional<disk> again;
      if (r.message.find("already exists") == std::string::npos || !c.find_disk(slot, again).ok()
          || !again || again->file_path != path)
        return r;
      d = *again;
    }
  }
  if (from)
    if (auto r = c.copy_disk(from->slot, slot); !r.ok())
      return r;
  // Exported last: an exported disk is a finished one.
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

/// Removes the disk with this slot and its backing file. Without the disk (an interrupted
/// removal), files named after the slot in the base path are removed.
outcome remove(routeros_client& c, const rds_config& cfg, const std::string& slot) {
  std::optional<disk> existing;
  if (auto r = c.find_disk(slot, existing); !r.ok())
    return r;
  // RouterOS leaves the backing file behind: it goes too.
  std::vector<file> backing;
  auto relative = [](const std::string& path) {
    return path.empty() || path.front() != '/' ? path : path.substr(1);
  };
  if (existing) {
    disk ignored;
    if (existing->nvme_tcp_export)
      if (auto r = c.set_export(existing->id, false, cfg.nvme_port, "", ignored); !r.ok())
        return r;
    if (auto r = c.remove_disk(existing->id); !r.ok())
      return r;
    std::optional<file> f;
    if (auto r = c.find_file(relative(existing->file_path), f); !r.ok())
      return r;
    if (f)
      backing.push_back(*f);
  } else {
    // An interrupted delete: the files named after the slot.
    auto prefix = relative(cfg.volume_base_path + "/" + slot + ".");
    std::vector<file> files;
    if (auto r = c.list_files(files); !r.ok())
      return r;
    for (auto& f : files)
      if (f.name.rfind(prefix, 0) == 0 && f.name.size() > 4
          && f.name.compare(f.name.size() - 4, 4, ".img") == 0)
        backing.push_back(f);
  }
  for (auto& f : backing)
    if (auto r = c.remove_file(f.id); !r.ok())
      return r;
  std::optional<disk> check;
  if (auto r = c.find_disk(slot, check); !r.ok())
    return r;
  if (check)
    return outcome::failure(ec::internal, "disk " + slot + " is still there after removal");
  return outcome::success();
}

outcome snapshot(routeros_client& c, const rds_config& cfg, const create_snapshot_request& req,
                 snapshot_info& out) {
  auto slot = slot_for(req.name, snapshot_prefix);
  auto partial = slot_for(req.name, partial_snapshot_prefix);
  disk done;
  auto found = find_snapshot(c, cfg, slot, done, out);
  if (found.ok())
    return out.source_volume_id == req.source_volume_id
             ? outcome::success()
             : outcome::failure(ec::already_exists, "a snapshot named " + req.name
                                                      + " exists of another volume ("
                                                      + out.source_volume_id + ")");
  if (found.code != ec::not_found)
    return found;
  std::optional<disk> source;
  if (auto r = find_volume(c, req.source_volume_id, source); !r.ok())
    return r;
  // A copy that did not finish is started again; one of another source is dropped first.
  std::optional<disk> pending;
  if (auto r = c.find_disk(partial, pending); !r.ok())
    return r;
  snapshot_info pending_info;
  if (pending
      && !(snapshot_of(cfg, *pending, pending_info)
           && pending_info.source_volume_id == req.source_volume_id
           && pending->file_size >= source->file_size)) {
    if (auto r = remove(c, cfg, partial); !r.ok())
      return r;
    pending.reset();
  }
  disk copy;
  if (pending) {
    copy = *pending;
  } else {
    disk wanted;
    wanted.slot = partial;
    wanted.file_size = source->file_size;
    wanted.file_path = snapshot_path(cfg, slot, req.source_volume_id, std::time(nullptr));
    if (auto r = c.add_disk(wanted, copy); !r.ok())
      return r;
  }
  if (auto r = c.copy_disk(source->slot, partial); !r.ok())
    return r;
  // The new name marks the copy as complete.
  disk renamed;
  if (auto r = c.set_slot(copy.id, slot, renamed); !r.ok())
    return r;
  if (auto r = find_snapshot(c, cfg, slot, done, out); !r.ok())
    return r.code == ec::not_found
             ? outcome::failure(ec::internal, "snapshot " + slot + " is not there after the copy")
             : r;
  return outcome::success();
}

outcome expand(routeros_client& c, const std::string& volume_id, uint64_t bytes,
               uint64_t& capacity) {
  std::optional<disk> existing;
  if (auto r = find_volume(c, volume_id, existing); !r.ok())
    return r;
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

/// Observes a client's requests into rds_csi_rds_requests_total.
template <class Self> request_observer observe_requests(Self* self, const metrics_actor& metrics) {
  return [self, metrics](const std::string& method, long status, double seconds) {
    self->send(metrics, rds_request_recorded{method, status == 0 ? "error" : std::to_string(status),
                                             seconds});
  };
}

/// One copy, then the worker ends.
rds_copy_actor::behavior_type rds_copy(rds_copy_actor::pointer self, rds_config config,
                                       metrics_actor metrics) {
  auto client =
    std::make_shared<routeros_client>(config.connection, observe_requests(self, metrics));
  return {
    [=](create_atom, const create_volume_request& req) -> caf::result<outcome, volume_info> {
      volume_info info;
      auto result = create(*client, config, req, info);
      self->quit();
      return {result, info};
    },
    [=](snapshot_atom, const create_snapshot_request& req) -> caf::result<outcome, snapshot_info> {
      snapshot_info info;
      auto result = snapshot(*client, config, req, info);
      self->quit();
      return {result, info};
    },
  };
}

/// Runs `req` in a copy worker unless a copy under `key` is running (then ABORTED); `done`
/// turns the worker's outcome into the answer (messages, metrics).
template <class Info, class Atom, class Request, class Done>
caf::result<outcome, Info> copy_in_worker(rds_actor::stateful_pointer<rds_state> self,
                                          const rds_config& config, const metrics_actor& metrics,
                                          const std::string& key, Atom atom, const Request& req,
                                          Done done) {
  if (!self->state.copying.insert(key).second)
    return {outcome::failure(ec::aborted, key + " is still being copied: try again later"), Info{}};
  auto promise = self->make_response_promise<outcome, Info>();
  auto worker = self->home_system().spawn<caf::detached>(rds_copy, config, metrics);
  self->request(worker, caf::infinite, atom, req)
    .then(
      [=](const outcome& result, const Info& info) mutable {
        self->state.copying.erase(key);
        promise.deliver(done(result), info);
      },
      [=](caf::error& failure) mutable {
        self->state.copying.erase(key);
        promise.deliver(done(outcome::failure(ec::internal, "the copy worker failed: "
                                                              + caf::to_string(failure))),
                        Info{});
      });
  return promise;
}

} // namespace

rds_actor::behavior_type rds(rds_actor::stateful_pointer<rds_state> self, rds_config config,
                             metrics_actor metrics) {
  auto observer = observe_requests(self, metrics);
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
    [self, config, metrics,
     record](create_atom, const create_volume_request& req) -> caf::result<outcome, volume_info> {
      auto begin = clock_type::now();
      auto done = [record, begin, name = req.name](outcome result) {
        if (result.code == ec::already_exists)
          result =
            outcome::failure(ec::already_exists, "a volume named " + name
                                                   + " exists with another size, path or source");
        record("create", result, begin);
        if (!result.ok())
          log::warning("CreateVolume ", name, ": ", result.message);
        return result;
      };
      // A restore or clone copies data: in a worker, so nothing else waits for it.
      if (!req.source_snapshot_id.empty() || !req.source_volume_id.empty())
        return copy_in_worker<volume_info>(self, config, metrics, "volume " + req.name,
                                           create_atom_v, req, done);
      volume_info info;
      auto result = done(create(*self->state.client, config, req, info));
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
        if (has_slot_shape(d.slot, volume_prefix) && d.nvme_tcp_export)
          volumes.push_back(info_of(d));
      std::sort(volumes.begin(), volumes.end(), [](const volume_info& a, const volume_info& b) {
        return a.volume_id < b.volume_id;
      });
      return {r, std::move(volumes)};
    },
    [self, config, record](delete_atom, const std::string& volume_id) {
      auto begin = clock_type::now();
      // An id this driver never made names no volume of its own: nothing to delete.
      auto result = has_slot_shape(volume_id, volume_prefix)
                      ? remove(*self->state.client, config, volume_id)
                      : outcome::success();
      record("delete", result, begin);
      if (!result.ok())
        log::warning("DeleteVolume ", volume_id, ": ", result.message);
      return result;
    },
    [self](find_atom, const std::string& volume_id) -> caf::result<outcome, volume_info> {
      std::optional<disk> found;
      auto result = find_volume(*self->state.client, volume_id, found);
      return {result, result.ok() ? info_of(*found) : volume_info{}};
    },
    [self, config, metrics, record](
      snapshot_atom, const create_snapshot_request& req) -> caf::result<outcome, snapshot_info> {
      auto begin = clock_type::now();
      auto done = [record, begin, name = req.name](const outcome& result) {
        record("snapshot", result, begin);
        if (!result.ok())
          log::warning("CreateSnapshot ", name, ": ", result.message);
        return result;
      };
      // The copy takes as long as the data: in a worker, so nothing else waits for it.
      return copy_in_worker<snapshot_info>(self, config, metrics, "snapshot " + req.name,
                                           snapshot_atom_v, req, done);
    },
    [self, config, record](unsnapshot_atom, const std::string& snapshot_id) {
      auto begin = clock_type::now();
      auto result = outcome::success();
      if (has_slot_shape(snapshot_id, snapshot_prefix)) {
        // With the snapshot goes a copy of the same name that never finished.
        result = remove(*self->state.client, config, snapshot_id);
        if (result.ok())
          result =
            remove(*self->state.client, config, partial_snapshot_prefix + snapshot_id.substr(4));
      }
      record("delete_snapshot", result, begin);
      if (!result.ok())
        log::warning("DeleteSnapshot ", snapshot_id, ": ", result.message);
      return result;
    },
    [self](status_atom) {
      auto state = self->state.client->breaker();
      return rds_status{state == breaker_state::closed ? "closed"
                        : state == breaker_state::open ? "open"
                                                       : "half-open",
                        {self->state.copying.begin(), self->state.copying.end()}};
    },
    [self, config](snapshots_atom) -> caf::result<outcome, std::vector<snapshot_info>> {
      std::vector<disk> disks;
      auto r = self->state.client->list_file_disks(disks);
      std::vector<snapshot_info> snapshots;
      snapshot_info info;
      for (auto& d : disks)
        if (has_slot_shape(d.slot, snapshot_prefix) && snapshot_of(config, d, info))
          snapshots.push_back(info);
      std::sort(snapshots.begin(), snapshots.end(),
                [](const snapshot_info& a, const snapshot_info& b) {
                  return a.snapshot_id < b.snapshot_id;
                });
      return {r, std::move(snapshots)};
    },
  };
}

} // namespace rds::actors
