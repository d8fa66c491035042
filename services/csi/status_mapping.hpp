// The one place where the driver's error codes become gRPC status codes.
#pragma once

#include <grpcpp/support/status.h>

#include <caf/error.hpp>

#include "messages/error_code.hpp"

namespace rds::services::csi {

grpc::StatusCode status_code_of(ec code);

grpc::Status status_of(const outcome& result);

/// A system failure between the gRPC adapter and an actor (the actor died, or did not answer
/// before the deadline).
grpc::Status status_of(const caf::error& failure);

/// The code's name as the CSI sidecars label it (Go's codes.Code names: "OK",
/// "InvalidArgument", ...), so csi_plugin_operations_seconds matches sidecar dashboards.
const char* sidecar_name(grpc::StatusCode code);

} // namespace rds::services::csi
