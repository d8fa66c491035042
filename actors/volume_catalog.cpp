// Answers from the set of known volumes; a volume it does not know is looked up on the RDS.
// Every request to the rds actor gets the time left until the deadline its caller carried.
#include "actors/volume_catalog.hpp"

#include <caf/sec.hpp>

#include <utility>

namespace rds::actors {

namespace {

using self_pointer = volume_catalog_actor::stateful_pointer<volume_catalog_state>;

/// Sends the listener a change, if it has one that is still there.
void tell(self_pointer self, known_volumes_change change) {
  if (auto listener = caf::actor_cast<catalog_listener>(self->state.listener))
    self->send(listener, known_atom_v, std::move(change));
}

/// Knows `volume_id` to exist from now on, and tells the listener if that is news.
void learn(self_pointer self, const std::string& volume_id) {
  if (!self->state.known.insert(volume_id).second || !self->state.listener)
    return;
  known_volumes_change change;
  change.known.push_back(volume_id);
  tell(self, std::move(change));
}

/// Forgets `volume_id`, and tells the listener if it knew the volume.
void forget(self_pointer self, const std::string& volume_id) {
  if (self->state.known.erase(volume_id) == 0 || !self->state.listener)
    return;
  known_volumes_change change;
  change.forgotten.push_back(volume_id);
  tell(self, std::move(change));
}

/// Tells the listener everything it knows (what the listener had is replaced).
void tell_everything(self_pointer self) {
  if (!self->state.listener)
    return;
  known_volumes_change change;
  change.everything = true;
  change.known.assign(self->state.known.begin(), self->state.known.end());
  tell(self, std::move(change));
}

/// Runs `work` now, or once the first list is done.
void when_warm(self_pointer self, std::function<void()> work) {
  if (self->state.warm)
    work();
  else
    self->state.waiting.push_back(std::move(work));
}

/// True (and the caller told) when the deadline has passed: nothing is asked any more.
template <class Promise> bool out_of_time(caf::timespan left, Promise& promise) {
  if (left > caf::timespan{0})
    return false;
  promise.deliver(caf::make_error(caf::sec::request_timeout));
  return true;
}

/// Asks the rds actor about one volume and learns from the answer: a volume that exists is
/// known from then on (unless a delete started meanwhile), one that does not is forgotten.
template <class Then, class Failed>
void ask_rds(self_pointer self, const rds_actor& rds, const std::string& volume_id,
             caf::timespan left, Then then, Failed failed) {
  ++self->state.asking[volume_id].count;
  auto answered = [self, volume_id] {
    auto i = self->state.asking.find(volume_id);
    auto stale = i->second.stale;
    if (--i->second.count == 0)
      self->state.asking.erase(i);
    return stale;
  };
  self->request(rds, left, find_atom_v, volume_id)
    .then(
      [self, volume_id, answered, then](const outcome& result, const volume_info& info) mutable {
        auto stale = answered();
        if (result.ok() && !stale)
          learn(self, volume_id);
        else if (result.code == ec::not_found)
          forget(self, volume_id);
        then(result, info);
      },
      [answered, failed](caf::error& failure) mutable {
        answered();
        failed(failure);
      });
}

void find(self_pointer self, const rds_actor& rds, caf::timespan bound,
          const volume_id_request& req, caf::typed_response_promise<outcome> promise) {
  if (self->state.known.count(req.volume_id) != 0) {
    promise.deliver(outcome::success());
    return;
  }
  auto left = time_left(self->clock(), req.deadline, bound);
  if (out_of_time(left, promise))
    return;
  ask_rds(
    self, rds, req.volume_id, left,
    [promise](const outcome& result, const volume_info&) mutable { promise.deliver(result); },
    [promise](const caf::error& failure) mutable {
      promise.deliver(
        outcome::failure(ec::unavailable, "cannot tell whether the volume exists: the RDS did "
                                          "not answer in time ("
                                            + caf::to_string(failure) + ")"));
    });
}

void describe(self_pointer self, const rds_actor& rds, caf::timespan bound,
              const volume_id_request& req,
              caf::typed_response_promise<outcome, volume_info> promise) {
  auto left = time_left(self->clock(), req.deadline, bound);
  if (out_of_time(left, promise))
    return;
  ask_rds(
    self, rds, req.volume_id, left,
    [promise](const outcome& result, const volume_info& info) mutable {
      promise.deliver(result, info);
    },
    [promise](caf::error& failure) mutable { promise.deliver(std::move(failure)); });
}

void create(self_pointer self, const rds_actor& rds, caf::timespan bound,
            const create_volume_request& req,
            caf::typed_response_promise<outcome, volume_info> promise) {
  auto left = time_left(self->clock(), req.deadline, bound);
  if (out_of_time(left, promise))
    return;
  self->request(rds, left, create_atom_v, req)
    .then(
      [self, promise](const outcome& result, const volume_info& info) mutable {
        if (result.ok())
          learn(self, info.volume_id);
        promise.deliver(result, info);
      },
      [promise](caf::error& failure) mutable { promise.deliver(std::move(failure)); });
}

void remove(self_pointer self, const rds_actor& rds, caf::timespan bound,
            const volume_id_request& req, caf::typed_response_promise<outcome> promise) {
  // Forgotten first (the listener is told before the RDS is asked): from now on a publish asks
  // the RDS, which deletes before it answers that.
  forget(self, req.volume_id);
  auto asking = self->state.asking.find(req.volume_id);
  if (asking != self->state.asking.end())
    asking->second.stale = true;
  auto left = time_left(self->clock(), req.deadline, bound);
  if (out_of_time(left, promise))
    return;
  self->request(rds, left, delete_atom_v, req.volume_id)
    .then([promise](const outcome& result) mutable { promise.deliver(result); },
          [promise](caf::error& failure) mutable { promise.deliver(std::move(failure)); });
}

} // namespace

volume_catalog_actor::behavior_type volume_catalog(self_pointer self, rds_actor rds,
                                                   std::chrono::milliseconds bound_ms) {
  caf::timespan bound = bound_ms;
  // Warm from one list at start, so publishes after a restart need no request of their own;
  // requests wait for it. If the RDS cannot be listed now, volumes are looked up one by one.
  auto warmed = [self] {
    self->state.warm = true;
    auto waiting = std::move(self->state.waiting);
    self->state.waiting.clear();
    for (auto& work : waiting)
      work();
  };
  self->request(rds, bound, list_atom_v)
    .then(
      [self, warmed](const outcome& result, const std::vector<volume_info>& volumes) {
        if (result.ok()) {
          for (auto& v : volumes)
            self->state.known.insert(v.volume_id);
          tell_everything(self);
        }
        warmed();
      },
      [warmed](caf::error&) { warmed(); });
  return {
    [self, rds, bound](find_atom, const volume_id_request& req) -> caf::result<outcome> {
      auto promise = self->make_response_promise<outcome>();
      when_warm(self, [=] { find(self, rds, bound, req, promise); });
      return promise;
    },
    [self, rds, bound](describe_atom,
                       const volume_id_request& req) -> caf::result<outcome, volume_info> {
      auto promise = self->make_response_promise<outcome, volume_info>();
      when_warm(self, [=] { describe(self, rds, bound, req, promise); });
      return promise;
    },
    [self, rds, bound](create_atom,
                       const create_volume_request& req) -> caf::result<outcome, volume_info> {
      auto promise = self->make_response_promise<outcome, volume_info>();
      when_warm(self, [=] { create(self, rds, bound, req, promise); });
      return promise;
    },
    [self, rds, bound](delete_atom, const volume_id_request& req) -> caf::result<outcome> {
      auto promise = self->make_response_promise<outcome>();
      when_warm(self, [=] { remove(self, rds, bound, req, promise); });
      return promise;
    },
    [self](known_atom, const catalog_listener& listener) {
      self->state.listener = listener.address();
      tell_everything(self);
    },
    [self](status_atom) {
      auto& st = self->state;
      return catalog_status{st.known.size(), st.warm, st.waiting.size(), st.asking.size(),
                            own_mailbox(self)};
    },
  };
}

} // namespace rds::actors
