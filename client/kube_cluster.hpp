// A real Kubernetes API server with etcd on loopback, for the tests and the rebuild benchmark:
// Debian's etcd and a kube-apiserver built from Debian's source package
// (scripts/build-kube-apiserver.sh, path in $RDS_CSI_KUBE_APISERVER). Started once per program,
// stopped at exit.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "client/plugin_process.hpp"
#include "services/kube/kube_client.hpp"

namespace rds::client {

/// The VolumeAttachment the tests name for a PV and a node.
std::string attachment_name(const std::string& pv, const std::string& node);

class kube_cluster {
 public:
  /// The shared cluster, started on first use.
  static kube_cluster& instance();

  ~kube_cluster();

  /// A kubeconfig for `token` (one of "admin-token", in system:masters, or "driver-token", a
  /// user with no rights unless a test binds some).
  std::string kubeconfig(const std::string& token) const;

  /// A kubeconfig that authenticates with a client certificate of an admin.
  std::string kubeconfig_with_certificate() const;

  /// https://127.0.0.1:PORT and the CA file of its serving certificate.
  std::string server_url() const;
  std::string ca_path() const;

  /// Creates the ClusterRole found in `manifest` (a file of YAML documents, as in deploy/) and
  /// binds it to `user`, so a test can run with exactly the rules the project documents.
  void bind_cluster_role(const std::string& manifest, const std::string& user);

  /// A client with full rights, for the tests to create and inspect objects.
  services::kube::kube_client& admin();

  /// Deletes every VolumeAttachment, PersistentVolume, CSINode and Node (finalizers removed
  /// first), so each test starts clean.
  void clear();

  /// A PersistentVolume of the driver, bound to the claim `<pv_name>-claim` in "default", as the
  /// external-provisioner writes it. `access` is a Kubernetes access mode.
  static std::string volume_json(const std::string& pv_name, const std::string& handle,
                                 const std::string& access, const std::string& volume_mode,
                                 const std::string& migration_timeout_seconds = "",
                                 const std::string& annotations_json = "{}");

  /// Creates a PersistentVolume of the driver (volume_json).
  void create_volume(const std::string& pv_name, const std::string& handle,
                     const std::string& access, const std::string& volume_mode,
                     const std::string& migration_timeout_seconds = "",
                     const std::string& annotations_json = "{}",
                     services::kube::kube_client* via = nullptr);

  /// Creates a VolumeAttachment of the driver for `pv_name` on `node` and marks it attached,
  /// as the external-attacher does after a successful ControllerPublishVolume.
  /// With `mark_attached` false it stays pending, as while the publish is in flight.
  /// `via`: a client of the calling thread (a client is not shared between threads); default:
  /// the admin client, for single-threaded tests.
  void attach(const std::string& pv_name, const std::string& node, bool mark_attached = true,
              services::kube::kube_client* via = nullptr);

  /// Creates Node objects (the driver refuses to publish to a node that does not exist) and
  /// their CSINode objects naming this driver with the node name as its node id.
  void create_nodes(std::initializer_list<std::string> names);

  /// Deletes one VolumeAttachment (as the attach/detach controller does after an unpublish).
  void detach(const std::string& pv_name, const std::string& node);

  /// Stops etcd (the API server stays up and fails its calls) or starts it again.
  void stop_etcd();
  void start_etcd();

  /// Kills and restarts the API server: every watch connection breaks, and its watch cache starts
  /// anew.
  void restart_apiserver();

  /// Compacts etcd's history up to now: watches from older resourceVersions get 410 Gone.
  void compact_etcd();

 private:
  kube_cluster();
  void start_apiserver();
  void wait_ready();

  temp_dir dir_;
  int etcd_port_ = 0, etcd_peer_port_ = 0, api_port_ = 0;
  pid_t etcd_pid_ = -1, api_pid_ = -1;
  std::unique_ptr<services::kube::kube_client> admin_;
};

} // namespace rds::client
