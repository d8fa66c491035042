// The events actor: posts volume events as Kubernetes Events on the volume's PVC. With a
// cluster it is spawned detached (each post is a blocking HTTP call on its own thread); without
// one it only logs. Either way every volume actor gets a valid handle at spawn.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

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

struct events_state {
  static constexpr const char* name = "events";
  events_state();
  ~events_state();
  std::unique_ptr<services::kube::kube_client> client;
  /// volume id -> PVC.
  std::map<std::string, volume_claim> claims;
  events_status status;
};

events_actor::behavior_type events(events_actor::stateful_pointer<events_state> self,
                                   events_config config, metrics_actor metrics);

/// The core/v1 Event JSON for `event` on the claim, at `now` (RFC 3339).
std::string event_json(const volume_event& event, const volume_claim& claim,
                       const events_config& config, const std::string& now);

} // namespace rds::actors
