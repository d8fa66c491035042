// Volumes on the RDS: what a CreateVolume asks for and what a volume is.
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

#include "messages/deadline.hpp"

namespace rds {

struct create_volume_request {
  /// The CO's name for the volume (the idempotency key).
  std::string name;
  /// Bytes to allocate, already checked against the capacity range.
  uint64_t size_bytes = 0;
  /// The range the CO accepts, to judge an existing volume (0: no bound).
  uint64_t required_bytes = 0;
  uint64_t limit_bytes = 0;
  /// The content to start from: a snapshot id or a volume id (clone), or empty.
  std::string source_snapshot_id;
  std::string source_volume_id;
  /// The CO's deadline for the call (the rds actor keeps to its own HTTP deadlines).
  request_deadline deadline = no_deadline;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_volume_request& x) {
  return f(caf::meta::type_name("rds.create_volume_request"), x.name, x.size_bytes,
           x.required_bytes, x.limit_bytes, x.source_snapshot_id, x.source_volume_id, x.deadline);
}

/// A request about one volume by its id (does it exist, describe it, delete it).
struct volume_id_request {
  std::string volume_id;
  /// The CO's deadline for the call.
  request_deadline deadline = no_deadline;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_id_request& x) {
  return f(caf::meta::type_name("rds.volume_id_request"), x.volume_id, x.deadline);
}

struct create_snapshot_request {
  /// The CO's name for the snapshot (the idempotency key).
  std::string name;
  std::string source_volume_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_snapshot_request& x) {
  return f(caf::meta::type_name("rds.create_snapshot_request"), x.name, x.source_volume_id);
}

struct snapshot_info {
  /// The CSI snapshot id: the RouterOS slot.
  std::string snapshot_id;
  std::string source_volume_id;
  uint64_t size_bytes = 0;
  /// Seconds since the epoch when the copy was started.
  int64_t created_at = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, snapshot_info& x) {
  return f(caf::meta::type_name("rds.snapshot_info"), x.snapshot_id, x.source_volume_id,
           x.size_bytes, x.created_at);
}

struct volume_info {
  /// The CSI volume id: the RouterOS slot.
  std::string volume_id;
  uint64_t capacity_bytes = 0;
  std::string nqn;
  uint16_t port = 4420;
  bool exported = false;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_info& x) {
  return f(caf::meta::type_name("rds.volume_info"), x.volume_id, x.capacity_bytes, x.nqn, x.port,
           x.exported);
}

/// One volume operation against the RDS, for rds_csi_volume_operations_total and its duration.
struct volume_operation_recorded {
  std::string operation;
  std::string status;
  double seconds = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_operation_recorded& x) {
  return f(caf::meta::type_name("rds.volume_operation_recorded"), x.operation, x.status, x.seconds);
}

/// One HTTP request to the RDS.
struct rds_request_recorded {
  std::string method;
  /// HTTP status code, or "error" when no answer came.
  std::string status;
  double seconds = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rds_request_recorded& x) {
  return f(caf::meta::type_name("rds.rds_request_recorded"), x.method, x.status, x.seconds);
}

/// The RDS connection as the circuit breaker sees it: 1 reachable, 0.5 trying again, 0 paused.
struct rds_connection_changed {
  double state = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rds_connection_changed& x) {
  return f(caf::meta::type_name("rds.rds_connection_changed"), x.state);
}

} // namespace rds
