// One CSI RPC in flight: its reactor, its deadline, and its entry in
// csi_plugin_operations_seconds, recorded exactly once when it finishes.
//
// A call's actor request is sent through the server's call desk (call_desk.hpp): from the gRPC
// thread straight to the actor that serves it, with the reply handed back to the call on the
// thread of the actor that replies. No actor is spawned per call and no gRPC thread waits on an
// actor. The desk keeps the deadline: a call past it finishes with DEADLINE_EXCEEDED, exactly as
// a CAF request timeout would, and a reply that comes later is dropped, because a call finishes
// only once.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/response_type.hpp>
#include <caf/timespan.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "messages/actors.hpp"
#include "services/csi/call_desk.hpp"
#include "services/csi/caller_runs.hpp"

namespace rds::services::csi {

class rpc_call;
using rpc_call_ptr = std::shared_ptr<rpc_call>;

/// RPCs in flight, whether the server is draining for shutdown, and the call desk. Owned by the
/// server.
struct call_tracker {
  call_tracker(caf::actor_system& sys, metrics_actor metrics)
    : desk(sys, std::move(metrics))
    , here(caller_runs_unit::of(sys)) {}
  call_tracker(const call_tracker&) = delete;
  call_tracker& operator=(const call_tracker&) = delete;

  std::atomic<int> in_flight{0};
  std::atomic<bool> draining{false};
  call_desk desk;
  /// Runs a call's actors on the gRPC thread that received it, when they are idle.
  caller_runs_unit& here;
};

class rpc_call {
 public:
  rpc_call(grpc::CallbackServerContext* ctx, call_tracker& tracker, const char* method);

  /// While the server drains, finishes the call with UNAVAILABLE (the CO retries elsewhere or
  /// later) and returns true.
  bool refused_while_draining();

  /// How long an actor request for this call may take: the client's deadline, capped.
  caf::timespan timeout(caf::timespan cap) const;

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }

  /// Sends `request` to `to` through the desk, with `done` for its reply and a deadline
  /// `timeout` from now. `host` is the execution unit of the thread this runs on, if any (in a
  /// reply handler); on a gRPC thread (null) the actors the request wakes may run on this thread
  /// before this returns, if they are idle and within the budget of caller_runs.hpp, so the call
  /// may be finished by then: it is the handler's last step.
  void ask(caf::abstract_actor* to, caf::message request, caf::timespan timeout,
           call_desk::reply_handler done, caf::execution_unit* host = nullptr);

  /// Finishes the call; only the first finish counts. `host` is the execution unit of the actor
  /// whose reply finishes it (its worker, or the gRPC thread's caller-runs list), or null on a
  /// gRPC thread: the metric goes out on that unit, queued behind the running actor, instead of
  /// waking another worker.
  void finish(const grpc::Status& status, caf::execution_unit* host = nullptr);
  void finish(const outcome& result, caf::execution_unit* host = nullptr);
  void finish(const caf::error& failure, caf::execution_unit* host = nullptr);

  /// Whether the call finished (its status went to gRPC).
  bool done() const { return finished_; }

 private:
  grpc::CallbackServerContext* ctx_;
  call_tracker& tracker_;
  grpc::ServerUnaryReactor* reactor_;
  const char* method_;
  std::chrono::steady_clock::time_point started_;
  std::atomic<bool> finished_{false};
};

namespace detail {

template <class... Rest, class Fill, size_t... I>
void fill_from(caf::message& reply, Fill& fill, std::index_sequence<I...>) {
  fill(reply.get_as<Rest>(I + 1)...);
}

} // namespace detail

/// Sends `xs...` to `to` through the call desk (no gRPC thread waits on an actor). When the
/// reply is an outcome and `Rest...`, `fill(rest...)` writes the response if the outcome is a
/// success; the call then finishes with the outcome (or with the request's failure, or with
/// DEADLINE_EXCEEDED once `timeout` passed). `fill` runs only while the call is unfinished, so
/// it never writes a response gRPC already sent. The request and its reply are checked against
/// the receiver's typed interface at compile time, as `request` does.
template <class... Rest, class Handle, class Fill, class... Ts>
void ask_then_finish(caf::actor_system&, const Handle& to, const rpc_call_ptr& call,
                     caf::timespan timeout, Fill fill, Ts... xs) {
  using token =
    caf::detail::type_list<typename caf::detail::implicit_conversions<std::decay_t<Ts>>::type...>;
  using answer = caf::response_type_unbox<caf::signatures_of_t<Handle>, token>;
  static_assert(answer::valid, "the receiver does not take this request");
  static_assert(
    std::is_same<typename answer::type, caf::detail::type_list<outcome, Rest...>>::value,
    "the receiver's reply is not (outcome, Rest...)");
  call->ask(caf::actor_cast<caf::abstract_actor*>(to), caf::make_message(std::move(xs)...), timeout,
            [call, fill](caf::message& reply, caf::execution_unit* host) mutable {
              if (reply.match_elements<outcome, Rest...>()) {
                if (call->done())
                  return;
                auto& result = reply.get_as<outcome>(0);
                if (result.ok())
                  detail::fill_from<Rest...>(reply, fill, std::index_sequence_for<Rest...>{});
                call->finish(result, host);
              } else if (reply.match_elements<caf::error>()) {
                call->finish(reply.get_as<caf::error>(0), host);
              } else {
                call->finish(caf::make_error(caf::sec::unexpected_response), host);
              }
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
