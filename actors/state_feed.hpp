// The state feed: a bounded ring of the latest state changes of the controller (attach, detach,
// migration started and ended, timer fired, conflict refused, actor restarted), filled by the
// volume supervisor with plain sends (its own changes and its volume actors', in batches under
// load), read by the inspection port's stream
// (/debug/stream) with long polls. Writers never wait for readers; a reader too slow for the
// ring is told how many changes it missed.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <cstdint>
#include <deque>
#include <vector>

#include "messages/inspection.hpp"

namespace rds::actors {

struct state_feed_config {
  /// How many changes the ring keeps.
  size_t capacity = 4096;
  /// The longest a poll may wait for a change (a reader's own wait is bounded by it).
  caf::timespan max_wait = std::chrono::seconds{30};
};

/// A poll that waits for the next change.
struct feed_reader {
  uint64_t after = 0;
  caf::typed_response_promise<state_changes> promise;
  /// Identifies the reader's timeout message.
  uint64_t id = 0;
};

struct state_feed_state {
  static constexpr const char* name = "state_feed";
  std::deque<state_change> ring;
  /// The sequence number of the latest change (0: none yet).
  uint64_t last_sequence = 0;
  std::vector<feed_reader> waiting;
  uint64_t next_reader = 1;
};

state_feed_actor::behavior_type
state_feed(state_feed_actor::stateful_pointer<state_feed_state> self, state_feed_config config);

/// What a reader that has seen everything up to `after` gets from `ring` (pure, for tests).
state_changes changes_after(const std::deque<state_change>& ring, uint64_t last_sequence,
                            uint64_t after);

} // namespace rds::actors
