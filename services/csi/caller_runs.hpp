// Runs the actors a CSI call wakes on the gRPC thread that received the call, instead of handing
// them to a CAF worker and, for the answer, back to a gRPC thread.
//
// A message to an idle actor schedules that actor on the sender's execution unit. Sent from a
// gRPC thread with no unit, it goes to CAF's scheduler, which wakes a sleeping worker; the
// worker's Finish then wakes a gRPC poller: two thread hand-overs per call, most of the edge's
// cost on a small machine (see the README's benchmark). Inside a `caller_runs_scope`, a message
// sent with the scope's unit puts an idle actor on this thread's own list; when the scope ends,
// the thread runs that list (and what those actors wake in turn) itself, like a worker would.
//
// The guarantees:
// - Nothing is lost: the scope runs at most `max_resumes` actor turns of at most `max_messages`
//   messages each, and starts no turn after its time (`max_time`), then hands whatever is still on
//   its list to the scheduler (so does a full list, at once). What waits on the list waits at most
//   that long, since workers cannot steal from it. An actor busy elsewhere is not touched (it is
//   not idle, so nothing is put on the list): under load the work stays with the workers.
// - A turn is not preempted: an actor woken here also handles what was already in its mailbox
//   (say a relist for the supervisor), on this gRPC thread instead of a worker; either way the
//   thread is busy for that long.
// - An actor keeps a pointer to the unit it last ran on. The unit is one object per actor system
//   that is never freed, and a unit outside its own thread's scope (a stale pointer used later,
//   from anywhere) gives the actor to the scheduler: it never lands on a list nobody runs.
// - Only actors that never block run here: blocking work is in detached actors, which have a
//   thread of their own and are never scheduled on a unit. (Logging writes its line in the
//   caller, here as on a worker.) A blocking wait for another actor inside one run here would
//   deadlock if that actor sat on this thread's list: there is none, and there must be none.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/execution_unit.hpp>
#include <caf/resumable.hpp>

#include <chrono>
#include <cstddef>

namespace rds::services::csi {

class caller_runs_unit final : public caf::execution_unit {
 public:
  /// The unit of `sys` (created once, never freed: actors may point at it after a server ends).
  static caller_runs_unit& of(caf::actor_system& sys);

  /// On the thread whose scope is open: onto its list; anywhere else: to the scheduler.
  void exec_later(caf::resumable* job) override;

 private:
  explicit caller_runs_unit(caf::actor_system& sys);
};

/// While open, actors woken with `unit()` go to this thread's list; the destructor runs them.
/// Scopes do not nest: an inner one (an actor run here opening one) leaves the work to the outer.
class caller_runs_scope {
 public:
  /// Actor turns a scope runs on its thread before it hands the rest to the scheduler.
  static constexpr size_t max_resumes = 24;
  /// Messages an actor handles in one of those turns.
  static constexpr size_t max_messages = 8;
  /// By default no turn starts after this (a call's own chain takes tens of microseconds).
  static constexpr std::chrono::microseconds max_time{500};

  explicit caller_runs_scope(caller_runs_unit& unit, std::chrono::microseconds time = max_time);
  ~caller_runs_scope();
  caller_runs_scope(const caller_runs_scope&) = delete;
  caller_runs_scope& operator=(const caller_runs_scope&) = delete;

  /// The execution unit to send with (the `context` of `eq_impl`).
  caf::execution_unit* unit() const { return &unit_; }

 private:
  caller_runs_unit& unit_;
  std::chrono::microseconds time_;
  bool outermost_;
};

} // namespace rds::services::csi
