// Names of the driver's error codes.
#include "messages/error_code.hpp"

namespace rds {

const char* to_string(ec code) {
  switch (code) {
  case ec::none:
    return "none";
  case ec::invalid_argument:
    return "invalid_argument";
  case ec::attached_elsewhere:
    return "attached_elsewhere";
  case ec::incompatible_attachment:
    return "incompatible_attachment";
  case ec::not_found:
    return "not_found";
  case ec::unavailable:
    return "unavailable";
  case ec::unauthenticated:
    return "unauthenticated";
  case ec::permission_denied:
    return "permission_denied";
  case ec::already_exists:
    return "already_exists";
  case ec::resource_exhausted:
    return "resource_exhausted";
  case ec::out_of_range:
    return "out_of_range";
  case ec::conflict:
    return "conflict";
  case ec::expired:
    return "expired";
  case ec::failed_precondition:
    return "failed_precondition";
  case ec::aborted:
    return "aborted";
  case ec::internal:
    return "internal";
  }
  return "unknown";
}

} // namespace rds
