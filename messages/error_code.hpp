// The one error vocabulary of the driver. Actors answer with these codes; only services/csi maps
// them to gRPC status codes.
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

namespace rds {

enum class ec : uint8_t {
  /// The operation succeeded (or was already done: every operation is idempotent).
  none = 0,
  /// The request itself is malformed: a bad id, an unsupported capability, a bad parameter.
  invalid_argument,
  /// The volume is attached to other nodes and the request would exceed what its access mode
  /// allows (RWO on another node, a third node for RWX block).
  attached_elsewhere,
  /// The volume is already attached to this node, but with an incompatible capability.
  incompatible_attachment,
  /// The volume or node does not exist.
  not_found,
  /// A part of the driver (an actor, the RDS, the API server) could not answer in time.
  unavailable,
  /// Credentials were refused (HTTP 401 from the API server).
  unauthenticated,
  /// The credentials lack a permission (HTTP 403: RBAC).
  permission_denied,
  /// An object of that name exists with properties that do not match the request.
  already_exists,
  /// Not enough space (or another quota) for what was asked.
  resource_exhausted,
  /// The size asked for is outside what can be provided.
  out_of_range,
  /// A concurrent change won (HTTP 409).
  conflict,
  /// A resourceVersion is too old to watch from (HTTP 410 Gone): list again.
  expired,
  /// The volume is not in the state the call needs (e.g. published before it was staged).
  failed_precondition,
  /// Another operation on the same volume is in flight: try again later.
  aborted,
  /// A bug: an invariant broke. Never expected in operation.
  internal,
};

/// Short stable name of a code, used in logs and status output.
const char* to_string(ec code);

/// The answer of an actor to a request that can fail for domain reasons. System failures (an
/// actor that died, a request timeout) travel as caf::error instead.
struct outcome {
  ec code = ec::none;
  /// Human-readable explanation for the CO; never contains a secret.
  std::string message;

  bool ok() const { return code == ec::none; }

  static outcome success() { return {}; }
  static outcome failure(ec code, std::string message) { return {code, std::move(message)}; }
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, outcome& x) {
  return f(caf::meta::type_name("rds.outcome"), x.code, x.message);
}

} // namespace rds
