// What Kubernetes says about attachments: one entry per volume, built from its
// VolumeAttachments and PersistentVolume, and how a volume actor's state is derived from it.
#pragma once

#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include <string>
#include <vector>

#include "messages/attachment.hpp"

namespace rds {

/// One attached VolumeAttachment: its node and its creation time.
struct observed_attachment {
  std::string node_id;
  caf::timestamp since;
  /// Being deleted, still attached: Kubernetes is detaching it. A rebuild counts it (the node may
  /// still use the volume until its unpublish); a later list keeps it if known but never adds it
  /// (its unpublish may already have been answered).
  bool detaching = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, observed_attachment& x) {
  return f(caf::meta::type_name("rds.observed_attachment"), x.node_id, x.since, x.detaching);
}

struct observed_volume {
  /// The PersistentVolume's CSI volumeHandle.
  std::string volume_id;
  std::string pv_name;
  /// What the external-attacher sends for this PV (access mode, volume mode).
  publish_capability capability;
  /// migrationTimeoutSeconds from the PV's volume attributes, within the policy.
  caf::timespan migration_timeout{0};
  /// Attached nodes, oldest first.
  std::vector<observed_attachment> nodes;
  /// Nodes with a VolumeAttachment not attached yet (a publish may be in flight), or attached
  /// and being deleted (the unpublish may be in flight): the driver keeps such a node if it has
  /// it, and does not attach it.
  std::vector<std::string> pending;
  /// The list did not show the volume at all. Its VolumeAttachments may be gone, or wait in the
  /// join for a PersistentVolume not seen yet: a node attached moments ago by a CSI publish
  /// (which always follows its VolumeAttachment) is kept for now.
  bool unlisted = false;
  /// When the list of VolumeAttachments this comes from was taken (its first page asked): a
  /// node attached after that is newer than the list and kept. Zero: not from a list.
  caf::timestamp listed_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, observed_volume& x) {
  return f(caf::meta::type_name("rds.observed_volume"), x.volume_id, x.pv_name, x.capability,
           x.migration_timeout, x.nodes, x.pending, x.unlisted, x.listed_at);
}

/// What one VolumeAttachment event says about one node of one volume.
enum class attachment_phase : uint8_t {
  /// status.attached is true.
  attached = 0,
  /// Created and not attached yet (a publish may be in flight), or attached and being deleted
  /// (an unpublish may be in flight): a node the driver has is kept, none is added.
  pending,
  /// Deleted, or detached while being deleted: the node's unpublish is done.
  gone,
};

struct attachment_change {
  std::string volume_id;
  std::string node_id;
  attachment_phase phase = attachment_phase::attached;
  caf::timestamp since;
  publish_capability capability;
  caf::timespan migration_timeout{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attachment_change& x) {
  return f(caf::meta::type_name("rds.attachment_change"), x.volume_id, x.node_id, x.phase, x.since,
           x.capability, x.migration_timeout);
}

/// Everything the rebuild found.
struct cluster_inventory {
  std::vector<observed_volume> volumes;
  /// Volumes attached to more than two nodes: kept as the truth, but anomalies.
  std::vector<std::string> anomalies;
  /// The list's resourceVersion, from which a watch continues.
  std::string resource_version;
  /// When the list of VolumeAttachments was taken (see observed_volume::listed_at).
  caf::timestamp listed_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_inventory& x) {
  return f(caf::meta::type_name("rds.cluster_inventory"), x.volumes, x.anomalies,
           x.resource_version, x.listed_at);
}

/// The volume actor state that matches an observation, at actor-clock time `now` and wall time
/// `wall_now`: two nodes are a migration that started when the newer attachment was created.
attachment_state state_of(const observed_volume& volume, clock_offset now, caf::timestamp wall_now);

} // namespace rds
