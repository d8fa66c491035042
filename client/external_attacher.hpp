// Plays the part of Kubernetes' attach/detach controller and external-attacher v4.10 against a
// real apiserver and the plugin's CSI socket, with exactly their writes in their order
// (reference/sidecars.md), for the migration load harness (the integration tests keep their
// own copy, integration/external_attacher).
// Every API write is retried while the apiserver is unavailable (it may be restarting), and a
// write that already took effect counts as done, as the controllers' informer-driven retries do.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "client/csi_client.hpp"
#include "client/kube_cluster.hpp"
#include "services/kube/kube_client.hpp"

namespace rds::client {

/// An API call retried for up to `limit` while the apiserver cannot answer; a POST that meets
/// 409 (created by an earlier try) and a DELETE that meets 404 count as done.
services::kube::kube_response api_call(services::kube::kube_client& client,
                                       const std::string& method, const std::string& path,
                                       const std::string& body,
                                       std::chrono::seconds limit = std::chrono::seconds{90});

class external_attacher {
 public:
  /// `api` and `csi` belong to the calling thread.
  external_attacher(services::kube::kube_client& api, csi_client& csi,
                    std::string driver = "rds.csi.srvlab.io");

  /// The finalizer the attacher puts on PVs and VolumeAttachments of this driver.
  std::string finalizer() const;

  // The attach/detach controller.
  /// Creates the VolumeAttachment of `pv` on `node`, status.attached unset.
  void create_attachment(const std::string& pv, const std::string& node);
  /// Deletes it; the attacher's finalizer keeps it (with a deletionTimestamp) until the detach.
  void delete_attachment(const std::string& pv, const std::string& node);

  // The external-attacher, one step at a time.
  /// Merge PATCH of the PV adding the finalizer; PATCH of the VolumeAttachment adding the same
  /// finalizer and the annotation csi.alpha.kubernetes.io/node-id (from the node's CSINode).
  void add_finalizers(const std::string& pv, const std::string& node);
  /// ControllerPublishVolume as the attacher builds it from the PV (handle, access mode, volume
  /// mode, attributes, readOnly).
  grpc::Status publish(const std::string& pv, const std::string& node,
                       std::map<std::string, std::string>& publish_context);
  /// PATCH of /status: attached true with the publish context (or attachError on failure).
  void mark_attached(const std::string& pv, const std::string& node,
                     const std::map<std::string, std::string>& publish_context);
  void mark_attach_error(const std::string& pv, const std::string& node,
                         const std::string& message);
  grpc::Status unpublish(const std::string& pv, const std::string& node);
  /// The detach's last writes: /status patched to attached: false (attachmentMetadata and
  /// detachError cleared), then the finalizer removed (the object then goes).
  void remove_finalizer(const std::string& pv, const std::string& node);

  /// The whole attach of a VolumeAttachment that exists: finalizers, publish, status.
  grpc::Status attach(const std::string& pv, const std::string& node);
  /// The whole attach without the plugin: as another controller replica (the leader) did it.
  void attach_elsewhere(const std::string& pv, const std::string& node);
  /// The whole detach: deletion, unpublish, finalizer removed. Fails the call (returns the
  /// unpublish error) without removing the finalizer, as the attacher retries.
  grpc::Status detach(const std::string& pv, const std::string& node);

  /// The PV's volume handle (read from the apiserver).
  std::string volume_handle(const std::string& pv);

 private:
  struct pv_facts {
    std::string handle;
    volume_access access = volume_access::rwo;
    std::map<std::string, std::string> attributes;
  };
  pv_facts facts_of(const std::string& pv);
  std::string node_id_of(const std::string& node);

  services::kube::kube_client& api_;
  csi_client& csi_;
  std::string driver_;
  std::map<std::string, pv_facts> facts_;
  std::map<std::string, std::string> node_ids_;
};

} // namespace rds::client
