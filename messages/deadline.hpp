// The deadline a request carries through the actors: the CO's deadline of the CSI call it serves,
// so every inner request (supervisor -> catalog -> rds, supervisor -> volume actor) waits only
// for the time that is left, never for a fixed hop timeout of its own.
#pragma once

#include <caf/actor_clock.hpp>
#include <caf/timespan.hpp>

#include <chrono>

namespace rds {

/// When whoever waits for the answer stops waiting: an offset since the epoch of the actor
/// clock (steady, and virtual under the test coordinator). Zero: the request carries none, and
/// the receiver's own upper bound applies (a change followed from Kubernetes, a test).
using request_deadline = caf::timespan;

constexpr request_deadline no_deadline{0};

/// The deadline `timeout` from now.
inline request_deadline deadline_after(const caf::actor_clock& clock, caf::timespan timeout) {
  return std::chrono::duration_cast<caf::timespan>(clock.now().time_since_epoch()) + timeout;
}

/// How long an inner request may still take: the time left until `deadline` (zero once it has
/// passed), or `bound` when the request carries no deadline.
inline caf::timespan time_left(const caf::actor_clock& clock, request_deadline deadline,
                               caf::timespan bound) {
  if (deadline == no_deadline)
    return bound;
  auto now = std::chrono::duration_cast<caf::timespan>(clock.now().time_since_epoch());
  return deadline > now ? deadline - now : caf::timespan{0};
}

} // namespace rds
