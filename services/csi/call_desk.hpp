// Where the CSI edge's actor requests are sent from and their replies come back to, with no
// actor turn of its own.
//
// A call's request goes from the gRPC thread straight to the actor that serves it (the volume
// supervisor, the node supervisor, ...), with the desk's reply actor as the sender. That actor is
// a CAF actor companion: CAF delivers a reply by enqueueing it, and the desk's enqueue hands it
// to the waiting call at once, on the thread of the actor that replied. A reply is a function
// call there, not a message that another actor must take in a turn of its own (until
// 2026-12-02 an actor, the call dispatcher, sent every request and took every reply: two more
// messages and actor turns per call).
//
// The desk keeps each request's deadline itself instead of a CAF request timeout (whose two
// events per request, set and cancel, each wake CAF's clock thread): a small sweeper actor looks
// every `deadline_sweep` for requests past their deadline while any wait, and hands them
// `sec::request_timeout` as their reply, exactly as a CAF request timeout would. A reply that
// comes later is dropped: each request's handler runs exactly once.
//
// The desk also passes the finished calls' metric records on to the metrics actor, many calls'
// records in one message while calls keep coming (see record()).
#pragma once

#include <caf/abstract_actor.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/execution_unit.hpp>
#include <caf/message.hpp>

#include <chrono>
#include <functional>
#include <memory>

#include "messages/actors.hpp"

namespace rds::services::csi {

/// How often the desk looks for requests past their deadline (so a deadline is kept to within
/// this).
constexpr auto deadline_sweep = std::chrono::milliseconds{50};

/// The finished calls' records go to the metrics actor at most this often while calls keep
/// coming (a message and a turn of the metrics actor each time; many gathered go at once).
constexpr auto record_interval = std::chrono::milliseconds{10};

class call_desk {
 public:
  using clock = std::chrono::steady_clock;

  /// Takes a request's reply, or a `caf::error` when it failed (the receiver is gone, or its
  /// deadline passed), exactly once, on the thread that delivered it. `host` is the execution
  /// unit running there (an actor's worker, a caller-runs list), for what the handler sends in
  /// turn; null where there is none.
  using reply_handler = std::function<void(caf::message& reply, caf::execution_unit* host)>;

  /// `metrics`: where the finished calls' records go (see record()).
  call_desk(caf::actor_system& sys, metrics_actor metrics);
  /// Requests still waiting are dropped (their handlers never run), so are later replies.
  ~call_desk();
  call_desk(const call_desk&) = delete;
  call_desk& operator=(const call_desk&) = delete;

  /// Sends `request` to `to` as a request from the desk, on `unit` (the sender's execution unit:
  /// a caller-runs unit on a gRPC thread, the running actor's unit in a reply handler); `done`
  /// gets the reply, or `sec::request_timeout` once `deadline` passed. A null `to` is answered
  /// with `sec::invalid_argument` at once, as CAF does.
  void ask(caf::abstract_actor* to, caf::message request, clock::time_point deadline,
           reply_handler done, caf::execution_unit* unit);

  /// Passes a finished RPC's record on to the metrics actor: at once when no request waits and
  /// none was passed on within `record_interval` (a lone call sees its record go at once), else
  /// with those of the calls that finish meanwhile: when no request waits once the interval has
  /// passed, when many are gathered, or at the next sweep (`deadline_sweep`, armed for it).
  /// `host` as for ask().
  void record(rpc_recorded finished, caf::execution_unit* host);

  /// The requests waiting for their reply (tests).
  size_t waiting() const;

  struct book;

 private:
  std::shared_ptr<book> book_;
  caf::strong_actor_ptr reply_actor_;
  caf::actor sweeper_;
};

} // namespace rds::services::csi
