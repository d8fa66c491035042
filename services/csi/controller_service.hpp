// The CSI Controller service: each RPC is one typed request to one actor (the volume
// supervisor, the volume catalog or the rds actor), carrying the CO's deadline. Handlers never
// wait on an actor and hold no rule about the world.
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

  grpc::ServerUnaryReactor* CreateVolume(grpc::CallbackServerContext* ctx,
                                         const ::csi::v1::CreateVolumeRequest* request,
                                         ::csi::v1::CreateVolumeResponse* response) override;

  grpc::ServerUnaryReactor* DeleteVolume(grpc::CallbackServerContext* ctx,
                                         const ::csi::v1::DeleteVolumeRequest* request,
                                         ::csi::v1::DeleteVolumeResponse* response) override;

  grpc::ServerUnaryReactor* ListVolumes(grpc::CallbackServerContext* ctx,
                                        const ::csi::v1::ListVolumesRequest* request,
                                        ::csi::v1::ListVolumesResponse* response) override;

  grpc::ServerUnaryReactor* GetCapacity(grpc::CallbackServerContext* ctx,
                                        const ::csi::v1::GetCapacityRequest* request,
                                        ::csi::v1::GetCapacityResponse* response) override;

  grpc::ServerUnaryReactor*
  ControllerExpandVolume(grpc::CallbackServerContext* ctx,
                         const ::csi::v1::ControllerExpandVolumeRequest* request,
                         ::csi::v1::ControllerExpandVolumeResponse* response) override;

  grpc::ServerUnaryReactor*
  ControllerPublishVolume(grpc::CallbackServerContext* ctx,
                          const ::csi::v1::ControllerPublishVolumeRequest* request,
                          ::csi::v1::ControllerPublishVolumeResponse* response) override;

  grpc::ServerUnaryReactor*
  ControllerUnpublishVolume(grpc::CallbackServerContext* ctx,
                            const ::csi::v1::ControllerUnpublishVolumeRequest* request,
                            ::csi::v1::ControllerUnpublishVolumeResponse* response) override;

  // Not offered (ControllerGetCapabilities does not list them): UNIMPLEMENTED, recorded in
  // csi_plugin_operations_seconds like every other RPC.
  grpc::ServerUnaryReactor* CreateSnapshot(grpc::CallbackServerContext* ctx,
                                           const ::csi::v1::CreateSnapshotRequest* request,
                                           ::csi::v1::CreateSnapshotResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSnapshot(grpc::CallbackServerContext* ctx,
                                           const ::csi::v1::DeleteSnapshotRequest* request,
                                           ::csi::v1::DeleteSnapshotResponse* response) override;
  grpc::ServerUnaryReactor* ListSnapshots(grpc::CallbackServerContext* ctx,
                                          const ::csi::v1::ListSnapshotsRequest* request,
                                          ::csi::v1::ListSnapshotsResponse* response) override;
  grpc::ServerUnaryReactor* GetSnapshot(grpc::CallbackServerContext* ctx,
                                        const ::csi::v1::GetSnapshotRequest* request,
                                        ::csi::v1::GetSnapshotResponse* response) override;
  grpc::ServerUnaryReactor*
  ControllerGetVolume(grpc::CallbackServerContext* ctx,
                      const ::csi::v1::ControllerGetVolumeRequest* request,
                      ::csi::v1::ControllerGetVolumeResponse* response) override;
  grpc::ServerUnaryReactor*
  ControllerModifyVolume(grpc::CallbackServerContext* ctx,
                         const ::csi::v1::ControllerModifyVolumeRequest* request,
                         ::csi::v1::ControllerModifyVolumeResponse* response) override;

 private:
  grpc::ServerUnaryReactor* not_implemented(grpc::CallbackServerContext* ctx, const char* method);

  caf::actor_system& sys_;
  const server_config& config_;
  server_actors actors_;
  call_tracker& tracker_;
};

} // namespace rds::services::csi
