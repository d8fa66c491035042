// The volume catalog: which volumes exist on the RDS, so ControllerPublishVolume answers
// NOT_FOUND for one that does not without a round trip per publish. It lists the RDS's volumes
// once at start, learns new ones from CreateVolume and lookups, forgets them on DeleteVolume,
// and asks the rds actor only about a volume it has not seen.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "messages/actors.hpp"

namespace rds::actors {

struct volume_catalog_state {
  static constexpr const char* name = "volume_catalog";
  std::unordered_set<std::string> known;
  /// The first list is done (or failed): lookups are answered.
  bool warm = false;
  /// Lookups that came before.
  std::vector<std::pair<std::string, caf::typed_response_promise<outcome>>> waiting;
};

volume_catalog_actor::behavior_type
volume_catalog(volume_catalog_actor::stateful_pointer<volume_catalog_state> self, rds_actor rds,
               std::chrono::milliseconds lookup_timeout);

} // namespace rds::actors
