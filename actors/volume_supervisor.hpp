// The volume supervisor: maps volume ids to volume actors, spawns them on demand, restarts a
// crashed one from its last known state and retires one that no node uses any more.
#pragma once

#include <caf/actor_addr.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/actors.hpp"

namespace rds::actors {

struct volume_supervisor_config {
  /// Longest a forwarded request may wait for its volume actor.
  caf::timespan request_timeout = std::chrono::seconds{60};
  /// Longest the rebuild may take before it is tried again.
  caf::timespan rebuild_timeout = std::chrono::minutes{5};
  /// Wait between failed rebuild attempts.
  caf::timespan rebuild_backoff = std::chrono::seconds{2};
  /// CSI requests held while the rebuild runs; more are refused as unavailable.
  size_t max_deferred = 10000;
};

/// A volume actor and what the supervisor knows of it.
struct volume_entry {
  volume_actor handle;
  /// The state the actor reported last: a crashed actor is restarted from it.
  attachment_state last_known;
  /// Requests forwarded and not answered; an actor is retired only when this is zero.
  uint32_t in_flight = 0;
};

struct volume_supervisor_state {
  static constexpr const char* name = "volume_supervisor";
  std::unordered_map<std::string, volume_entry> volumes;
  std::unordered_map<caf::actor_addr, std::string> volume_of_actor;
  /// Volumes attached to at least one node, and to two: the gauges are their sizes, so they
  /// follow the actors' own states and cannot drift.
  std::unordered_set<std::string> attached;
  std::unordered_set<std::string> migrating;
  volume_counts reported;
  uint64_t restarts = 0;
  uint64_t in_flight = 0;
  /// False until the state has been rebuilt from Kubernetes.
  bool ready = false;
  /// Requests that arrived before the rebuild, answered in order once it is done.
  std::vector<std::function<void()>> deferred;
};

/// With a kube handle the supervisor first rebuilds every volume actor from Kubernetes (and holds
/// CSI requests until then); without one (the embedded default) it starts empty and ready.
volume_supervisor_actor::behavior_type
volume_supervisor(volume_supervisor_actor::stateful_pointer<volume_supervisor_state> self,
                  volume_supervisor_config config, metrics_actor metrics, kube_actor kube);

} // namespace rds::actors
