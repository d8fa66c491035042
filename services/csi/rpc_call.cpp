// Finishing an RPC: map the result, record the metric, hand the status to gRPC.
#include "services/csi/rpc_call.hpp"

#include <caf/atom.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <map>

#include "services/csi/status_mapping.hpp"

namespace rds::services::csi {

namespace {

using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using steady_time = std::chrono::steady_clock::time_point;

} // namespace

caf::behavior call_dispatcher(caf::event_based_actor* self) {
  // Calls waiting for their reply, by deadline; a call leaves when it finishes.
  auto waiting = std::make_shared<std::multimap<steady_time, rpc_call_ptr>>();
  auto sweep_armed = std::make_shared<bool>(false);
  return {
    [=](dispatch_step& step) {
      auto entry = waiting->emplace(step.deadline, step.call);
      // A plain pointer: the map owns the call, so the call must not own the map.
      step.call->forget_ = [map = waiting.get(), entry] { map->erase(entry); };
      step.send(self);
      if (!*sweep_armed) {
        *sweep_armed = true;
        self->delayed_send(self, deadline_sweep, sweep_atom::value);
      }
    },
    [=](sweep_atom) {
      auto now = std::chrono::steady_clock::now();
      while (!waiting->empty() && waiting->begin()->first <= now) {
        auto call = waiting->begin()->second;
        waiting->erase(waiting->begin());
        call->forget_ = nullptr;
        call->finish(caf::make_error(caf::sec::request_timeout), self);
      }
      *sweep_armed = !waiting->empty();
      if (*sweep_armed)
        self->delayed_send(self, deadline_sweep, sweep_atom::value);
    },
  };
}

caf::actor spawn_call_dispatcher(caf::actor_system& sys) {
  return sys.spawn(call_dispatcher);
}

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

void rpc_call::dispatch(const rpc_call_ptr& self, caf::timespan timeout,
                        std::function<void(caf::event_based_actor*)> send) {
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  caller_runs_scope scope{tracker_.here};
  caf::actor_cast<caf::abstract_actor*>(tracker_.dispatcher)
    ->eq_impl(caf::make_message_id(), nullptr, scope.unit(),
              dispatch_step{self, deadline, std::move(send)});
}

void rpc_call::finish(const grpc::Status& status, caf::local_actor* from) {
  if (finished_.exchange(true))
    return;
  if (forget_) {
    forget_();
    forget_ = nullptr;
  }
  auto elapsed =
    std::chrono::duration_cast<caf::timespan>(std::chrono::steady_clock::now() - started_);
  auto code = status.error_code();
  // The reply first: the metric is not on the client's path.
  reactor_->Finish(status);
  rpc_recorded recorded{method_, sidecar_name(code), elapsed};
  // anon_send from a worker would schedule the metrics actor on another (sleeping) worker and
  // wake it; a send from the running actor queues it behind this one on the same worker.
  if (from != nullptr)
    caf::actor_cast<caf::abstract_actor*>(metrics_)->eq_impl(caf::make_message_id(), nullptr,
                                                             from->context(), std::move(recorded));
  else
    caf::anon_send(metrics_, std::move(recorded));
  --tracker_.in_flight;
}

void rpc_call::finish(const outcome& result, caf::local_actor* from) {
  finish(status_of(result), from);
}

void rpc_call::finish(const caf::error& failure, caf::local_actor* from) {
  finish(status_of(failure), from);
}

} // namespace rds::services::csi
