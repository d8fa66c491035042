// The rds actor: the controller's RouterOS REST session. Spawned detached, so its blocking HTTP
// requests run on its own thread. Every mutation is verified by reading the disk back.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <set>
#include <string>

#include "messages/actors.hpp"
#include "services/rds/routeros_client.hpp"

namespace rds::actors {

struct rds_config {
  services::rds_api::client_config connection;
  /// Where volume files go: "/<pool>[/<dir>]".
  std::string volume_base_path = "/raid10";
  std::string nqn_prefix = "nqn.2000-02.com.mikrotik:";
  uint16_t nvme_port = 4420;
};

struct rds_state {
  static constexpr const char* name = "rds";
  std::unique_ptr<services::rds_api::routeros_client> client;
  /// Snapshots and volumes ("snapshot:<name>", "volume:<name>") whose copy is running in a
  /// copy worker: a second request for one is ABORTED until it is done.
  std::set<std::string> copying;
};

rds_actor::behavior_type rds(rds_actor::stateful_pointer<rds_state> self, rds_config config,
                             metrics_actor metrics);

} // namespace rds::actors
