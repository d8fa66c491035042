// The node_volume actor: one per volume on a node. It serialises the volume's operations: one
// runs at a time in a fresh nvme_io actor, and a call that arrives meanwhile is ABORTED at once
// (the CO retries), so two stages or a stage and an unstage never race on one device. It keeps
// what its own operations did (staging path, targets, device) only to show it: every operation
// looks at the system itself. Each change of that is reported to its node supervisor.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <string>

#include "actors/nvme_io.hpp"
#include "messages/actors.hpp"

namespace rds::actors {

struct node_volume_state {
  static constexpr const char* name = "node_volume";
  /// The operation in flight ("stage", ...) and since when, the device, mounts and last result.
  node_volume_status status;
};

node_volume_actor::behavior_type
node_volume(node_volume_actor::stateful_pointer<node_volume_state> self, std::string volume_id,
            node_config config, metrics_actor metrics, node_volume_listener listener);

} // namespace rds::actors
