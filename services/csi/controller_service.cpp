// Controller RPCs. Each one checks its arguments from the request alone (INVALID_ARGUMENT,
// nothing changes), turns it into one typed request carrying the CO's deadline, sends that to the
// one actor that owns the answer (attachments and existence: the volume supervisor; which volumes
// exist: the volume catalog; everything else: the rds actor) from a one-shot actor, and finishes
// the RPC from the reply. Every rule about the world lives in those actors.
#include "services/csi/controller_service.hpp"

#include "messages/deadline.hpp"
#include "messages/page_token.hpp"
#include "messages/validation.hpp"
#include "messages/volume_context.hpp"
#include "services/csi/capability.hpp"
#include "services/csi/rpc_call.hpp"
#include "services/csi/volume_request.hpp"

namespace rds::services::csi {

namespace {

/// max_entries and starting_token of a List call: `after` becomes the id the previous page
/// ended at (empty: from the start). A token this driver did not give out is ABORTED.
grpc::Status check_page(int32_t max_entries, const std::string& token, page_kind kind,
                        outcome (*check_id)(const std::string&), std::string& after) {
  if (max_entries < 0)
    return {grpc::StatusCode::INVALID_ARGUMENT, "max_entries must not be negative"};
  after.clear();
  if (!token.empty() && (!read_page_token(kind, token, after) || !check_id(after).ok()))
    return {grpc::StatusCode::ABORTED, "starting_token is not a token this driver gave out"};
  return grpc::Status::OK;
}

/// The deadline an actor request given `timeout` carries on to its inner requests.
request_deadline deadline_in(caf::actor_system& sys, caf::timespan timeout) {
  return deadline_after(sys.clock(), timeout);
}

} // namespace

controller_service::controller_service(caf::actor_system& sys, const server_config& config,
                                       server_actors actors, call_tracker& tracker)
  : sys_(sys)
  , config_(config)
  , actors_(std::move(actors))
  , tracker_(tracker) {}

grpc::ServerUnaryReactor* controller_service::ControllerGetCapabilities(
  grpc::CallbackServerContext* ctx, const ::csi::v1::ControllerGetCapabilitiesRequest*,
  ::csi::v1::ControllerGetCapabilitiesResponse* response) {
  auto call =
    std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/ControllerGetCapabilities");
  if (call->refused_while_draining())
    return call->reactor();
  // Only what is implemented.
  for (auto rpc : {::csi::v1::ControllerServiceCapability::RPC::CREATE_DELETE_VOLUME,
                   ::csi::v1::ControllerServiceCapability::RPC::PUBLISH_UNPUBLISH_VOLUME,
                   ::csi::v1::ControllerServiceCapability::RPC::LIST_VOLUMES,
                   ::csi::v1::ControllerServiceCapability::RPC::GET_CAPACITY,
                   ::csi::v1::ControllerServiceCapability::RPC::CREATE_DELETE_SNAPSHOT,
                   ::csi::v1::ControllerServiceCapability::RPC::LIST_SNAPSHOTS,
                   ::csi::v1::ControllerServiceCapability::RPC::CLONE_VOLUME,
                   ::csi::v1::ControllerServiceCapability::RPC::EXPAND_VOLUME,
                   ::csi::v1::ControllerServiceCapability::RPC::GET_VOLUME,
                   ::csi::v1::ControllerServiceCapability::RPC::PUBLISH_READONLY})
    response->add_capabilities()->mutable_rpc()->set_type(rpc);
  call->finish(grpc::Status::OK);
  return call->reactor();
}

grpc::ServerUnaryReactor* controller_service::ValidateVolumeCapabilities(
  grpc::CallbackServerContext* ctx, const ::csi::v1::ValidateVolumeCapabilitiesRequest* request,
  ::csi::v1::ValidateVolumeCapabilitiesResponse* response) {
  auto call =
    std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/ValidateVolumeCapabilities");
  if (call->refused_while_draining())
    return call->reactor();
  if (auto id = check_volume_id(request->volume_id()); !id.ok()) {
    call->finish(id);
    return call->reactor();
  }
  if (request->volume_capabilities().empty()) {
    call->finish(outcome::failure(ec::invalid_argument, "volume_capabilities is required"));
    return call->reactor();
  }
  // A capability the driver does not serve is an answer, not an error.
  std::string unsupported;
  for (auto& capability : request->volume_capabilities()) {
    publish_capability ignored;
    if (auto r = read_capability(capability, false, ignored); !r.ok()) {
      unsupported = r.message;
      break;
    }
  }
  auto timeout = call->timeout(config_.request_timeout);
  ask_then_finish(
    sys_, actors_.supervisor, call, timeout,
    [=] {
      if (!unsupported.empty()) {
        response->set_message(unsupported);
        return;
      }
      auto* confirmed = response->mutable_confirmed();
      *confirmed->mutable_volume_context() = request->volume_context();
      *confirmed->mutable_volume_capabilities() = request->volume_capabilities();
      *confirmed->mutable_parameters() = request->parameters();
      *confirmed->mutable_mutable_parameters() = request->mutable_parameters();
    },
    find_atom_v, volume_id_request{request->volume_id(), deadline_in(sys_, timeout)});
  return call->reactor();
}

grpc::ServerUnaryReactor* controller_service::ControllerPublishVolume(
  grpc::CallbackServerContext* ctx, const ::csi::v1::ControllerPublishVolumeRequest* request,
  ::csi::v1::ControllerPublishVolumeResponse* response) {
  auto call =
    std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/ControllerPublishVolume");
  if (call->refused_while_draining())
    return call->reactor();
  publish_request req;
  req.volume_id = request->volume_id();
  req.node_id = request->node_id();
  auto checked = check_volume_id(req.volume_id);
  if (checked.ok())
    checked = check_node_id(req.node_id);
  if (checked.ok() && !request->has_volume_capability())
    checked = outcome::failure(ec::invalid_argument, "volume_capability is required");
  if (checked.ok())
    checked = read_capability(request->volume_capability(), request->readonly(), req.capability);
  volume_context context;
  if (checked.ok())
    checked =
      read_volume_context({request->volume_context().begin(), request->volume_context().end()},
                          {config_.migrations}, context);
  if (!checked.ok()) {
    call->finish(checked);
    return call->reactor();
  }
  req.migration_timeout = context.migration_timeout;
  // The node mounts read-only what was attached read-only (sent only with a success).
  if (req.capability.readonly)
    (*response->mutable_publish_context())[publish_readonly_key] = "true";
  // When it was asked, for the order of a volume's attachments after a restart (see the key).
  (*response->mutable_publish_context())[publish_published_at_key] =
    std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count());
  auto timeout = call->timeout(config_.request_timeout);
  req.deadline = deadline_in(sys_, timeout);
  ask_and_finish(sys_, actors_.supervisor, call, timeout, publish_atom_v, std::move(req));
  return call->reactor();
}

grpc::ServerUnaryReactor* controller_service::ControllerUnpublishVolume(
  grpc::CallbackServerContext* ctx, const ::csi::v1::ControllerUnpublishVolumeRequest* request,
  ::csi::v1::ControllerUnpublishVolumeResponse*) {
  auto call =
    std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/ControllerUnpublishVolume");
  if (call->refused_while_draining())
    return call->reactor();
  unpublish_request req{request->volume_id(), request->node_id(), no_deadline};
  auto checked = check_volume_id(req.volume_id);
  // An empty node_id is allowed: it means every node.
  if (checked.ok() && !req.node_id.empty())
    checked = check_node_id(req.node_id);
  if (!checked.ok()) {
    call->finish(checked);
    return call->reactor();
  }
  auto timeout = call->timeout(config_.request_timeout);
  req.deadline = deadline_in(sys_, timeout);
  ask_and_finish(sys_, actors_.supervisor, call, timeout, unpublish_atom_v, std::move(req));
  return call->reactor();
}

grpc::ServerUnaryReactor*
controller_service::CreateVolume(grpc::CallbackServerContext* ctx,
                                 const ::csi::v1::CreateVolumeRequest* request,
                                 ::csi::v1::CreateVolumeResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/CreateVolume");
  if (call->refused_while_draining())
    return call->reactor();
  create_volume_request req;
  std::map<std::string, std::string> context;
  auto checked = read_create_volume(*request, config_, req, context);
  if (!checked.ok()) {
    call->finish(checked);
    return call->reactor();
  }
  auto timeout = call->timeout(config_.request_timeout);
  req.deadline = deadline_in(sys_, timeout);
  ask_then_finish<volume_info>(
    sys_, actors_.catalog, call, timeout,
    [=](const volume_info& info) {
      auto* volume = response->mutable_volume();
      volume->set_volume_id(info.volume_id);
      volume->set_capacity_bytes(static_cast<int64_t>(info.capacity_bytes));
      for (auto& [key, value] : context)
        (*volume->mutable_volume_context())[key] = value;
      (*volume->mutable_volume_context())["nqn"] = info.nqn;
      if (request->has_volume_content_source())
        *volume->mutable_content_source() = request->volume_content_source();
    },
    create_atom_v, req);
  return call->reactor();
}

grpc::ServerUnaryReactor*
controller_service::DeleteVolume(grpc::CallbackServerContext* ctx,
                                 const ::csi::v1::DeleteVolumeRequest* request,
                                 ::csi::v1::DeleteVolumeResponse*) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/DeleteVolume");
  if (call->refused_while_draining())
    return call->reactor();
  if (auto checked = check_volume_id(request->volume_id()); !checked.ok()) {
    call->finish(checked);
    return call->reactor();
  }
  auto timeout = call->timeout(config_.request_timeout);
  ask_and_finish(sys_, actors_.catalog, call, timeout, delete_atom_v,
                 volume_id_request{request->volume_id(), deadline_in(sys_, timeout)});
  return call->reactor();
}

grpc::ServerUnaryReactor*
controller_service::GetCapacity(grpc::CallbackServerContext* ctx,
                                const ::csi::v1::GetCapacityRequest* request,
                                ::csi::v1::GetCapacityResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/GetCapacity");
  if (call->refused_while_draining())
    return call->reactor();
  for (auto& capability : request->volume_capabilities()) {
    publish_capability ignored;
    if (!read_capability(capability, false, ignored).ok()) {
      // Nothing can be provisioned for a capability the driver does not serve.
      response->set_available_capacity(0);
      call->finish(grpc::Status::OK);
      return call->reactor();
    }
  }
  ask_then_finish<uint64_t>(
    sys_, actors_.rds, call, call->timeout(config_.request_timeout),
    [=](uint64_t free) {
      response->set_available_capacity(static_cast<int64_t>(free));
      response->mutable_maximum_volume_size()->set_value(
        static_cast<int64_t>(std::min(free, max_volume_bytes)));
    },
    capacity_atom_v);
  return call->reactor();
}

grpc::ServerUnaryReactor*
controller_service::ControllerExpandVolume(grpc::CallbackServerContext* ctx,
                                           const ::csi::v1::ControllerExpandVolumeRequest* request,
                                           ::csi::v1::ControllerExpandVolumeResponse* response) {
  auto call =
    std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/ControllerExpandVolume");
  if (call->refused_while_draining())
    return call->reactor();
  auto checked = check_volume_id(request->volume_id());
  uint64_t size = 0;
  if (checked.ok() && !request->has_capacity_range())
    checked = outcome::failure(ec::invalid_argument, "capacity_range is required");
  if (checked.ok())
    checked = size_for(request->capacity_range().required_bytes(),
                       request->capacity_range().limit_bytes(), size);
  publish_capability capability;
  if (checked.ok() && request->has_volume_capability())
    checked = read_capability(request->volume_capability(), false, capability);
  if (!checked.ok()) {
    call->finish(checked);
    return call->reactor();
  }
  // A filesystem grows on the node; a raw block device only needs the node to see the new size.
  bool filesystem = request->has_volume_capability() && !capability.block;
  ask_then_finish<uint64_t>(
    sys_, actors_.rds, call, call->timeout(config_.request_timeout),
    [=](uint64_t capacity) {
      response->set_capacity_bytes(static_cast<int64_t>(capacity));
      response->set_node_expansion_required(filesystem);
    },
    expand_atom_v, request->volume_id(), size);
  return call->reactor();
}

grpc::ServerUnaryReactor*
controller_service::ListVolumes(grpc::CallbackServerContext* ctx,
                                const ::csi::v1::ListVolumesRequest* request,
                                ::csi::v1::ListVolumesResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/ListVolumes");
  if (call->refused_while_draining())
    return call->reactor();
  std::string token;
  if (auto page = check_page(request->max_entries(), request->starting_token(), page_kind::volumes,
                             check_volume_id, token);
      !page.ok()) {
    call->finish(page);
    return call->reactor();
  }
  auto max_entries = static_cast<size_t>(request->max_entries());
  ask_then_finish<std::vector<volume_info>>(
    sys_, actors_.rds, call, call->timeout(config_.request_timeout),
    [=](const std::vector<volume_info>& volumes) {
      for (auto& v : volumes) {
        if (!token.empty() && v.volume_id <= token)
          continue;
        if (max_entries > 0 && static_cast<size_t>(response->entries_size()) == max_entries) {
          response->set_next_token(make_page_token(
            page_kind::volumes, response->entries().rbegin()->volume().volume_id()));
          break;
        }
        auto* volume = response->add_entries()->mutable_volume();
        volume->set_volume_id(v.volume_id);
        volume->set_capacity_bytes(static_cast<int64_t>(v.capacity_bytes));
        (*volume->mutable_volume_context())["nqn"] = v.nqn;
      }
    },
    list_atom_v);
  return call->reactor();
}

grpc::ServerUnaryReactor* controller_service::not_implemented(grpc::CallbackServerContext* ctx,
                                                              const char* method) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, method);
  call->finish(grpc::Status{grpc::StatusCode::UNIMPLEMENTED,
                            std::string{method} + " is not offered by this plugin"});
  return call->reactor();
}

namespace {

void fill(::csi::v1::Snapshot& out, const snapshot_info& info) {
  out.set_snapshot_id(info.snapshot_id);
  out.set_source_volume_id(info.source_volume_id);
  out.set_size_bytes(static_cast<int64_t>(info.size_bytes));
  out.mutable_creation_time()->set_seconds(info.created_at);
  // The copy is complete when CreateSnapshot answers.
  out.set_ready_to_use(true);
}

} // namespace

grpc::ServerUnaryReactor*
controller_service::CreateSnapshot(grpc::CallbackServerContext* ctx,
                                   const ::csi::v1::CreateSnapshotRequest* request,
                                   ::csi::v1::CreateSnapshotResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/CreateSnapshot");
  if (call->refused_while_draining())
    return call->reactor();
  create_snapshot_request req{request->name(), request->source_volume_id()};
  auto checked = outcome::success();
  if (req.name.empty())
    checked = outcome::failure(ec::invalid_argument, "name is required");
  else if (req.name.size() > max_volume_id_length)
    checked =
      outcome::failure(ec::invalid_argument,
                       "name is longer than " + std::to_string(max_volume_id_length) + " bytes");
  for (unsigned char c : req.name)
    if (checked.ok() && (c < 0x20 || c == 0x7f))
      checked = outcome::failure(ec::invalid_argument, "name contains a control character");
  if (checked.ok())
    checked = check_volume_id(req.source_volume_id);
  for (auto& [key, value] : request->parameters())
    if (checked.ok() && key.rfind("csi.storage.k8s.io/", 0) != 0)
      checked = outcome::failure(ec::invalid_argument,
                                 "unknown VolumeSnapshotClass parameter '" + key + "'");
  if (!checked.ok()) {
    call->finish(checked);
    return call->reactor();
  }
  // The copy takes as long as the data: the CO's deadline bounds it, not the driver's default.
  ask_then_finish<snapshot_info>(
    sys_, actors_.rds, call, call->timeout(std::chrono::minutes{30}),
    [=](const snapshot_info& info) { fill(*response->mutable_snapshot(), info); }, snapshot_atom_v,
    req);
  return call->reactor();
}

grpc::ServerUnaryReactor*
controller_service::DeleteSnapshot(grpc::CallbackServerContext* ctx,
                                   const ::csi::v1::DeleteSnapshotRequest* request,
                                   ::csi::v1::DeleteSnapshotResponse*) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/DeleteSnapshot");
  if (call->refused_while_draining())
    return call->reactor();
  if (auto checked = check_snapshot_id(request->snapshot_id()); !checked.ok()) {
    call->finish(checked);
    return call->reactor();
  }
  ask_and_finish(sys_, actors_.rds, call, call->timeout(config_.request_timeout), unsnapshot_atom_v,
                 request->snapshot_id());
  return call->reactor();
}

grpc::ServerUnaryReactor*
controller_service::ListSnapshots(grpc::CallbackServerContext* ctx,
                                  const ::csi::v1::ListSnapshotsRequest* request,
                                  ::csi::v1::ListSnapshotsResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/ListSnapshots");
  if (call->refused_while_draining())
    return call->reactor();
  std::string token;
  if (auto page = check_page(request->max_entries(), request->starting_token(),
                             page_kind::snapshots, check_snapshot_id, token);
      !page.ok()) {
    call->finish(page);
    return call->reactor();
  }
  auto max_entries = static_cast<size_t>(request->max_entries());
  auto only_snapshot = request->snapshot_id();
  auto only_source = request->source_volume_id();
  ask_then_finish<std::vector<snapshot_info>>(
    sys_, actors_.rds, call, call->timeout(config_.request_timeout),
    [=](const std::vector<snapshot_info>& snapshots) {
      // Filters that match nothing give an empty list, not an error.
      for (auto& s : snapshots) {
        if ((!token.empty() && s.snapshot_id <= token)
            || (!only_snapshot.empty() && s.snapshot_id != only_snapshot)
            || (!only_source.empty() && s.source_volume_id != only_source))
          continue;
        if (max_entries > 0 && static_cast<size_t>(response->entries_size()) == max_entries) {
          response->set_next_token(make_page_token(
            page_kind::snapshots, response->entries().rbegin()->snapshot().snapshot_id()));
          break;
        }
        fill(*response->add_entries()->mutable_snapshot(), s);
      }
    },
    snapshots_atom_v);
  return call->reactor();
}

grpc::ServerUnaryReactor* controller_service::GetSnapshot(grpc::CallbackServerContext* ctx,
                                                          const ::csi::v1::GetSnapshotRequest*,
                                                          ::csi::v1::GetSnapshotResponse*) {
  return not_implemented(ctx, "/csi.v1.Controller/GetSnapshot");
}

grpc::ServerUnaryReactor*
controller_service::ControllerGetVolume(grpc::CallbackServerContext* ctx,
                                        const ::csi::v1::ControllerGetVolumeRequest* request,
                                        ::csi::v1::ControllerGetVolumeResponse* response) {
  auto call = std::make_shared<rpc_call>(ctx, tracker_, "/csi.v1.Controller/ControllerGetVolume");
  if (call->refused_while_draining())
    return call->reactor();
  if (auto checked = check_volume_id(request->volume_id()); !checked.ok()) {
    call->finish(checked);
    return call->reactor();
  }
  auto timeout = call->timeout(config_.request_timeout);
  ask_then_finish<volume_info, attachment_state>(
    sys_, actors_.supervisor, call, timeout,
    [=](const volume_info& info, const attachment_state& state) {
      auto* volume = response->mutable_volume();
      volume->set_volume_id(info.volume_id);
      volume->set_capacity_bytes(static_cast<int64_t>(info.capacity_bytes));
      (*volume->mutable_volume_context())["nqn"] = info.nqn;
      auto* status = response->mutable_status();
      for (auto& node : state.nodes)
        status->add_published_node_ids(node.node_id);
    },
    describe_atom_v, volume_id_request{request->volume_id(), deadline_in(sys_, timeout)});
  return call->reactor();
}

grpc::ServerUnaryReactor*
controller_service::ControllerModifyVolume(grpc::CallbackServerContext* ctx,
                                           const ::csi::v1::ControllerModifyVolumeRequest*,
                                           ::csi::v1::ControllerModifyVolumeResponse*) {
  return not_implemented(ctx, "/csi.v1.Controller/ControllerModifyVolume");
}

} // namespace rds::services::csi
