// The node supervisor: routes each node operation to its volume's node_volume actor, spawned on
// the first call for that volume. (A node_volume keeps no state the system does not show, so
// one that is lost is simply spawned again.) Its status shows each volume as its node_volume
// last reported it, so it answers at once, whatever the node_volumes are doing.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <string>

#include "actors/nvme_io.hpp"
#include "messages/actors.hpp"

namespace rds::actors {

struct node_supervisor_state {
  static constexpr const char* name = "node_supervisor";
  std::map<std::string, node_volume_actor> volumes;
  /// What each node_volume last reported.
  std::map<std::string, node_volume_status> states;
};

node_supervisor_actor::behavior_type
node_supervisor(node_supervisor_actor::stateful_pointer<node_supervisor_state> self,
                node_config config, metrics_actor metrics);

} // namespace rds::actors
