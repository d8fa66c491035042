// Identity RPCs. Probe is a round trip through the actors the plugin depends on.
#include "services/csi/identity_service.hpp"

#include <algorithm>
#include <chrono>

#include "services/csi/rpc_call.hpp"

namespace rds::services::csi {

namespace {

constexpr auto probe_timeout = std::chrono::seconds{5};

} // namespace

identity_service::identity_service(caf::actor_system& sys, const server_config& config,
                                   server_actors actors, call_tracker& tracker)
  : sys_(sys)
  , config_(config)
  , actors_(std::move(actors))
  , tracker_(tracker) {}

grpc::ServerUnaryReactor*
identity_service::GetPluginInfo(grpc::CallbackServerContext* ctx,
                                const ::csi::v1::GetPluginInfoRequest*,
                                ::csi::v1::GetPluginInfoResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Identity/GetPluginInfo");
  if (call->refused_while_draining())
    return call->reactor();
  response->set_name(config_.driver_name);
  response->set_vendor_version(config_.vendor_version);
  call->finish(grpc::Status::OK);
  return call->reactor();
}

grpc::ServerUnaryReactor*
identity_service::GetPluginCapabilities(grpc::CallbackServerContext* ctx,
                                        const ::csi::v1::GetPluginCapabilitiesRequest*,
                                        ::csi::v1::GetPluginCapabilitiesResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Identity/GetPluginCapabilities");
  if (call->refused_while_draining())
    return call->reactor();
  if (config_.controller)
    response->add_capabilities()->mutable_service()->set_type(
      ::csi::v1::PluginCapability::Service::CONTROLLER_SERVICE);
  call->finish(grpc::Status::OK);
  return call->reactor();
}

grpc::ServerUnaryReactor* identity_service::Probe(grpc::CallbackServerContext* ctx,
                                                  const ::csi::v1::ProbeRequest*,
                                                  ::csi::v1::ProbeResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Identity/Probe");
  if (call->refused_while_draining())
    return call->reactor();
  auto timeout = call->timeout(probe_timeout);
  auto until = std::chrono::steady_clock::now() + timeout;
  // Ready when the metrics actor answers and, in a controller, the volume supervisor has rebuilt
  // its volumes. Both requests share the call's time: a slow actor is an answer (ready = false),
  // not DEADLINE_EXCEEDED. (Two requests in turn, each checked by its answer's type here.)
  auto answer = [call, response](bool ready, caf::execution_unit* host) {
    if (call->done())
      return;
    response->mutable_ready()->set_value(ready);
    call->finish(grpc::Status::OK, host);
  };
  auto supervisor = actors_.supervisor;
  call->ask(caf::actor_cast<caf::abstract_actor*>(actors_.metrics),
            caf::make_message(status_atom_v), timeout,
            [=](caf::message& reply, caf::execution_unit* host) {
              if (!reply.match_elements<metrics_status>()) {
                answer(false, host);
                return;
              }
              if (!supervisor) {
                answer(true, host);
                return;
              }
              call->ask(
                caf::actor_cast<caf::abstract_actor*>(supervisor), caf::make_message(status_atom_v),
                std::max(caf::timespan{std::chrono::milliseconds{1}},
                         caf::timespan{until - std::chrono::steady_clock::now()}),
                [answer](caf::message& status, caf::execution_unit* host) {
                  answer(status.match_elements<supervisor_status>()
                           && status.get_as<supervisor_status>(0).ready,
                         host);
                },
                host);
            });
  return call->reactor();
}

} // namespace rds::services::csi
