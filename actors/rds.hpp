// The rds actor: the controller's RouterOS REST session, taken one request at a time, with its
// circuit breaker; restores, clones and snapshots run in copy workers. Spawned detached, so its
// blocking HTTP requests run on its own thread. What each request does on the RDS is
// services/rds/volume_steps.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>
#include <set>
#include <string>

#include "messages/actors.hpp"
#include "services/rds/routeros_client.hpp"
#include "services/rds/volume_steps.hpp"

namespace rds::actors {

/// The session, and where volumes go (volume_base_path, nvme_port).
struct rds_config : services::rds_api::volume_layout {
  services::rds_api::client_config connection;
};

struct rds_state {
  static constexpr const char* name = "rds";
  std::unique_ptr<services::rds_api::routeros_client> client;
  /// The RouterOS steps over `client`.
  std::unique_ptr<services::rds_api::volume_steps> steps;
  /// Snapshots and volumes ("snapshot:<name>", "volume:<name>") whose copy is running in a
  /// copy worker: a second request for one is ABORTED until it is done.
  std::set<std::string> copying;
};

rds_actor::behavior_type rds(rds_actor::stateful_pointer<rds_state> self, rds_config config,
                             metrics_actor metrics);

} // namespace rds::actors
