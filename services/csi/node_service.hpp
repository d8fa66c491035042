// The CSI Node service: checks every argument (paths inside the kubelet directory, the volume
// context's NVMe target), then hands a typed request to the node supervisor, which serialises
// operations per volume. Handlers never wait on an actor.
#pragma once

#include <caf/actor_system.hpp>

#include "csi.grpc.pb.h"
#include "services/csi/rpc_call.hpp"
#include "services/csi/server.hpp"

namespace rds::services::csi {

class node_service final : public ::csi::v1::Node::CallbackService {
 public:
  node_service(caf::actor_system& sys, const server_config& config, server_actors actors,
               call_tracker& tracker);

  grpc::ServerUnaryReactor* NodeStageVolume(grpc::CallbackServerContext* ctx,
                                            const ::csi::v1::NodeStageVolumeRequest* request,
                                            ::csi::v1::NodeStageVolumeResponse* response) override;
  grpc::ServerUnaryReactor*
  NodeUnstageVolume(grpc::CallbackServerContext* ctx,
                    const ::csi::v1::NodeUnstageVolumeRequest* request,
                    ::csi::v1::NodeUnstageVolumeResponse* response) override;
  grpc::ServerUnaryReactor*
  NodePublishVolume(grpc::CallbackServerContext* ctx,
                    const ::csi::v1::NodePublishVolumeRequest* request,
                    ::csi::v1::NodePublishVolumeResponse* response) override;
  grpc::ServerUnaryReactor*
  NodeUnpublishVolume(grpc::CallbackServerContext* ctx,
                      const ::csi::v1::NodeUnpublishVolumeRequest* request,
                      ::csi::v1::NodeUnpublishVolumeResponse* response) override;
  grpc::ServerUnaryReactor*
  NodeGetVolumeStats(grpc::CallbackServerContext* ctx,
                     const ::csi::v1::NodeGetVolumeStatsRequest* request,
                     ::csi::v1::NodeGetVolumeStatsResponse* response) override;
  grpc::ServerUnaryReactor*
  NodeExpandVolume(grpc::CallbackServerContext* ctx,
                   const ::csi::v1::NodeExpandVolumeRequest* request,
                   ::csi::v1::NodeExpandVolumeResponse* response) override;
  grpc::ServerUnaryReactor*
  NodeGetCapabilities(grpc::CallbackServerContext* ctx,
                      const ::csi::v1::NodeGetCapabilitiesRequest* request,
                      ::csi::v1::NodeGetCapabilitiesResponse* response) override;
  grpc::ServerUnaryReactor* NodeGetInfo(grpc::CallbackServerContext* ctx,
                                        const ::csi::v1::NodeGetInfoRequest* request,
                                        ::csi::v1::NodeGetInfoResponse* response) override;

 private:
  caf::actor_system& sys_;
  const server_config& config_;
  server_actors actors_;
  call_tracker& tracker_;
};

} // namespace rds::services::csi
