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
//
// Memory: with a cluster, this is where the controller keeps what Kubernetes says about every
// attached volume, so each fact is kept once and small. Of a PersistentVolume only what the
// supervisor is told is kept, derived when it arrives (handle, capability, migration timeout:
// volume_facts); its claim goes on to the events actor, which alone keeps it. Of a
// VolumeAttachment: its name (the key), its node (interned), a pointer to its PersistentVolume's
// entry and the facts of attachment_facts.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "messages/actors.hpp"
#include "services/kube/attachment_inventory.hpp"

namespace rds::actors {

struct attachment_join_config {
  std::string driver_name;
  migration_policy migrations;
};

struct joined_attachment;
using joined_attachment_entry = std::pair<const std::string, joined_attachment>;

/// A PersistentVolume name the join knows of: the PersistentVolume's facts once it has been
/// seen, and the VolumeAttachments that name it. An entry exists while either is there.
struct joined_volume {
  services::kube::volume_facts facts;
  /// The PersistentVolume has been seen (else only VolumeAttachments that wait for it name it).
  bool known = false;
  /// Deleted in Kubernetes while VolumeAttachments still name it (a tombstone).
  bool deleted = false;
  /// The VolumeAttachments naming it, by name, threaded through joined_attachment::next.
  joined_attachment_entry* first = nullptr;
};

using joined_volume_entry = std::pair<const std::string, joined_volume>;

/// What the join keeps of one of this driver's VolumeAttachments; its name is its key.
struct joined_attachment {
  /// The PersistentVolume it names (the entry's key is the name).
  joined_volume_entry* volume = nullptr;
  /// spec.nodeName, interned: nodes are few, attachments many.
  const std::string* node = nullptr;
  services::kube::attachment_facts facts;
  /// The next VolumeAttachment (by name) that names the same PersistentVolume.
  joined_attachment_entry* next = nullptr;
};

struct attachment_join_state {
  static constexpr const char* name = "attachment_join";
  /// PersistentVolumes by name, known or named by a VolumeAttachment. Each fact is kept once:
  /// the entries point at each other (node-based maps: pointers stay valid until erased).
  std::unordered_map<std::string, joined_volume> volumes;
  /// Known PersistentVolumes with a volume handle, by the hash of the handle. Two of them may
  /// name one RDS volume (a copied manifest): the volume is then attached wherever either's
  /// VolumeAttachments say, and the one with the smallest name speaks for its facts.
  std::unordered_multimap<size_t, joined_volume_entry*> by_handle;
  /// This driver's VolumeAttachments by name.
  std::unordered_map<std::string, joined_attachment> attachments;
  /// Node names the attachments point at; rebuilt with each list of VolumeAttachments, so a
  /// node gone for good is forgotten at the next relist.
  std::unordered_set<std::string> nodes;
  /// PersistentVolumes seen (tombstones included): entries with `known`.
  uint64_t known_volumes = 0;
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
