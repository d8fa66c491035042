// Turns VolumeAttachments and PersistentVolumes into what the driver's state must be: one
// observed_volume per volume with attached nodes. Annotations are never read.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "messages/cluster_state.hpp"
#include "services/kube/objects.hpp"

namespace rds::services::kube {

/// The capability the external-attacher sends for a PV: ReadWriteMany is
/// MULTI_NODE_MULTI_WRITER, anything else SINGLE_NODE_WRITER; volumeMode Block is a block
/// access type.
publish_capability capability_of(const persistent_volume_object& pv);

/// Since when a VolumeAttachment's node has the volume: the time this driver's publish for it
/// was asked (from status.attachmentMetadata, nanoseconds) when known, else its creation time
/// (whole seconds, so two attachments created in the same second cannot be told apart by it).
caf::timestamp attached_since(const volume_attachment_object& va);

/// The PersistentVolume of a name, or nullptr when it is not known.
using pv_lookup = std::function<const persistent_volume_object*(const std::string& pv_name)>;

/// Keeps the VolumeAttachments of `driver` (attached ones, those being deleted marked
/// `detaching`, and pending ones: created and not attached yet), groups them by PV and reads each
/// PV's handle, capability and migrationTimeoutSeconds (outside the policy: the fallback).
/// Attachments whose PV is missing or belongs to another driver are skipped.
cluster_inventory build_inventory(const std::vector<const volume_attachment_object*>& attachments,
                                  const pv_lookup& find_pv, const std::string& driver,
                                  const migration_policy& policy);

/// The change one VolumeAttachment event (ADDED, MODIFIED or DELETED) means for its node.
attachment_phase phase_of(const volume_attachment_object& va, bool deleted);

/// The change for the supervisor; false if the VolumeAttachment is not this driver's or its PV
/// is unknown.
bool change_of(const volume_attachment_object& va, bool deleted, const persistent_volume_object& pv,
               const std::string& driver, const migration_policy& policy, attachment_change& out);

} // namespace rds::services::kube
