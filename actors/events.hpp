// The events actor: posts volume events as Kubernetes Events on the volume's PVC. It is
// event-based and keeps the claims and the counts; with a cluster, each post is a blocking HTTP
// call made by its poster (detached, spawned and linked by the events actor, one post at a time
// in the order handed over), so the events actor answers status while a post is slow. When the
// events actor ends, the poster finishes the post it is making and drops the rest of its backlog
// (counted in one log line): a shutdown never waits for a storm's Events. Without a cluster it
// only logs. Either way every volume actor gets a valid handle at spawn.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "messages/actors.hpp"
#include "services/kube/kube_config.hpp"

namespace rds::services::kube {
class kube_client;
} // namespace rds::services::kube

namespace rds::actors {

struct events_config {
  /// Where to post; none: log only.
  std::optional<services::kube::kube_config> connection;
  /// source.component and reportingComponent of the Events.
  std::string component = "rds-csi-controller";
  /// reportingInstance (the host name).
  std::string instance;
  /// Deadline of one post; an Event that cannot be posted in time is dropped (and counted).
  std::chrono::milliseconds post_deadline{5000};
};

/// A volume's PersistentVolumeClaim, as the events actor keeps it.
struct claim_of_volume {
  /// Interned in events_state::namespaces: namespaces are few, claims many.
  const std::string* claim_namespace = nullptr;
  std::string claim_name;
};

struct events_state {
  static constexpr const char* name = "events";
  /// The poster (with a cluster only).
  events_poster_actor poster;
  /// volume id -> PVC: the controller's only copy of the claims (the attachment join tells and
  /// forgets them).
  std::unordered_map<std::string, claim_of_volume> claims;
  /// The namespaces of the claims; never forgotten (they are few).
  std::unordered_set<std::string> namespaces;
  events_status status;
  /// When each post in flight was handed over, by the order they were.
  std::map<uint64_t, caf::timestamp> posting;
  uint64_t next_post = 0;
};

/// The poster: the client it posts with.
struct events_poster_state {
  static constexpr const char* name = "events_poster";
  events_poster_state();
  ~events_poster_state();
  std::unique_ptr<services::kube::kube_client> client;
  /// Set when the events actor ends: the posts still queued are dropped, not posted, so a
  /// shutdown after a storm waits for one post at most, not for the whole backlog.
  std::shared_ptr<std::atomic<bool>> stopping;
  /// Posts dropped that way (logged when the poster ends).
  uint64_t dropped = 0;
};

events_actor::behavior_type events(events_actor::stateful_pointer<events_state> self,
                                   events_config config, metrics_actor metrics);

/// The core/v1 Event JSON for `event` on the claim, at `now` (RFC 3339).
std::string event_json(const volume_event& event, const std::string& claim_namespace,
                       const std::string& claim_name, const events_config& config,
                       const std::string& now);

} // namespace rds::actors
