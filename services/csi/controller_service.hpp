// The CSI Controller service, attachment part: capabilities, capability validation, and
// ControllerPublish/Unpublish routed to the volume actors. Handlers never wait on an actor.
#pragma once

#include <caf/actor_system.hpp>

#include "csi.grpc.pb.h"
#include "services/csi/rpc_call.hpp"
#include "services/csi/server.hpp"

namespace rds::services::csi {

class controller_service final : public ::csi::v1::Controller::CallbackService {
 public:
  controller_service(caf::actor_system& sys, const server_config& config, server_actors actors,
                     call_tracker& tracker);

  grpc::ServerUnaryReactor*
  ControllerGetCapabilities(grpc::CallbackServerContext* ctx,
                            const ::csi::v1::ControllerGetCapabilitiesRequest* request,
                            ::csi::v1::ControllerGetCapabilitiesResponse* response) override;

  grpc::ServerUnaryReactor*
  ValidateVolumeCapabilities(grpc::CallbackServerContext* ctx,
                             const ::csi::v1::ValidateVolumeCapabilitiesRequest* request,
                             ::csi::v1::ValidateVolumeCapabilitiesResponse* response) override;

  grpc::ServerUnaryReactor*
  ControllerPublishVolume(grpc::CallbackServerContext* ctx,
                          const ::csi::v1::ControllerPublishVolumeRequest* request,
                          ::csi::v1::ControllerPublishVolumeResponse* response) override;

  grpc::ServerUnaryReactor*
  ControllerUnpublishVolume(grpc::CallbackServerContext* ctx,
                            const ::csi::v1::ControllerUnpublishVolumeRequest* request,
                            ::csi::v1::ControllerUnpublishVolumeResponse* response) override;

 private:
  caf::actor_system& sys_;
  const server_config& config_;
  server_actors actors_;
  call_tracker& tracker_;
};

} // namespace rds::services::csi
