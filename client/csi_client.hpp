// A CSI client that talks to the plugin only over its unix socket, the way the Kubernetes
// sidecars do, plus a /metrics reader.
#pragma once

#include <grpcpp/channel.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "csi.grpc.pb.h"

namespace rds::client {

enum class volume_access { rwo, rwo_readonly_mode, rwx_block, rwx_mount, multi_reader };

class csi_client {
 public:
  explicit csi_client(const std::string& endpoint);

  /// ControllerPublishVolume; `publish_context`, when given, receives the answer's.
  grpc::Status publish(const std::string& volume, const std::string& node, volume_access mode,
                       const std::map<std::string, std::string>& context = {},
                       std::map<std::string, std::string>* publish_context = nullptr);
  /// ControllerGetVolume: the nodes the plugin has the volume published to.
  grpc::Status published_nodes(const std::string& volume, std::vector<std::string>& nodes);
  grpc::Status unpublish(const std::string& volume, const std::string& node);
  grpc::Status probe(bool& ready);

  /// CreateVolume with one capability, a required size (0: none) and StorageClass parameters.
  grpc::Status create_volume(const std::string& name, int64_t required_bytes, volume_access mode,
                             const std::map<std::string, std::string>& parameters,
                             ::csi::v1::Volume& out);
  grpc::Status delete_volume(const std::string& volume_id);
  /// CreateVolume of a 1 MiB volume named `name`: its volume id, or "" if that failed.
  std::string provision(const std::string& name);

  /// Polls Probe until the plugin says ready (its state is rebuilt); false after `limit`.
  bool wait_until_ready(std::chrono::seconds limit = std::chrono::seconds{30});

  ::csi::v1::Identity::Stub& identity() { return *identity_; }
  ::csi::v1::Controller::Stub& controller() { return *controller_; }
  ::csi::v1::Node::Stub& node() { return *node_; }

  static ::csi::v1::VolumeCapability capability(volume_access mode);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::csi::v1::Identity::Stub> identity_;
  std::unique_ptr<::csi::v1::Controller::Stub> controller_;
  std::unique_ptr<::csi::v1::Node::Stub> node_;
};

/// Gives a hand-made call the helpers' deadline.
void set_deadline(grpc::ClientContext& ctx);

/// GET over HTTP with libcurl; throws on a transport error or a non-200 answer.
std::string http_get(const std::string& url);

/// The value of one series (`name{labels}` exactly as exposed) in an exposition text; -1 when
/// absent.
double metric_value(const std::string& text, const std::string& series);

} // namespace rds::client
