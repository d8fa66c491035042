// The Kubernetes objects the controller follows, as the cluster watches send them to the actor
// that joins them: only the fields the driver uses.
#pragma once

#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>

#include <map>
#include <string>
#include <vector>

namespace rds {

/// storage.k8s.io/v1 VolumeAttachment.
struct volume_attachment_object {
  std::string name;
  std::string resource_version;
  caf::timestamp created;
  /// metadata.deletionTimestamp is set: a finalizer keeps it while the detach runs.
  bool deleting = false;
  std::string attacher;
  std::string node_name;
  /// spec.source.persistentVolumeName (empty for inline volumes, which this driver has none of).
  std::string pv_name;
  bool attached = false;
  /// status.attachmentMetadata's publish_published_at_key: when this driver's
  /// ControllerPublishVolume for it was asked; zero when absent (attached by an older version,
  /// or not attached).
  caf::timestamp published_at{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_attachment_object& x) {
  return f(caf::meta::type_name("rds.volume_attachment_object"), x.name, x.resource_version,
           x.created, x.deleting, x.attacher, x.node_name, x.pv_name, x.attached, x.published_at);
}

/// core/v1 PersistentVolume.
struct persistent_volume_object {
  std::string name;
  std::string driver;
  std::string volume_handle;
  std::vector<std::string> access_modes;
  /// "Block" or "Filesystem".
  std::string volume_mode;
  /// spec.csi.readOnly: the attacher publishes read-only.
  bool read_only = false;
  std::map<std::string, std::string> volume_attributes;
  std::string claim_namespace;
  std::string claim_name;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, persistent_volume_object& x) {
  return f(caf::meta::type_name("rds.persistent_volume_object"), x.name, x.driver, x.volume_handle,
           x.access_modes, x.volume_mode, x.read_only, x.volume_attributes, x.claim_namespace,
           x.claim_name);
}

inline bool operator==(const persistent_volume_object& a, const persistent_volume_object& b) {
  return a.name == b.name && a.driver == b.driver && a.volume_handle == b.volume_handle
         && a.access_modes == b.access_modes && a.volume_mode == b.volume_mode
         && a.read_only == b.read_only && a.volume_attributes == b.volume_attributes
         && a.claim_namespace == b.claim_namespace && a.claim_name == b.claim_name;
}

} // namespace rds
