// The CSI gRPC server on a unix socket: identity always, controller when the plugin runs it.
// This header is light on purpose: callers never see gRPC or generated code.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "messages/actors.hpp"

namespace rds::services::csi {

struct server_config {
  /// unix:///absolute/path.sock
  std::string endpoint;
  std::string driver_name;
  std::string vendor_version;
  bool controller = true;
  migration_policy migrations;
  /// Upper bound for one actor request, whatever the client's deadline.
  caf::timespan request_timeout = std::chrono::seconds{60};
  /// Where new volumes are reached over NVMe/TCP (the RDS data address), for the volume context.
  std::string nvme_address = "127.0.0.1";
  /// The RDS path volume files go to (a volumePath parameter must name it).
  std::string volume_base_path = "/raid10";

  /// The node service runs (with the node supervisor).
  bool node = false;
  std::string node_id;
  int64_t max_volumes_per_node = 0;
  /// Every staging, target and volume path must lie inside it.
  std::string kubelet_dir = "/var/lib/kubelet";
  /// ctrl_loss_tmo when the volume context gives none (-1: reconnect forever).
  int ctrl_loss_tmo = -1;
  /// Upper bound of one node operation (connect, format, mount...), whatever the deadline.
  caf::timespan node_timeout = std::chrono::minutes{5};
};

/// The actors the services talk to. `supervisor`, `rds` and `catalog` are valid exactly when
/// config.controller is, `node` when config.node is.
struct server_actors {
  metrics_actor metrics;
  volume_supervisor_actor supervisor;
  rds_actor rds;
  volume_catalog_actor catalog;
  node_supervisor_actor node;
};

class server {
 public:
  server(caf::actor_system& sys, server_config config, server_actors actors);
  ~server();

  /// Binds the endpoint and starts serving; an error message if that failed.
  std::string start();

  /// Stops accepting RPCs and waits up to `grace` for in-flight ones to finish.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// CAF scheduler settings for a process whose actors are reached by CSI calls from gRPC's
/// threads; apply them to the config before the actor_system is built (main does). By default
/// an idle CAF worker polls for work: 100 busy attempts, then 500 more with a 50 us sleep
/// between them, so a call enqueued from a gRPC thread waits for the end of the worker's sleep,
/// and the polling takes CPU from the gRPC threads on a small node. Here a worker polls briefly,
/// then waits on its condition variable, which an enqueue from outside CAF signals: the call is
/// picked up at once and an idle plugin does not spin. (rds-csi-bench: publish p50 about 250 ->
/// 155 us on 2 cores; README, benchmark section.)
void configure_scheduler(caf::actor_system_config& cfg);

/// "unix:///a/b.sock" or "unix:/a/b.sock" -> "/a/b.sock"; empty if not a unix endpoint with an
/// absolute path.
std::string socket_path_of(const std::string& endpoint);

} // namespace rds::services::csi
