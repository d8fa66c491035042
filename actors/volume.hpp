// The volume actor: one per volume on the controller. It owns the volume's attachments and its
// migration timer, and serialises every publish and unpublish of that volume.
//
//                  publish(A)                 publish(B), RWX block
//   (detached) ---------------> attached(A) ----------------------------> migrating(A->B)
//        ^                       |     ^  ^                                 |   |   |
//        +--- unpublish(A) ------+     |  +---- unpublish(B): "failed" -----+   |   | timer
//                                      |                                        |   v
//                       attached(B) <--+--------- unpublish(A): "success" ------+  timed out
//
// Same node again: success. RWO and another node, or a third node: attached_elsewhere, naming
// the attached nodes. The timer only records "timeout" (once) and marks the state; it never
// detaches anything: only Kubernetes may detach.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/actors.hpp"

namespace rds::actors {

struct volume_state {
  static constexpr const char* name = "volume";
  attachment_state attachment;
  /// Where the volume's Events go; given at spawn.
  events_actor events;
};

/// Spawned by the volume supervisor with the volume's last known state (empty for a new one).
/// A state that is migrating gets its timer re-armed with the time that remains.
volume_actor::behavior_type volume(volume_actor::stateful_pointer<volume_state> self,
                                   attachment_state initial, volume_state_listener listener,
                                   metrics_actor metrics, events_actor events);

} // namespace rds::actors
