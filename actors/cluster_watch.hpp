// Cluster watches follow Kubernetes by list + watch, one per resource: VolumeAttachments and
// PersistentVolumes (to the attachment join) and Nodes (to the volume supervisor). Each one is
// two actors: the watch (event-based, spawned by the caller) keeps the status and answers it at
// once, and its watch worker (detached, spawned and linked by the watch) owns the client and
// runs the blocking list + watch rounds on its own thread, sends what it lists and what changes
// straight to the join or the supervisor, and reports its progress to the watch by messages.
// The worker only hands on what it lists and what changes: it never asks the API for anything
// else, so its client is never re-entered from inside its own stream (DESIGN rule 10).
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <atomic>
#include <chrono>
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
  /// How long one watch request lasts before it is renewed from the last resourceVersion.
  std::chrono::seconds watch_limit{300};
  /// Deadline of one list page, retries included.
  std::chrono::milliseconds call_deadline{30000};
  /// Items per page of a list.
  int page_size = 500;
  /// Wait after a failed round.
  std::chrono::milliseconds backoff{1000};
  /// Set on shutdown: a watch in progress ends within about a second.
  std::shared_ptr<std::atomic<bool>> stopping;
};

/// The watch: its worker's last report.
struct watch_state {
  watch_status status;
};

struct attachment_watch_state : watch_state {
  static constexpr const char* name = "attachment_watch";
};

struct volume_watch_state : watch_state {
  static constexpr const char* name = "volume_watch";
};

struct node_watch_state : watch_state {
  static constexpr const char* name = "node_watch";
};

/// The worker: one list + watch session and the client it runs on.
template <class T> struct watch_worker_state {
  static constexpr const char* name = "watch_worker";
  std::unique_ptr<services::kube::kube_client> client;
  std::unique_ptr<services::kube::watch_session<T>> session;
};

/// This driver's VolumeAttachments (spec.attacher) that name a PersistentVolume, to the join.
cluster_watch_actor::behavior_type
attachment_watch(cluster_watch_actor::stateful_pointer<attachment_watch_state> self,
                 cluster_watch_config config, attachment_join_actor join, metrics_actor metrics);

/// Every PersistentVolume (other drivers' with their name and driver only), to the join.
cluster_watch_actor::behavior_type
volume_watch(cluster_watch_actor::stateful_pointer<volume_watch_state> self,
             cluster_watch_config config, attachment_join_actor join, metrics_actor metrics);

/// Node names, to the supervisor (a publish to a node that does not exist is NOT_FOUND).
cluster_watch_actor::behavior_type
node_watch(cluster_watch_actor::stateful_pointer<node_watch_state> self,
           cluster_watch_config config, volume_supervisor_actor supervisor, metrics_actor metrics);

} // namespace rds::actors
