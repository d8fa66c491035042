// The attachment join: the one place where VolumeAttachments meet their PersistentVolumes. The
// cluster watches send it what they list and what changes; it keeps both by name and tells the
// volume supervisor what each VolumeAttachment means for its volume. Nothing is fetched: a
// VolumeAttachment that names a PersistentVolume not seen yet waits for it (counted, and shown
// in the status answer) and is applied when the PersistentVolume arrives; it holds up nothing
// else.
//
//   VolumeAttachment seen --- its PV known? --- yes ---> applied (the supervisor follows it)
//                                 |                          ^
//                                 no                         | the PV arrives
//                                 v                          |
//                              waiting ----------------------+
//
// A PersistentVolume deleted while VolumeAttachments still name it is logged and counted, and
// kept as a tombstone until the last of them goes: the VolumeAttachments are the truth, and their
// deletion must still reach the volume they were applied to.
//
// Start-up: the supervisor gets one inventory (its rebuild) once both first lists arrived.
// A later list (after 410 Gone or a broken stream) replaces what it lists; VolumeAttachment
// lists give the supervisor a full inventory to resync from, PersistentVolume lists resolve
// what waited.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "messages/actors.hpp"

namespace rds::actors {

struct attachment_join_config {
  std::string driver_name;
  migration_policy migrations;
};

struct known_volume {
  persistent_volume_object object;
  /// Deleted in Kubernetes while VolumeAttachments still name it.
  bool deleted = false;
};

struct attachment_join_state {
  static constexpr const char* name = "attachment_join";
  /// PersistentVolumes by name.
  std::unordered_map<std::string, known_volume> volumes;
  /// This driver's VolumeAttachments by name.
  std::unordered_map<std::string, volume_attachment_object> attachments;
  /// VolumeAttachment names by the PersistentVolume they name.
  std::unordered_map<std::string, std::set<std::string>> attachments_of;
  bool attachments_listed = false;
  /// When the last list of VolumeAttachments was taken: the inventories built from it say so.
  caf::timestamp attachments_listed_at;
  bool volumes_listed = false;
  /// The supervisor has had its first inventory: from now on, changes are applied one by one.
  bool synced = false;
  /// VolumeAttachments whose PersistentVolume is not known.
  uint64_t waiting = 0;
  uint64_t deleted_while_attached = 0;
};

attachment_join_actor::behavior_type
attachment_join(attachment_join_actor::stateful_pointer<attachment_join_state> self,
                attachment_join_config config, volume_supervisor_actor supervisor,
                metrics_actor metrics, events_actor events);

} // namespace rds::actors
