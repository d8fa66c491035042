// Turns VolumeAttachments and PersistentVolumes into what the driver's state must be: one
// observed_volume per volume with attached nodes. Annotations are never read. What the join keeps
// of each object is derived here once, when the object arrives (volume_facts, attachment_facts):
// the rest of the object is not kept.
#pragma once

#include <string>
#include <vector>

#include "messages/cluster_state.hpp"
#include "services/kube/objects.hpp"

namespace rds::services::kube {

/// The capability the external-attacher sends for a PV: ReadWriteMany is
/// MULTI_NODE_MULTI_WRITER, anything else SINGLE_NODE_WRITER; volumeMode Block is a block
/// access type.
publish_capability capability_of(const persistent_volume_object& pv);

/// What a PersistentVolume means to the driver: its handle (empty when it is another driver's or
/// has none: then it is never joined), the capability the attacher publishes it with and its
/// migrationTimeoutSeconds (outside the policy, or unreadable: the fallback).
struct volume_facts {
  std::string volume_handle;
  publish_capability capability;
  caf::timespan migration_timeout{0};
};

volume_facts facts_of(const persistent_volume_object& pv, const std::string& driver,
                      const migration_policy& policy);

/// What a VolumeAttachment says, besides its name, node and PersistentVolume.
struct attachment_facts {
  caf::timestamp created;
  /// Zero when absent (see volume_attachment_object::published_at).
  caf::timestamp published_at{};
  /// spec.attacher is this driver.
  bool ours = false;
  bool attached = false;
  bool deleting = false;
};

attachment_facts facts_of(const volume_attachment_object& va, const std::string& driver);

/// Since when a VolumeAttachment's node has the volume: the time this driver's publish for it
/// was asked (from status.attachmentMetadata, nanoseconds) when known, else its creation time
/// (whole seconds, so two attachments created in the same second cannot be told apart by it).
caf::timestamp attached_since(const attachment_facts& va);

/// One VolumeAttachment as the inventory reads it, with its PersistentVolume's facts.
struct inventory_row {
  const std::string* pv_name = nullptr;
  const std::string* node = nullptr;
  const attachment_facts* va = nullptr;
  /// nullptr when the PersistentVolume is not known.
  const volume_facts* pv = nullptr;
};

/// Keeps the VolumeAttachments of this driver (attached ones, those being deleted marked
/// `detaching`, and pending ones: created and not attached yet), groups them by PV with each
/// PV's handle, capability and migration timeout. Rows whose PV is missing or another driver's
/// are skipped; rows of one PV keep their order.
cluster_inventory build_inventory(const std::vector<inventory_row>& rows);

/// The change one VolumeAttachment event (ADDED, MODIFIED or DELETED) means for its node.
attachment_phase phase_of(const attachment_facts& va, bool deleted);

/// The change for the supervisor; false if the VolumeAttachment or its PV is not this driver's.
bool change_of(const attachment_facts& va, const std::string& node, bool deleted,
               const volume_facts& pv, attachment_change& out);

} // namespace rds::services::kube
