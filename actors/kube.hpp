// The kube actor: the process's Kubernetes API client. It is spawned detached, so the blocking
// libcurl calls it makes run on its own thread and never on the cooperative scheduler.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "messages/actors.hpp"
#include "services/kube/kube_config.hpp"

namespace rds::services::kube {
class kube_client;
} // namespace rds::services::kube

namespace rds::actors {

struct kube_actor_config {
  services::kube::kube_config connection;
  /// Only VolumeAttachments and PVs of this driver are the driver's.
  std::string driver_name;
  migration_policy migrations;
  /// Items per page of a list.
  int page_size = 500;
  /// Deadline of one API call, retries included.
  std::chrono::milliseconds call_deadline{30000};
};

struct kube_state {
  static constexpr const char* name = "kube";
  kube_state();
  ~kube_state();
  std::unique_ptr<services::kube::kube_client> client;
  kube_status status;
};

kube_actor::behavior_type kube(kube_actor::stateful_pointer<kube_state> self,
                               kube_actor_config config);

} // namespace rds::actors
