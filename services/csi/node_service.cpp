// Node RPCs: validate, then one request to the node supervisor from a one-shot actor.
#include "services/csi/node_service.hpp"

#include <caf/event_based_actor.hpp>

#include "messages/node_path.hpp"
#include "messages/validation.hpp"
#include "messages/volume_context.hpp"
#include "services/csi/capability.hpp"

namespace rds::services::csi {

namespace {

outcome bad(const std::string& why) {
  return outcome::failure(ec::invalid_argument, why);
}

/// The access type of a node call. The mount flags are checked by the node operation that uses
/// them, before it changes anything.
outcome read_access(const ::csi::v1::VolumeCapability& capability, node_access& out) {
  publish_capability checked;
  if (auto r = read_capability(capability, false, checked); !r.ok())
    return r;
  out.block = checked.block;
  if (!out.block) {
    out.fs_type = capability.mount().fs_type().empty() ? "ext4" : capability.mount().fs_type();
    out.mount_flags.assign(capability.mount().mount_flags().begin(),
                           capability.mount().mount_flags().end());
  }
  return outcome::success();
}

/// A path field kubelet must send; where it may lie is the node operation's check.
outcome required(const std::string& path, const char* what) {
  return path.empty() ? bad(std::string{what} + " is required") : outcome::success();
}

bool refused(const rpc_call_ptr& call, const outcome& checked) {
  if (checked.ok())
    return false;
  call->finish(checked);
  return true;
}

} // namespace

node_service::node_service(caf::actor_system& sys, const server_config& config,
                           server_actors actors, call_tracker& tracker)
  : sys_(sys)
  , config_(config)
  , actors_(std::move(actors))
  , tracker_(tracker) {}

grpc::ServerUnaryReactor*
node_service::NodeStageVolume(grpc::CallbackServerContext* ctx,
                              const ::csi::v1::NodeStageVolumeRequest* request,
                              ::csi::v1::NodeStageVolumeResponse*) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Node/NodeStageVolume");
  if (call->refused_while_draining())
    return call->reactor();
  stage_request req;
  req.volume_id = request->volume_id();
  req.staging_path = request->staging_target_path();
  auto checked = check_volume_id(req.volume_id);
  if (checked.ok())
    checked = required(req.staging_path, "staging_target_path");
  if (checked.ok() && !request->has_volume_capability())
    checked = bad("volume_capability is required");
  if (checked.ok())
    checked = read_access(request->volume_capability(), req.access);
  volume_context context;
  if (checked.ok())
    checked =
      read_volume_context({request->volume_context().begin(), request->volume_context().end()},
                          {config_.migrations}, context);
  if (checked.ok())
    checked = check_stage_context(req.volume_id, context);
  if (checked.ok()) {
    req.nqn = context.nqn;
    req.address = context.nvme_address;
    req.port = context.nvme_port;
    req.ctrl_loss_tmo = context.ctrl_loss_tmo.value_or(config_.ctrl_loss_tmo);
    req.reconnect_delay = context.reconnect_delay.value_or(5);
    req.keep_alive_tmo = context.keep_alive_tmo.value_or(0);
  }
  if (refused(call, checked))
    return call->reactor();
  ask_and_finish(sys_, actors_.node, call, call->timeout(config_.node_timeout), stage_atom_v,
                 std::move(req));
  return call->reactor();
}

grpc::ServerUnaryReactor*
node_service::NodeUnstageVolume(grpc::CallbackServerContext* ctx,
                                const ::csi::v1::NodeUnstageVolumeRequest* request,
                                ::csi::v1::NodeUnstageVolumeResponse*) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Node/NodeUnstageVolume");
  if (call->refused_while_draining())
    return call->reactor();
  unstage_request req{request->volume_id(), request->staging_target_path()};
  auto checked = check_volume_id(req.volume_id);
  if (checked.ok())
    checked = required(req.staging_path, "staging_target_path");
  if (refused(call, checked))
    return call->reactor();
  ask_and_finish(sys_, actors_.node, call, call->timeout(config_.node_timeout), unstage_atom_v,
                 std::move(req));
  return call->reactor();
}

grpc::ServerUnaryReactor*
node_service::NodePublishVolume(grpc::CallbackServerContext* ctx,
                                const ::csi::v1::NodePublishVolumeRequest* request,
                                ::csi::v1::NodePublishVolumeResponse*) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Node/NodePublishVolume");
  if (call->refused_while_draining())
    return call->reactor();
  node_publish_request req;
  req.volume_id = request->volume_id();
  req.staging_path = request->staging_target_path();
  req.target_path = request->target_path();
  // Read-only when the CO says so here, or when the controller recorded the attachment so.
  auto& publish_context = request->publish_context();
  auto readonly = publish_context.find(publish_readonly_key);
  req.readonly =
    request->readonly() || (readonly != publish_context.end() && readonly->second == "true");
  auto checked = check_volume_id(req.volume_id);
  if (checked.ok())
    checked = required(req.staging_path, "staging_target_path");
  if (checked.ok())
    checked = required(req.target_path, "target_path");
  if (checked.ok() && !request->has_volume_capability())
    checked = bad("volume_capability is required");
  if (checked.ok())
    checked = read_access(request->volume_capability(), req.access);
  if (refused(call, checked))
    return call->reactor();
  ask_and_finish(sys_, actors_.node, call, call->timeout(config_.node_timeout), publish_atom_v,
                 std::move(req));
  return call->reactor();
}

grpc::ServerUnaryReactor*
node_service::NodeUnpublishVolume(grpc::CallbackServerContext* ctx,
                                  const ::csi::v1::NodeUnpublishVolumeRequest* request,
                                  ::csi::v1::NodeUnpublishVolumeResponse*) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Node/NodeUnpublishVolume");
  if (call->refused_while_draining())
    return call->reactor();
  node_unpublish_request req{request->volume_id(), request->target_path()};
  auto checked = check_volume_id(req.volume_id);
  if (checked.ok())
    checked = required(req.target_path, "target_path");
  if (refused(call, checked))
    return call->reactor();
  ask_and_finish(sys_, actors_.node, call, call->timeout(config_.node_timeout), unpublish_atom_v,
                 std::move(req));
  return call->reactor();
}

grpc::ServerUnaryReactor*
node_service::NodeGetVolumeStats(grpc::CallbackServerContext* ctx,
                                 const ::csi::v1::NodeGetVolumeStatsRequest* request,
                                 ::csi::v1::NodeGetVolumeStatsResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Node/NodeGetVolumeStats");
  if (call->refused_while_draining())
    return call->reactor();
  volume_path_request req{request->volume_id(), request->volume_path(), 0};
  auto checked = check_volume_id(req.volume_id);
  if (checked.ok())
    checked = check_volume_path(req.volume_path);
  if (refused(call, checked))
    return call->reactor();
  ask_then_finish<volume_stats>(
    sys_, actors_.node, call, call->timeout(config_.node_timeout),
    [=](const volume_stats& stats) {
      auto* bytes = response->add_usage();
      bytes->set_unit(::csi::v1::VolumeUsage::BYTES);
      bytes->set_total(static_cast<int64_t>(stats.total_bytes));
      if (!stats.block) {
        bytes->set_available(static_cast<int64_t>(stats.available_bytes));
        bytes->set_used(static_cast<int64_t>(stats.used_bytes));
        auto* inodes = response->add_usage();
        inodes->set_unit(::csi::v1::VolumeUsage::INODES);
        inodes->set_total(static_cast<int64_t>(stats.total_inodes));
        inodes->set_available(static_cast<int64_t>(stats.free_inodes));
        inodes->set_used(static_cast<int64_t>(stats.used_inodes));
      }
      response->mutable_volume_condition()->set_abnormal(stats.abnormal);
      response->mutable_volume_condition()->set_message(stats.condition);
    },
    stats_atom_v, req);
  return call->reactor();
}

grpc::ServerUnaryReactor*
node_service::NodeExpandVolume(grpc::CallbackServerContext* ctx,
                               const ::csi::v1::NodeExpandVolumeRequest* request,
                               ::csi::v1::NodeExpandVolumeResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Node/NodeExpandVolume");
  if (call->refused_while_draining())
    return call->reactor();
  volume_path_request req{request->volume_id(), request->volume_path(), 0};
  auto checked = check_volume_id(req.volume_id);
  if (checked.ok())
    checked = check_volume_path(req.volume_path);
  if (checked.ok() && request->has_capacity_range()) {
    if (request->capacity_range().required_bytes() < 0)
      checked = bad("capacity_range.required_bytes must not be negative");
    req.required_bytes = static_cast<uint64_t>(request->capacity_range().required_bytes());
  }
  if (checked.ok() && request->has_volume_capability()) {
    node_access ignored;
    checked = read_access(request->volume_capability(), ignored);
  }
  if (refused(call, checked))
    return call->reactor();
  ask_then_finish<uint64_t>(
    sys_, actors_.node, call, call->timeout(config_.node_timeout),
    [=](uint64_t capacity) { response->set_capacity_bytes(static_cast<int64_t>(capacity)); },
    expand_atom_v, req);
  return call->reactor();
}

grpc::ServerUnaryReactor*
node_service::NodeGetCapabilities(grpc::CallbackServerContext* ctx,
                                  const ::csi::v1::NodeGetCapabilitiesRequest*,
                                  ::csi::v1::NodeGetCapabilitiesResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Node/NodeGetCapabilities");
  if (call->refused_while_draining())
    return call->reactor();
  using rpc = ::csi::v1::NodeServiceCapability::RPC;
  for (auto type : {rpc::STAGE_UNSTAGE_VOLUME, rpc::GET_VOLUME_STATS, rpc::EXPAND_VOLUME,
                    rpc::VOLUME_CONDITION})
    response->add_capabilities()->mutable_rpc()->set_type(type);
  call->finish(grpc::Status::OK);
  return call->reactor();
}

grpc::ServerUnaryReactor* node_service::NodeGetInfo(grpc::CallbackServerContext* ctx,
                                                    const ::csi::v1::NodeGetInfoRequest*,
                                                    ::csi::v1::NodeGetInfoResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Node/NodeGetInfo");
  if (call->refused_while_draining())
    return call->reactor();
  response->set_node_id(config_.node_id);
  response->set_max_volumes_per_node(config_.max_volumes_per_node);
  call->finish(grpc::Status::OK);
  return call->reactor();
}

} // namespace rds::services::csi
