// What actors tell the metrics actor. Each event names something that happened in the domain;
// the metrics actor decides which Prometheus series it moves.
#pragma once

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace rds {

enum class attachment_operation : uint8_t {
  /// First node attached.
  attach = 0,
  /// Second node attached to an RWX block volume: a migration started.
  attach_secondary,
  /// Last node detached.
  detach,
  /// One of two nodes detached: a migration ended.
  detach_partial,
};

const char* to_string(attachment_operation op);

struct attachment_recorded {
  attachment_operation operation = attachment_operation::attach;
  caf::timespan duration{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attachment_recorded& x) {
  return f(caf::meta::type_name("rds.attachment_recorded"), x.operation, x.duration);
}

enum class migration_result : uint8_t { success = 0, failed, timeout };

const char* to_string(migration_result result);

/// A migration reached a result. Each migration reaches exactly one: a migration that timed out
/// is not counted again when it ends later.
struct migration_result_recorded {
  migration_result result = migration_result::success;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, migration_result_recorded& x) {
  return f(caf::meta::type_name("rds.migration_result_recorded"), x.result);
}

/// A migration ended (one of its two nodes detached) after `duration`.
struct migration_ended {
  caf::timespan duration{0};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, migration_ended& x) {
  return f(caf::meta::type_name("rds.migration_ended"), x.duration);
}

/// Gauges derived from the supervisor's view of every volume actor's state.
struct volume_counts {
  uint64_t attached = 0;
  uint64_t migrating = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_counts& x) {
  return f(caf::meta::type_name("rds.volume_counts"), x.attached, x.migrating);
}

/// What the volume supervisor passes on at once: the attach and detach operations its volume
/// actors recorded since it last did, and its counts of attached and migrating volumes now.
struct attachment_activity {
  std::vector<attachment_recorded> recorded;
  volume_counts counts;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attachment_activity& x) {
  return f(caf::meta::type_name("rds.attachment_activity"), x.recorded, x.counts);
}

/// One finished CSI RPC, as the CSI sidecars record it.
struct rpc_recorded {
  /// Full gRPC method path, e.g. "/csi.v1.Controller/ControllerPublishVolume".
  std::string method;
  /// gRPC status code as the CSI sidecars name it (Go's codes.Code names): "OK",
  /// "InvalidArgument", "FailedPrecondition", ...
  std::string code;
  caf::timespan duration{0};
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, rpc_recorded& x) {
  return f(caf::meta::type_name("rds.rpc_recorded"), x.method, x.code, x.duration);
}

/// Several finished CSI RPCs (the CSI edge passes them on so while other calls wait).
struct rpcs_recorded {
  std::vector<rpc_recorded> rpcs;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, rpcs_recorded& x) {
  return f(caf::meta::type_name("rds.rpcs_recorded"), x.rpcs);
}

/// The inspection port answered a request.
struct debug_request_recorded {
  /// The path's template ("/debug/volumes/{id}"), or "other" for an unknown path.
  std::string path;
  /// The HTTP status code.
  uint16_t code = 200;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, debug_request_recorded& x) {
  return f(caf::meta::type_name("rds.debug_request_recorded"), x.path, x.code);
}

} // namespace rds
