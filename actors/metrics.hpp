// The metrics actor: owns the Prometheus registry and every metric family of the process, and
// serves them at /metrics. Every other actor gets its handle at spawn.
#pragma once

#include <memory>
#include <string>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "messages/actors.hpp"

namespace prometheus {
class Registry;
class Exposer;
} // namespace prometheus

namespace rds::actors {

struct metrics_config {
  /// host:port for /metrics (port 0 picks a free one); empty serves nothing.
  std::string listen_address;
  /// The driver_name label of csi_plugin_operations_seconds.
  std::string driver_name;
  /// Which roles run: their fixed series exist from the start (at 0).
  bool controller = true;
  bool node = false;
};

struct metric_families;

struct metrics_state {
  static constexpr const char* name = "metrics";
  metrics_state();
  ~metrics_state();
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<metric_families> families;
  std::unique_ptr<prometheus::Exposer> exposer;
  metrics_status status;
};

metrics_actor::behavior_type metrics(metrics_actor::stateful_pointer<metrics_state> self,
                                     metrics_config config);

} // namespace rds::actors
