// Derivation of a volume actor's state from what Kubernetes says.
#include "messages/cluster_state.hpp"

#include <algorithm>

namespace rds {

attachment_state state_of(const observed_volume& volume, clock_offset now,
                          caf::timestamp wall_now) {
  attachment_state st;
  st.volume_id = volume.volume_id;
  st.access = volume.capability.access;
  auto nodes = volume.nodes;
  std::stable_sort(
    nodes.begin(), nodes.end(),
    [](const observed_attachment& a, const observed_attachment& b) { return a.since < b.since; });
  auto offset_of = [&](caf::timestamp since) {
    auto age = std::chrono::duration_cast<caf::timespan>(wall_now - since);
    return now - std::max(age, caf::timespan{0});
  };
  for (auto& n : nodes)
    st.nodes.push_back({n.node_id, volume.capability, offset_of(n.since)});
  st.migration.timeout = volume.migration_timeout;
  if (st.nodes.size() == 2) {
    st.migrating = true;
    st.migration.generation = 1;
    st.migration.started_at = st.nodes[1].attached_at;
  }
  return st;
}

} // namespace rds
