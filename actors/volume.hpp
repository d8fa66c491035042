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

#include <cstdint>
#include <string>
#include <vector>

#include "messages/actors.hpp"
#include "messages/error_code.hpp"
#include "messages/inspection.hpp"

namespace rds::actors {

/// What an operation in the ring was.
enum class operation_kind : uint8_t {
  publish,
  unpublish,
  follow_attach,
  follow_detach,
  follow_list,
  timer,
  /// The actor was restarted after its predecessor crashed.
  restart,
};

/// "publish", "follow-attach", ...: the names volume_operation::kind uses.
const char* to_string(operation_kind kind);

/// The last `volume_operation_ring` operations of one volume, kept compact because every volume
/// actor has one: 16 bytes a record, the records allocated as the ring fills (one, then four at
/// a time, never more than 32, nothing before the first), and each node name once, length-prefixed
/// in one buffer the records point into (a short name stays inside the string itself). Expanded
/// into volume_operations only when someone inspects the volume.
class operation_ring {
 public:
  void record(operation_kind kind, const std::string& node_id, ec result, caf::timespan duration,
              caf::timestamp at);
  /// Oldest first.
  std::vector<volume_operation> recent() const;
  size_t size() const { return records_.size(); }
  /// Heap bytes the ring holds (its records and its name buffer), for the memory figures.
  size_t heap_bytes() const;

 private:
  static constexpr uint8_t no_node = 0xff;
  struct record_type {
    /// Wall clock, nanoseconds since the epoch.
    int64_t at_ns = 0;
    /// Microseconds, saturated at about 71 minutes.
    uint32_t duration_us = 0;
    operation_kind kind = operation_kind::publish;
    ec result = ec::none;
    /// Index of a name in names_, or no_node.
    uint8_t node = no_node;
  };
  static_assert(sizeof(record_type) == 16, "a ring record stays at 16 bytes");
  /// The index of `node_id` in names_, adding it (in place of a name no record uses) if new.
  /// Called after the record it replaces, if any, has been given up.
  uint8_t node_index(const std::string& node_id);
  /// The `index`-th name of names_.
  std::string name_at(uint8_t index) const;
  std::vector<record_type> records_;
  /// When the ring is full: the index of the oldest record (the next to be overwritten).
  uint8_t oldest_ = 0;
  /// At most volume_operation_ring names, each as two length bytes (little-endian) and the
  /// name: a new record replaces the oldest, so among the names of the other records there is
  /// always a free slot.
  std::string names_;
};

/// How a volume actor is started (validated by the supervisor).
struct volume_config {
  /// Test fault (--test-fault=crash-volume): the actor exits with an error on its n-th publish,
  /// before changing anything (0: never).
  uint32_t crash_on_publish = 0;
  /// It replaces an actor that crashed: its ring starts with a "restart" record.
  bool restarted = false;
};

/// Every volume has one, so what the handlers need is kept here once (they capture only the
/// actor's pointer: a capture in each of the seven handlers cost 250 bytes a volume).
struct volume_state {
  static constexpr const char* name = "volume";
  attachment_state attachment;
  /// Given at spawn: where its changes of state and its notes go, and its other metrics.
  volume_state_listener listener;
  metrics_actor metrics;
  /// What it observed in the request or timer it is handling (see volume_notes); handed over
  /// with the answer.
  volume_notes notes;
  operation_ring operations;
  volume_config config;
  /// Publishes handled (for the test fault).
  uint32_t publishes = 0;
  /// At most one migration timer is pending: when it fires, it times out the migration running
  /// then if that migration's deadline has come, else it is armed again for that deadline. So a
  /// volume that migrates many times within one timeout leaves one delayed message in the
  /// clock, not one per migration. `timer_number` counts the timers armed; a fired timer whose
  /// number is not the last one was superseded by one due sooner and is ignored.
  bool timer_pending = false;
  uint64_t timer_number = 0;
  clock_offset timer_due{0};
};

/// Spawned by the volume supervisor with the volume's last known state (empty for a new one)
/// and, when it revives a dormant volume, the ring of operations its predecessor handed over.
/// A state that is migrating gets its timer re-armed with the time that remains. The migration
/// timer message carries the number of the timer (volume_state::timer_number), and every
/// migration carries its generation in its state, so a timer of a migration that ended is
/// ignored (DESIGN rule 5). A retired actor may be given another, new volume (reuse_atom): it
/// starts over from that volume's state with an empty ring; a timer still pending for the
/// volume it served before fires as any superseded timer does, timing out nothing.
volume_actor::behavior_type volume(volume_actor::stateful_pointer<volume_state> self,
                                   volume_config config, attachment_state initial,
                                   operation_ring operations, volume_state_listener listener,
                                   metrics_actor metrics);

} // namespace rds::actors
