// The rds actor: one RouterOS session taken one request at a time, its circuit breaker, and
// copy workers for the requests that copy data. The RouterOS steps themselves are in
// services/rds/volume_steps.
#include "actors/rds.hpp"

#include <chrono>

#include "services/log/log.hpp"
#include "services/rds/disk.hpp"
#include "services/rds/volume_steps.hpp"

namespace rds::actors {

namespace {

using namespace services::rds_api;
using clock_type = std::chrono::steady_clock;

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
  // The steps refer to the client: both live as long as the handlers.
  auto steps = std::make_shared<volume_steps>(*client, config);
  return {
    [self, client, steps](create_atom,
                          const create_volume_request& req) -> caf::result<outcome, volume_info> {
      volume_info info;
      auto result = steps->create_volume(req, info);
      self->quit();
      return {result, info};
    },
    [self, client, steps](
      snapshot_atom, const create_snapshot_request& req) -> caf::result<outcome, snapshot_info> {
      snapshot_info info;
      auto result = steps->create_snapshot(req, info);
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
  self->state.steps = std::make_unique<volume_steps>(*self->state.client, config);
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
      auto done = [record, begin, name = req.name](const outcome& result) {
        record("create", result, begin);
        if (!result.ok())
          log::warning(log::field{"volume_name", name}, "CreateVolume: ", result.message);
        return result;
      };
      // A restore or clone copies data: in a worker, so nothing else waits for it.
      if (!req.source_snapshot_id.empty() || !req.source_volume_id.empty())
        return copy_in_worker<volume_info>(self, config, metrics, "volume " + req.name,
                                           create_atom_v, req, done);
      volume_info info;
      auto result = done(self->state.steps->create_volume(req, info));
      return {result, info};
    },
    [self](capacity_atom) -> caf::result<outcome, uint64_t> {
      uint64_t free = 0;
      auto r = self->state.steps->pool_free(free);
      return {r, free};
    },
    [self, record](expand_atom, const std::string& volume_id,
                   uint64_t bytes) -> caf::result<outcome, uint64_t> {
      auto begin = clock_type::now();
      uint64_t capacity = 0;
      auto result = self->state.steps->expand_volume(volume_id, bytes, capacity);
      record("expand", result, begin);
      return {result, capacity};
    },
    [self](list_atom) -> caf::result<outcome, std::vector<volume_info>> {
      std::vector<volume_info> volumes;
      auto r = self->state.steps->list_volumes(volumes);
      return {r, std::move(volumes)};
    },
    [self, record](delete_atom, const std::string& volume_id) {
      auto begin = clock_type::now();
      auto result = self->state.steps->delete_volume(volume_id);
      record("delete", result, begin);
      if (!result.ok())
        log::warning(log::volume(volume_id), "DeleteVolume: ", result.message);
      return result;
    },
    [self](find_atom, const std::string& volume_id) -> caf::result<outcome, volume_info> {
      std::optional<disk> found;
      auto result = self->state.steps->find_volume(volume_id, found);
      return {result, result.ok() ? info_of(*found) : volume_info{}};
    },
    [self, config, metrics, record](
      snapshot_atom, const create_snapshot_request& req) -> caf::result<outcome, snapshot_info> {
      auto begin = clock_type::now();
      auto done = [record, begin, name = req.name](const outcome& result) {
        record("snapshot", result, begin);
        if (!result.ok())
          log::warning(log::field{"snapshot_name", name}, "CreateSnapshot: ", result.message);
        return result;
      };
      // The copy takes as long as the data: in a worker, so nothing else waits for it.
      return copy_in_worker<snapshot_info>(self, config, metrics, "snapshot " + req.name,
                                           snapshot_atom_v, req, done);
    },
    [self, record](unsnapshot_atom, const std::string& snapshot_id) {
      auto begin = clock_type::now();
      auto result = self->state.steps->delete_snapshot(snapshot_id);
      record("delete_snapshot", result, begin);
      if (!result.ok())
        log::warning(log::field{"snapshot", snapshot_id}, "DeleteSnapshot: ", result.message);
      return result;
    },
    [self](status_atom) {
      auto state = self->state.client->breaker();
      return rds_status{state == breaker_state::closed ? "closed"
                        : state == breaker_state::open ? "open"
                                                       : "half-open",
                        {self->state.copying.begin(), self->state.copying.end()}};
    },
    [self](snapshots_atom) -> caf::result<outcome, std::vector<snapshot_info>> {
      std::vector<snapshot_info> snapshots;
      auto r = self->state.steps->list_snapshots(snapshots);
      return {r, std::move(snapshots)};
    },
  };
}

} // namespace rds::actors
