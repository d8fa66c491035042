// One CSI RPC in flight: its reactor, its deadline, and its entry in
// csi_plugin_operations_seconds, recorded exactly once when it finishes.
//
// Every call's actor request is sent by one long-lived actor, the call dispatcher, which also
// receives the reply and finishes the call: no actor is spawned per call and no gRPC thread
// waits on an actor. The dispatcher enforces each call's deadline itself (a sweep every
// `deadline_sweep`) instead of giving every request a CAF timeout, whose two clock events per
// request (set, then cancel) each wake CAF's clock thread. A call past its deadline finishes
// with DEADLINE_EXCEEDED, exactly as a CAF request timeout would; a reply that comes later is
// dropped, because a call finishes only once.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/timespan.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "messages/actors.hpp"
#include "services/csi/caller_runs.hpp"

namespace rds::services::csi {

class rpc_call;
using rpc_call_ptr = std::shared_ptr<rpc_call>;

/// Work for the dispatcher: send one call's request and install the handler of its reply.
struct dispatch_step {
  rpc_call_ptr call;
  /// When the call gives up on its reply.
  std::chrono::steady_clock::time_point deadline;
  std::function<void(caf::event_based_actor*)> send;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, dispatch_step&) {
  return f(caf::meta::type_name("dispatch_step"));
}

/// How often the dispatcher looks for calls past their deadline (so a deadline is kept to
/// within this).
constexpr auto deadline_sweep = std::chrono::milliseconds{50};

/// Spawns the call dispatcher (see the top of this file).
caf::actor spawn_call_dispatcher(caf::actor_system& sys);

/// RPCs in flight, whether the server is draining for shutdown, and the call dispatcher. Owned
/// by the server.
struct call_tracker {
  explicit call_tracker(caf::actor_system& sys)
    : dispatcher(spawn_call_dispatcher(sys))
    , here(caller_runs_unit::of(sys)) {}
  ~call_tracker() { caf::anon_send_exit(dispatcher, caf::exit_reason::user_shutdown); }
  call_tracker(const call_tracker&) = delete;
  call_tracker& operator=(const call_tracker&) = delete;

  std::atomic<int> in_flight{0};
  std::atomic<bool> draining{false};
  caf::actor dispatcher;
  /// Runs a call's actors on the gRPC thread that received it, when they are idle.
  caller_runs_unit& here;
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

  /// Runs `send` in the dispatcher, with this call's deadline (`timeout` from now). The
  /// dispatcher and the actors it wakes may run on this thread before this returns, if they are
  /// idle and within the budget of caller_runs.hpp, so the call may be finished by then: it is
  /// the handler's last step.
  void dispatch(const rpc_call_ptr& self, caf::timespan timeout,
                std::function<void(caf::event_based_actor*)> send);

  /// Finishes the call; only the first finish counts (a late reply after the deadline is
  /// dropped). `from` is the actor running this (the dispatcher), or null on a gRPC thread: the
  /// metric then goes out on the execution unit running that actor (its worker, or the gRPC
  /// thread's caller-runs list), instead of waking another worker.
  void finish(const grpc::Status& status, caf::local_actor* from = nullptr);
  void finish(const outcome& result, caf::local_actor* from = nullptr);
  void finish(const caf::error& failure, caf::local_actor* from = nullptr);

  /// Whether the call finished (its status went to gRPC).
  bool done() const { return finished_; }

 private:
  grpc::CallbackServerContext* ctx_;
  call_tracker& tracker_;
  grpc::ServerUnaryReactor* reactor_;
  metrics_actor metrics_;
  const char* method_;
  std::chrono::steady_clock::time_point started_;
  std::atomic<bool> finished_{false};
  /// Set by the dispatcher while the call waits there for its reply: removes it from the
  /// dispatcher's deadlines (run by finish, which then runs in the dispatcher).
  std::function<void()> forget_;

  friend caf::behavior call_dispatcher(caf::event_based_actor* self);
};

/// Sends `xs...` to `to` from the call dispatcher (no gRPC thread waits on an actor). When the
/// reply is an outcome and `Rest...`, `fill(rest...)` writes the response if the outcome is a
/// success; the call then finishes with the outcome (or with the request's failure, or with
/// DEADLINE_EXCEEDED once `timeout` passed). `fill` runs only while the call is unfinished, so
/// it never writes a response gRPC already sent.
template <class... Rest, class Handle, class Fill, class... Ts>
void ask_then_finish(caf::actor_system&, const Handle& to, const rpc_call_ptr& call,
                     caf::timespan timeout, Fill fill, Ts... xs) {
  call->dispatch(call, timeout, [=](caf::event_based_actor* self) {
    // The deadline is the dispatcher's (see the top of this file), not a CAF timeout.
    self->request(to, caf::infinite, xs...)
      .then(
        [=](const outcome& result, const Rest&... rest) {
          if (call->done())
            return;
          if (result.ok())
            fill(rest...);
          call->finish(result, self);
        },
        [=](caf::error& failure) { call->finish(failure, self); });
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
