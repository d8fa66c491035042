// An RPC's request through the call desk, and its end: map the result, record the metric, hand
// the status to gRPC.
#include "services/csi/rpc_call.hpp"

#include <algorithm>

#include "services/csi/status_mapping.hpp"

namespace rds::services::csi {

rpc_call::rpc_call(grpc::CallbackServerContext* ctx, call_tracker& tracker, const char* method)
  : ctx_(ctx)
  , tracker_(tracker)
  , reactor_(ctx->DefaultReactor())
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

void rpc_call::ask(caf::abstract_actor* to, caf::message request, caf::timespan timeout,
                   call_desk::reply_handler done, caf::execution_unit* host) {
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  if (host != nullptr) {
    tracker_.desk.ask(to, std::move(request), deadline, std::move(done), host);
    return;
  }
  caller_runs_scope scope{tracker_.here};
  tracker_.desk.ask(to, std::move(request), deadline, std::move(done), scope.unit());
}

void rpc_call::finish(const grpc::Status& status, caf::execution_unit* host) {
  if (finished_.exchange(true))
    return;
  auto elapsed =
    std::chrono::duration_cast<caf::timespan>(std::chrono::steady_clock::now() - started_);
  auto code = status.error_code();
  // The reply first: the metric is not on the client's path.
  reactor_->Finish(status);
  tracker_.desk.record(rpc_recorded{method_, sidecar_name(code), elapsed}, host);
  --tracker_.in_flight;
}

void rpc_call::finish(const outcome& result, caf::execution_unit* host) {
  finish(status_of(result), host);
}

void rpc_call::finish(const caf::error& failure, caf::execution_unit* host) {
  finish(status_of(failure), host);
}

} // namespace rds::services::csi
