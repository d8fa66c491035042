// The rds actor: one RouterOS session taken one request at a time, its circuit breaker, and
// copy workers for the requests that copy data. The RouterOS steps themselves are in
// services/rds/volume_steps.
#include "actors/rds.hpp"
#include "actors/thread_crypto.hpp"

#include <chrono>
#include <type_traits>

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
caf::result<outcome, Info> copy_in_worker(rds_owner_actor::stateful_pointer<rds_state> self,
                                          const rds_config& config, const metrics_actor& metrics,
                                          const std::string& key, Atom atom, const Request& req,
                                          Done done) {
  auto operation = std::is_same<Atom, snapshot_atom>::value ? "snapshot" : "create";
  if (!self->state.copying
         .emplace(key, rds_request_status{operation, req.name, caf::make_timestamp()})
         .second)
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

/// Hands `xs...` to the session worker, keeps it in flight until the answer and answers with
/// it. `Result...` is what the request replies besides the outcome.
template <class... Result, class... Ts>
caf::typed_response_promise<outcome, Result...>
on_session(rds_owner_actor::stateful_pointer<rds_state> self, const char* operation,
           std::string target, Ts... xs) {
  auto promise = self->template make_response_promise<outcome, Result...>();
  auto id = self->state.next_request++;
  self->state.in_flight.emplace(
    id, rds_request_status{operation, std::move(target), caf::make_timestamp()});
  auto finish = [self, id] {
    self->state.in_flight.erase(id);
    ++self->state.answered;
  };
  self->request(self->state.session, caf::infinite, xs...)
    .then(
      [promise, finish](const outcome& r, const Result&... rest) mutable {
        finish();
        promise.deliver(r, rest...);
      },
      [promise, finish](caf::error& failure) mutable {
        finish();
        promise.deliver(
          outcome::failure(ec::internal, "the RDS session failed: " + caf::to_string(failure)),
          Result{}...);
      });
  return promise;
}

const char* breaker_name(breaker_state state) {
  return state == breaker_state::closed ? "closed"
         : state == breaker_state::open ? "open"
                                        : "half-open";
}

/// The session worker: every request that does not copy data, one at a time.
rds_session_actor::behavior_type
rds_session(rds_session_actor::stateful_pointer<rds_session_state> self, rds_config config,
            metrics_actor metrics, rds_owner_actor owner) {
  auto observer = observe_requests(self, metrics);
  auto on_breaker = [self, metrics, owner](breaker_state state) {
    auto value = state == breaker_state::closed ? 1.0 : state == breaker_state::open ? 0.0 : 0.5;
    self->send(metrics, rds_connection_changed{value});
    self->send(owner, rds_breaker_moved{breaker_name(state)});
    if (state == breaker_state::open)
      log::warning("the RDS failed repeatedly: requests are paused (circuit breaker open)");
    else if (state == breaker_state::closed)
      log::info("the RDS answers again (circuit breaker closed)");
  };
  self->state.client = std::make_unique<routeros_client>(config.connection, observer, on_breaker);
  release_thread_crypto_on_exit(self);
  self->state.steps = std::make_unique<volume_steps>(*self->state.client, config);
  auto record = [self, metrics](const char* operation, const outcome& result,
                                clock_type::time_point begin) {
    self->send(metrics, volume_operation_recorded{
                          operation, result.ok() ? "success" : to_string(result.code),
                          std::chrono::duration<double>(clock_type::now() - begin).count()});
  };
  return {
    [self, record](create_atom,
                   const create_volume_request& req) -> caf::result<outcome, volume_info> {
      auto begin = clock_type::now();
      volume_info info;
      auto result = self->state.steps->create_volume(req, info);
      record("create", result, begin);
      if (!result.ok())
        log::warning(log::field{"volume_name", req.name}, "CreateVolume: ", result.message);
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
    [self, record](unsnapshot_atom, const std::string& snapshot_id) {
      auto begin = clock_type::now();
      auto result = self->state.steps->delete_snapshot(snapshot_id);
      record("delete_snapshot", result, begin);
      if (!result.ok())
        log::warning(log::field{"snapshot", snapshot_id}, "DeleteSnapshot: ", result.message);
      return result;
    },
    [self](snapshots_atom) -> caf::result<outcome, std::vector<snapshot_info>> {
      std::vector<snapshot_info> snapshots;
      auto r = self->state.steps->list_snapshots(snapshots);
      return {r, std::move(snapshots)};
    },
  };
}

} // namespace

rds_owner_actor::behavior_type rds(rds_owner_actor::stateful_pointer<rds_state> self,
                                   rds_config config, metrics_actor metrics) {
  // Linked: the session ends with the rds actor (after the request it is running).
  self->state.session = self->spawn<caf::detached + caf::linked>(
    rds_session, config, metrics, caf::actor_cast<rds_owner_actor>(self));
  auto record = [self, metrics](const char* operation, const outcome& result,
                                clock_type::time_point begin) {
    self->send(metrics, volume_operation_recorded{
                          operation, result.ok() ? "success" : to_string(result.code),
                          std::chrono::duration<double>(clock_type::now() - begin).count()});
  };
  return {
    [self, config, metrics,
     record](create_atom, const create_volume_request& req) -> caf::result<outcome, volume_info> {
      // A restore or clone copies data: in a worker, so nothing else waits for it.
      if (!req.source_snapshot_id.empty() || !req.source_volume_id.empty()) {
        auto begin = clock_type::now();
        auto done = [record, begin, name = req.name](const outcome& result) {
          record("create", result, begin);
          if (!result.ok())
            log::warning(log::field{"volume_name", name}, "CreateVolume: ", result.message);
          return result;
        };
        return copy_in_worker<volume_info>(self, config, metrics, "volume " + req.name,
                                           create_atom_v, req, done);
      }
      return on_session<volume_info>(self, "create", req.name, create_atom_v, req);
    },
    [self](capacity_atom a) { return on_session<uint64_t>(self, "capacity", "", a); },
    [self](expand_atom a, const std::string& volume_id, uint64_t bytes) {
      return on_session<uint64_t>(self, "expand", volume_id, a, volume_id, bytes);
    },
    [self](list_atom a) { return on_session<std::vector<volume_info>>(self, "list", "", a); },
    [self](delete_atom a, const std::string& volume_id) {
      return on_session<>(self, "delete", volume_id, a, volume_id);
    },
    [self](find_atom a, const std::string& volume_id) {
      return on_session<volume_info>(self, "find", volume_id, a, volume_id);
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
    [self](unsnapshot_atom a, const std::string& snapshot_id) {
      return on_session<>(self, "unsnapshot", snapshot_id, a, snapshot_id);
    },
    [self](status_atom) {
      auto& st = self->state;
      rds_status s;
      s.breaker = st.breaker;
      s.breaker_since = st.breaker_since;
      for (auto& [key, copy] : st.copying) {
        s.copying.push_back(key);
        s.copies.push_back(copy);
      }
      for (auto& [id, request] : st.in_flight)
        s.in_flight.push_back(request);
      s.answered = st.answered;
      s.mailbox = own_mailbox(self);
      return s;
    },
    [self](snapshots_atom a) {
      return on_session<std::vector<snapshot_info>>(self, "snapshots", "", a);
    },
    [self](const rds_breaker_moved& moved) {
      self->state.breaker = moved.state;
      self->state.breaker_since = caf::make_timestamp();
    },
  };
}

} // namespace rds::actors
