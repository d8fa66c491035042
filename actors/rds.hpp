// The rds actor: the controller's RouterOS REST session, taken one request at a time, with its
// circuit breaker; restores, clones and snapshots run in copy workers. It is event-based and
// keeps what it shows (requests in flight, copies, the breaker); the session itself lives in
// its session worker (detached, spawned and linked by the rds actor), whose blocking HTTP
// requests run on its own thread, one at a time in the order the rds actor handed them over.
// So the rds actor answers status while a request or a copy runs. What each request does on the
// RDS is services/rds/volume_steps.
#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <cstdint>
#include <map>
#include <memory>
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
  /// The worker that owns the RouterOS session.
  rds_session_actor session;
  /// Snapshots and volumes ("snapshot <name>", "volume <name>") whose copy is running in a
  /// copy worker, and since when: a second request for one is ABORTED until it is done.
  std::map<std::string, rds_request_status> copying;
  /// Requests handed to the session and not answered yet, by the order they were handed over.
  std::map<uint64_t, rds_request_status> in_flight;
  uint64_t next_request = 0;
  uint64_t answered = 0;
  /// The breaker as the session last reported it.
  std::string breaker = "closed";
  caf::timestamp breaker_since{};
};

/// The session worker: the RouterOS client and the steps over it.
struct rds_session_state {
  static constexpr const char* name = "rds_session";
  std::unique_ptr<services::rds_api::routeros_client> client;
  /// The RouterOS steps over `client`.
  std::unique_ptr<services::rds_api::volume_steps> steps;
};

rds_owner_actor::behavior_type rds(rds_owner_actor::stateful_pointer<rds_state> self,
                                   rds_config config, metrics_actor metrics);

} // namespace rds::actors
