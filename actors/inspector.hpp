// The inspector: builds the inspection port's answers by asking the actors for their status,
// each request with the port's deadline, and renders them as JSON. It never waits for an actor
// longer than the deadline: one that does not answer in time is shown as
// "no answer within N ms", never a hung page. It only asks; it changes nothing.
//
//   request --> fan out (one status request per actor, each with the deadline)
//           --> every answer or its timeout --> one JSON document --> reply
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "messages/actors.hpp"
#include "messages/debug_port.hpp"

namespace rds::actors {

struct inspector_config {
  /// How long each actor may take to answer.
  caf::timespan timeout = std::chrono::milliseconds{500};
  /// This plugin's node id (node mode), for /debug/node.
  std::string node_id;
};

/// The actors it asks; a handle is invalid when this plugin's mode does not run that actor.
struct inspector_targets {
  metrics_actor metrics;
  volume_supervisor_actor supervisor;
  volume_catalog_actor catalog;
  rds_actor rds;
  std::vector<cluster_watch_actor> watches;
  attachment_join_actor join;
  events_actor events;
  node_supervisor_actor node;
  state_feed_actor feed;
};

struct inspector_state {
  static constexpr const char* name = "inspector";
  /// Answers built so far (for its own status line in /debug/actors).
  uint64_t answered = 0;
};

inspector_actor::behavior_type inspector(inspector_actor::stateful_pointer<inspector_state> self,
                                         inspector_config config, inspector_targets targets);

/// What a status request that failed shows: "no answer within 500 ms" for a timeout.
std::string no_answer(const caf::error& e, caf::timespan timeout);

} // namespace rds::actors
