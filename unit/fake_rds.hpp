// A stand-in for the rds actor in unit tests: the real typed interface, answering from a set of
// volumes the test controls. It can say that the RDS cannot tell (unavailable), or hold its
// answers (an RDS that does not answer), and counts what it was asked.
#pragma once

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/monitorable_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "actors/volume_catalog.hpp"
#include "messages/actors.hpp"

namespace rds::test {

/// What the fake RDS holds and how it behaves; the test changes it between messages (the test
/// coordinator runs every actor on the test's own thread).
struct fake_rds_world {
  std::set<std::string> volumes;
  /// Every volume asked about exists (for tests of what comes after the existence check).
  bool every_volume_exists = false;
  /// Answer every request with unavailable (the RDS cannot tell).
  bool unavailable = false;
  /// Answer nothing: the requests wait in `held`.
  bool silent = false;
  std::vector<std::function<void()>> held;
  uint64_t finds = 0;
  uint64_t lists = 0;
  uint64_t creates = 0;
  uint64_t deletes = 0;

  bool has(const std::string& volume_id) const {
    return every_volume_exists || volumes.count(volume_id) != 0;
  }
};

using fake_rds_world_ptr = std::shared_ptr<fake_rds_world>;

inline outcome rds_cannot_tell() {
  return outcome::failure(ec::unavailable, "the fake RDS is unavailable");
}

inline volume_info fake_volume(const std::string& volume_id) {
  volume_info info;
  info.volume_id = volume_id;
  info.capacity_bytes = uint64_t{1} << 30;
  info.nqn = "nqn.2000-02.com.mikrotik:" + volume_id;
  info.exported = true;
  return info;
}

inline rds_actor::behavior_type fake_rds(rds_actor::pointer self, fake_rds_world_ptr world) {
  // Answers at once, or holds the promise (silent) so that the caller's timeout decides.
  auto answer = [self, world](auto promise, auto... reply) {
    if (world->silent)
      world->held.push_back([promise, reply...]() mutable { promise.deliver(reply...); });
    else
      promise.deliver(reply...);
    return promise;
  };
  auto not_served = [] { return outcome::failure(ec::internal, "not served by the fake RDS"); };
  return {
    [=](create_atom, const create_volume_request& req) -> caf::result<outcome, volume_info> {
      ++world->creates;
      auto promise = self->make_response_promise<outcome, volume_info>();
      if (world->unavailable)
        return answer(promise, rds_cannot_tell(), volume_info{});
      world->volumes.insert(req.name);
      return answer(promise, outcome::success(), fake_volume(req.name));
    },
    [=](delete_atom, const std::string& volume_id) -> caf::result<outcome> {
      ++world->deletes;
      auto promise = self->make_response_promise<outcome>();
      if (world->unavailable)
        return answer(promise, rds_cannot_tell());
      world->volumes.erase(volume_id);
      return answer(promise, outcome::success());
    },
    [=](find_atom, const std::string& volume_id) -> caf::result<outcome, volume_info> {
      ++world->finds;
      auto promise = self->make_response_promise<outcome, volume_info>();
      if (world->unavailable)
        return answer(promise, rds_cannot_tell(), volume_info{});
      if (!world->has(volume_id))
        return answer(promise,
                      outcome::failure(ec::not_found, "volume " + volume_id + " not found"),
                      volume_info{});
      return answer(promise, outcome::success(), fake_volume(volume_id));
    },
    [=](snapshot_atom, const create_snapshot_request&) -> caf::result<outcome, snapshot_info> {
      return {not_served(), snapshot_info{}};
    },
    [=](unsnapshot_atom, const std::string&) -> caf::result<outcome> { return not_served(); },
    [=](snapshots_atom) -> caf::result<outcome, std::vector<snapshot_info>> {
      return {not_served(), std::vector<snapshot_info>{}};
    },
    [=](status_atom) {
      rds_status s;
      s.breaker = "closed";
      return s;
    },
    [=](capacity_atom) -> caf::result<outcome, uint64_t> {
      return {not_served(), uint64_t{0}};
    },
    [=](expand_atom, const std::string&, uint64_t) -> caf::result<outcome, uint64_t> {
      return {not_served(), uint64_t{0}};
    },
    [=](list_atom) -> caf::result<outcome, std::vector<volume_info>> {
      ++world->lists;
      auto promise = self->make_response_promise<outcome, std::vector<volume_info>>();
      if (world->unavailable)
        return answer(promise, rds_cannot_tell(), std::vector<volume_info>{});
      std::vector<volume_info> volumes;
      for (auto& id : world->volumes)
        volumes.push_back(fake_volume(id));
      return answer(promise, outcome::success(), std::move(volumes));
    },
  };
}

/// A volume catalog over a fake RDS on which every volume exists: for tests of the supervisor
/// whose volumes are not in question. Both are linked to `lifetime` (say the fixture's metrics
/// actor) and end with it: a request timeout still pending on the clock keeps an actor alive.
template <class Handle>
volume_catalog_actor catalog_of_every_volume(caf::actor_system& sys, const Handle& lifetime) {
  auto world = std::make_shared<fake_rds_world>();
  world->every_volume_exists = true;
  auto rds = sys.spawn(fake_rds, world);
  auto catalog = sys.spawn(actors::volume_catalog, rds, std::chrono::milliseconds{15000});
  for (auto* actor :
       {caf::actor_cast<caf::abstract_actor*>(rds), caf::actor_cast<caf::abstract_actor*>(catalog)})
    dynamic_cast<caf::monitorable_actor&>(*actor).link_to(lifetime);
  return catalog;
}

} // namespace rds::test
