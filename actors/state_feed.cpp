// The ring and the long polls of the state feed.
#include "actors/state_feed.hpp"

#include <caf/atom.hpp>

#include <algorithm>
#include <chrono>

namespace rds::actors {

state_changes changes_after(const std::deque<state_change>& ring, uint64_t last_sequence,
                            uint64_t after) {
  state_changes out;
  out.last_sequence = last_sequence;
  if (after >= last_sequence)
    return out;
  // The ring holds the sequence numbers [first, last_sequence] without gaps.
  uint64_t first = ring.empty() ? last_sequence + 1 : ring.front().sequence;
  if (after + 1 < first)
    out.dropped = first - (after + 1);
  auto start = std::max(after + 1, first);
  for (auto i = ring.begin() + static_cast<std::ptrdiff_t>(start - first); i != ring.end(); ++i)
    out.changes.push_back(*i);
  return out;
}

state_feed_actor::behavior_type
state_feed(state_feed_actor::stateful_pointer<state_feed_state> self, state_feed_config config) {
  if (config.capacity == 0)
    config.capacity = 1;
  return {
    [=](state_change_batch& batch) {
      auto& st = self->state;
      for (auto& change : batch.changes) {
        change.sequence = ++st.last_sequence;
        if (change.at == caf::timestamp{})
          change.at = caf::make_timestamp();
        st.ring.push_back(std::move(change));
      }
      while (st.ring.size() > config.capacity)
        st.ring.pop_front();
      for (auto& reader : st.waiting)
        reader.promise.deliver(changes_after(st.ring, st.last_sequence, reader.after));
      st.waiting.clear();
    },
    [=](feed_atom, uint64_t after, caf::timespan wait) -> caf::result<state_changes> {
      auto& st = self->state;
      if (after < st.last_sequence || wait <= caf::timespan{0})
        return changes_after(st.ring, st.last_sequence, after);
      auto promise = self->make_response_promise<state_changes>();
      auto id = st.next_reader++;
      st.waiting.push_back({after, promise, id});
      self->delayed_send(self, std::min(wait, config.max_wait), feed_timeout_atom_v, id);
      return promise;
    },
    [=](feed_timeout_atom, uint64_t id) {
      auto& waiting = self->state.waiting;
      auto i = std::find_if(waiting.begin(), waiting.end(),
                            [&](const feed_reader& r) { return r.id == id; });
      if (i == waiting.end())
        return; // answered by a change meanwhile
      i->promise.deliver(changes_after(self->state.ring, self->state.last_sequence, i->after));
      waiting.erase(i);
    },
  };
}

} // namespace rds::actors
