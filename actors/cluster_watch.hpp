// Cluster watches: detached actors that keep the volume supervisor in line with Kubernetes by
// list + watch, one for VolumeAttachments (with the PersistentVolumes they name) and one for
// Nodes. Their blocking HTTP runs on their own threads.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "messages/actors.hpp"
#include "services/kube/kube_client.hpp"
#include "services/kube/objects.hpp"
#include "services/kube/watch_session.hpp"

namespace rds::actors {

struct cluster_watch_config {
  services::kube::kube_config connection;
  std::string driver_name;
  migration_policy migrations;
  /// How long one watch request lasts before it is renewed from the last resourceVersion.
  std::chrono::seconds watch_limit{300};
  /// Deadline of one list or get, retries included.
  std::chrono::milliseconds call_deadline{30000};
  /// Items per page of a list.
  int page_size = 500;
  /// Wait after a failed round.
  std::chrono::milliseconds backoff{1000};
  /// Set on shutdown: a watch in progress ends within about a second.
  std::shared_ptr<std::atomic<bool>> stopping;
};

struct attachment_watch_state {
  static constexpr const char* name = "attachment_watch";
  std::unique_ptr<services::kube::kube_client> client;
  std::unique_ptr<services::kube::watch_session<services::kube::volume_attachment_object>> session;
  /// PersistentVolumes by name, from the last list and from gets on demand.
  std::map<std::string, services::kube::persistent_volume_object> volumes;
};

cluster_watch_actor::behavior_type
attachment_watch(cluster_watch_actor::stateful_pointer<attachment_watch_state> self,
                 cluster_watch_config config, volume_supervisor_actor supervisor,
                 metrics_actor metrics, events_actor events);

struct node_watch_state {
  static constexpr const char* name = "node_watch";
  std::unique_ptr<services::kube::kube_client> client;
  std::unique_ptr<services::kube::watch_session<services::kube::node_object>> session;
};

cluster_watch_actor::behavior_type
node_watch(cluster_watch_actor::stateful_pointer<node_watch_state> self,
           cluster_watch_config config, volume_supervisor_actor supervisor, metrics_actor metrics);

} // namespace rds::actors
