// One CSI RPC in flight: its reactor, its deadline, and its entry in
// csi_plugin_operations_seconds, recorded exactly once when it finishes.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/timespan.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "messages/actors.hpp"

namespace rds::services::csi {

/// RPCs in flight, and whether the server is draining for shutdown. Owned by the server.
struct call_tracker {
  std::atomic<int> in_flight{0};
  std::atomic<bool> draining{false};
};

class rpc_call {
 public:
  rpc_call(grpc::CallbackServerContext* ctx, call_tracker& tracker, metrics_actor metrics,
           const char* method);

  /// While the server drains, finishes the call with UNAVAILABLE (the CO retries elsewhere or
  /// later) and returns true.
  bool refused_while_draining();

  /// How long an actor request for this call may take: the client's deadline, capped.
  caf::timespan timeout(caf::timespan cap) const;

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }

  void finish(const grpc::Status& status);
  void finish(const outcome& result);
  void finish(const caf::error& failure);

 private:
  grpc::CallbackServerContext* ctx_;
  call_tracker& tracker_;
  grpc::ServerUnaryReactor* reactor_;
  metrics_actor metrics_;
  const char* method_;
  std::chrono::steady_clock::time_point started_;
};

using rpc_call_ptr = std::shared_ptr<rpc_call>;

/// Sends `xs...` to `to` from a one-shot actor (no gRPC thread waits on an actor). When the
/// reply is an outcome and `Rest...`, `fill(rest...)` writes the response if the outcome is a
/// success; the call then finishes with the outcome (or with the request's failure).
template <class... Rest, class Handle, class Fill, class... Ts>
void ask_then_finish(caf::actor_system& sys, const Handle& to, const rpc_call_ptr& call,
                     caf::timespan timeout, Fill fill, Ts... xs) {
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(to, timeout, xs...)
      .then(
        [=](const outcome& result, const Rest&... rest) {
          if (result.ok())
            fill(rest...);
          call->finish(result);
        },
        [=](caf::error& failure) { call->finish(failure); });
  });
}

/// ask_then_finish for a reply that is only an outcome.
template <class Handle, class... Ts>
void ask_and_finish(caf::actor_system& sys, const Handle& to, const rpc_call_ptr& call,
                    caf::timespan timeout, Ts... xs) {
  ask_then_finish(
    sys, to, call, timeout, [] {}, xs...);
}

} // namespace rds::services::csi
