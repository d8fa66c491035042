// The volume catalog: owns which volumes exist on the RDS, so ControllerPublishVolume answers
// NOT_FOUND for one that does not without a round trip per publish. It lists the RDS's volumes
// once at start; CreateVolume and DeleteVolume go through it, so it learns from their answers
// (a deleted volume is forgotten before the RDS is asked, so a publish meanwhile asks the RDS);
// it asks the rds actor only about a volume it does not know, and learns from that answer too.
// Its listener (the volume supervisor) is told each volume it learns and forgets, so that a
// publish of a volume it knows needs no question at all; the catalog's own set stays the truth.
// The listener subscribes with a message (it is spawned with the catalog, so the catalog cannot
// be spawned with it); without one, every publish asks, as it did before.
#pragma once

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "messages/actors.hpp"

namespace rds::actors {

/// Finds of one volume sent to the RDS and not answered yet.
struct lookups_in_flight {
  uint32_t count = 0;
  /// A delete of the volume started after one of them was sent: their "exists" may be older
  /// than the delete and is not learned.
  bool stale = false;
};

struct volume_catalog_state {
  static constexpr const char* name = "volume_catalog";
  std::unordered_set<std::string> known;
  /// The first list is done (or failed): requests are served.
  bool warm = false;
  /// Requests that came before.
  std::vector<std::function<void()>> waiting;
  std::unordered_map<std::string, lookups_in_flight> asking;
  /// The one listener told what it learns and forgets (see catalog_listener): none until one
  /// subscribes, a later subscription replaces it. Held by address, so that the listener (the
  /// volume supervisor, which holds the catalog) ends when it would without the catalog.
  caf::actor_addr listener;
};

/// `bound`: how long the first list may take, and any request that carries no deadline.
volume_catalog_actor::behavior_type
volume_catalog(volume_catalog_actor::stateful_pointer<volume_catalog_state> self, rds_actor rds,
               std::chrono::milliseconds bound);

} // namespace rds::actors
