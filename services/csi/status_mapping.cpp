// ec -> gRPC status, and gRPC codes -> the names CSI sidecar metrics use.
#include "services/csi/status_mapping.hpp"

#include <caf/sec.hpp>

namespace rds::services::csi {

grpc::StatusCode status_code_of(ec code) {
  switch (code) {
  case ec::none:
    return grpc::StatusCode::OK;
  case ec::invalid_argument:
    return grpc::StatusCode::INVALID_ARGUMENT;
  case ec::attached_elsewhere:
    return grpc::StatusCode::FAILED_PRECONDITION;
  case ec::incompatible_attachment:
    return grpc::StatusCode::ALREADY_EXISTS;
  case ec::not_found:
    return grpc::StatusCode::NOT_FOUND;
  case ec::unavailable:
    return grpc::StatusCode::UNAVAILABLE;
  case ec::unauthenticated:
    return grpc::StatusCode::UNAUTHENTICATED;
  case ec::permission_denied:
    return grpc::StatusCode::PERMISSION_DENIED;
  case ec::already_exists:
    return grpc::StatusCode::ALREADY_EXISTS;
  case ec::resource_exhausted:
    return grpc::StatusCode::RESOURCE_EXHAUSTED;
  case ec::out_of_range:
    return grpc::StatusCode::OUT_OF_RANGE;
  case ec::failed_precondition:
    return grpc::StatusCode::FAILED_PRECONDITION;
  case ec::conflict:
  case ec::expired:
  case ec::aborted:
    return grpc::StatusCode::ABORTED;
  case ec::internal:
    return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::INTERNAL;
}

grpc::Status status_of(const outcome& result) {
  if (result.ok())
    return grpc::Status::OK;
  return {status_code_of(result.code), result.message};
}

grpc::Status status_of(const caf::error& failure) {
  if (failure == caf::sec::request_timeout)
    return {grpc::StatusCode::DEADLINE_EXCEEDED,
            "the driver did not finish the operation before the deadline; retry"};
  return {grpc::StatusCode::UNAVAILABLE,
          "the driver could not process the request (" + to_string(failure) + "); retry"};
}

const char* sidecar_name(grpc::StatusCode code) {
  switch (code) {
  case grpc::StatusCode::OK:
    return "OK";
  case grpc::StatusCode::CANCELLED:
    return "Canceled";
  case grpc::StatusCode::UNKNOWN:
    return "Unknown";
  case grpc::StatusCode::INVALID_ARGUMENT:
    return "InvalidArgument";
  case grpc::StatusCode::DEADLINE_EXCEEDED:
    return "DeadlineExceeded";
  case grpc::StatusCode::NOT_FOUND:
    return "NotFound";
  case grpc::StatusCode::ALREADY_EXISTS:
    return "AlreadyExists";
  case grpc::StatusCode::PERMISSION_DENIED:
    return "PermissionDenied";
  case grpc::StatusCode::RESOURCE_EXHAUSTED:
    return "ResourceExhausted";
  case grpc::StatusCode::FAILED_PRECONDITION:
    return "FailedPrecondition";
  case grpc::StatusCode::ABORTED:
    return "Aborted";
  case grpc::StatusCode::OUT_OF_RANGE:
    return "OutOfRange";
  case grpc::StatusCode::UNIMPLEMENTED:
    return "Unimplemented";
  case grpc::StatusCode::INTERNAL:
    return "Internal";
  case grpc::StatusCode::UNAVAILABLE:
    return "Unavailable";
  case grpc::StatusCode::DATA_LOSS:
    return "DataLoss";
  case grpc::StatusCode::UNAUTHENTICATED:
    return "Unauthenticated";
  default:
    return "Unknown";
  }
}

} // namespace rds::services::csi
