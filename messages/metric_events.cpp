// Names of metric event kinds; they become label values.
#include "messages/metric_events.hpp"

namespace rds {

const char* to_string(attachment_operation op) {
  switch (op) {
  case attachment_operation::attach:
    return "attach";
  case attachment_operation::attach_secondary:
    return "attach_secondary";
  case attachment_operation::detach:
    return "detach";
  case attachment_operation::detach_partial:
    return "detach_partial";
  }
  return "unknown";
}

const char* to_string(migration_result result) {
  switch (result) {
  case migration_result::success:
    return "success";
  case migration_result::failed:
    return "failed";
  case migration_result::timeout:
    return "timeout";
  }
  return "unknown";
}

} // namespace rds
