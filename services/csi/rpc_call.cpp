// Finishing an RPC: map the result, record the metric, hand the status to gRPC.
#include "services/csi/rpc_call.hpp"

#include <caf/send.hpp>

#include <algorithm>

#include "services/csi/status_mapping.hpp"

namespace rds::services::csi {

rpc_call::rpc_call(grpc::CallbackServerContext* ctx, call_tracker& tracker, metrics_actor metrics,
                   const char* method)
  : ctx_(ctx)
  , tracker_(tracker)
  , reactor_(ctx->DefaultReactor())
  , metrics_(std::move(metrics))
  , method_(method)
  , started_(std::chrono::steady_clock::now()) {
  ++tracker_.in_flight;
}

bool rpc_call::refused_while_draining() {
  if (!tracker_.draining)
    return false;
  finish(grpc::Status{grpc::StatusCode::UNAVAILABLE, "the plugin is shutting down"});
  return true;
}

caf::timespan rpc_call::timeout(caf::timespan cap) const {
  auto left = ctx_->deadline() - std::chrono::system_clock::now();
  auto remaining = std::chrono::duration_cast<caf::timespan>(left);
  return std::clamp(remaining, caf::timespan{std::chrono::milliseconds{1}}, cap);
}

void rpc_call::finish(const grpc::Status& status) {
  auto elapsed = std::chrono::steady_clock::now() - started_;
  caf::anon_send(metrics_, rpc_recorded{method_, sidecar_name(status.error_code()),
                                        std::chrono::duration_cast<caf::timespan>(elapsed)});
  reactor_->Finish(status);
  --tracker_.in_flight;
}

void rpc_call::finish(const outcome& result) {
  finish(status_of(result));
}

void rpc_call::finish(const caf::error& failure) {
  finish(status_of(failure));
}

} // namespace rds::services::csi
