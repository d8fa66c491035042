// Answers from the set of known volumes; a volume it does not know is looked up on the RDS.
#include "actors/volume_catalog.hpp"

namespace rds::actors {

namespace {

using self_pointer = volume_catalog_actor::stateful_pointer<volume_catalog_state>;

void look_up(self_pointer self, const rds_actor& rds, std::chrono::milliseconds timeout,
             const std::string& volume_id, caf::typed_response_promise<outcome> promise) {
  if (self->state.known.count(volume_id) != 0) {
    promise.deliver(outcome::success());
    return;
  }
  self->request(rds, timeout, find_atom_v, volume_id)
    .then(
      [self, promise, volume_id](const outcome& result, const volume_info&) mutable {
        // Only a volume that exists is remembered: one that does not may be created.
        if (result.ok())
          self->state.known.insert(volume_id);
        promise.deliver(result);
      },
      [promise](caf::error& failure) mutable {
        promise.deliver(
          outcome::failure(ec::unavailable, "cannot tell whether the volume exists: the RDS did "
                                            "not answer in time ("
                                              + caf::to_string(failure) + ")"));
      });
}

} // namespace

volume_catalog_actor::behavior_type volume_catalog(self_pointer self, rds_actor rds,
                                                   std::chrono::milliseconds lookup_timeout) {
  // Warm from one list at start, so publishes after a restart need no request of their own;
  // lookups wait for it. If the RDS cannot be listed now, volumes are looked up one by one.
  auto warmed = [self, rds, lookup_timeout] {
    self->state.warm = true;
    for (auto& [volume_id, promise] : self->state.waiting)
      look_up(self, rds, lookup_timeout, volume_id, promise);
    self->state.waiting.clear();
  };
  self->request(rds, lookup_timeout, list_atom_v)
    .then(
      [self, warmed](const outcome& result, const std::vector<volume_info>& volumes) {
        if (result.ok())
          for (auto& v : volumes)
            self->state.known.insert(v.volume_id);
        warmed();
      },
      [warmed](caf::error&) { warmed(); });
  return {
    [self, rds, lookup_timeout](find_atom, const std::string& volume_id) -> caf::result<outcome> {
      auto promise = self->make_response_promise<outcome>();
      if (!self->state.warm)
        self->state.waiting.emplace_back(volume_id, promise);
      else
        look_up(self, rds, lookup_timeout, volume_id, promise);
      return promise;
    },
    [self](known_atom, const std::string& volume_id) { self->state.known.insert(volume_id); },
    [self](gone_atom, const std::string& volume_id) { self->state.known.erase(volume_id); },
    [self](status_atom) { return static_cast<uint64_t>(self->state.known.size()); },
  };
}

} // namespace rds::actors
