// The CSI Identity service: plugin name and version, capabilities, and a Probe that asks the
// actors whether they are up.
#pragma once

#include <caf/actor_system.hpp>

#include "csi.grpc.pb.h"
#include "services/csi/rpc_call.hpp"
#include "services/csi/server.hpp"

namespace rds::services::csi {

class identity_service final : public ::csi::v1::Identity::CallbackService {
 public:
  identity_service(caf::actor_system& sys, const server_config& config, server_actors actors,
                   call_tracker& tracker);

  grpc::ServerUnaryReactor* GetPluginInfo(grpc::CallbackServerContext* ctx,
                                          const ::csi::v1::GetPluginInfoRequest* request,
                                          ::csi::v1::GetPluginInfoResponse* response) override;

  grpc::ServerUnaryReactor*
  GetPluginCapabilities(grpc::CallbackServerContext* ctx,
                        const ::csi::v1::GetPluginCapabilitiesRequest* request,
                        ::csi::v1::GetPluginCapabilitiesResponse* response) override;

  grpc::ServerUnaryReactor* Probe(grpc::CallbackServerContext* ctx,
                                  const ::csi::v1::ProbeRequest* request,
                                  ::csi::v1::ProbeResponse* response) override;

 private:
  caf::actor_system& sys_;
  const server_config& config_;
  server_actors actors_;
  call_tracker& tracker_;
};

} // namespace rds::services::csi
