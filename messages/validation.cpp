// Identifier and parameter checks.
#include "messages/validation.hpp"

#include <chrono>
#include <limits>

namespace rds {

namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

outcome check_identifier(const char* what, const std::string& id, size_t max_length) {
  if (id.empty())
    return outcome::failure(ec::invalid_argument, std::string{what} + " is required");
  if (id.size() > max_length)
    return outcome::failure(ec::invalid_argument, std::string{what} + " is longer than "
                                                    + std::to_string(max_length) + " bytes");
  if (!is_alnum(id.front()))
    return outcome::failure(ec::invalid_argument,
                            std::string{what} + " must start with a letter or digit");
  for (char c : id)
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
      return outcome::failure(ec::invalid_argument,
                              std::string{what}
                                + " may contain only letters, digits, '.', '_' and '-'");
  return outcome::success();
}

long long seconds_of(caf::timespan t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t).count();
}

} // namespace

outcome check_volume_id(const std::string& id) {
  return check_identifier("volume_id", id, max_volume_id_length);
}

outcome check_snapshot_id(const std::string& id) {
  return check_identifier("snapshot_id", id, max_volume_id_length);
}

outcome check_node_id(const std::string& id) {
  return check_identifier("node_id", id, max_node_id_length);
}

outcome parse_migration_timeout(const std::string* raw, const migration_policy& policy,
                                caf::timespan& out) {
  if (raw == nullptr) {
    out = policy.fallback;
    return outcome::success();
  }
  auto bad = [&] {
    return outcome::failure(ec::invalid_argument,
                            std::string{migration_timeout_key} + " must be a whole number of "
                              + "seconds from " + std::to_string(seconds_of(policy.minimum))
                              + " to " + std::to_string(seconds_of(policy.maximum)));
  };
  if (raw->empty() || raw->size() > 9)
    return bad();
  long long seconds = 0;
  for (char c : *raw) {
    if (c < '0' || c > '9')
      return bad();
    seconds = seconds * 10 + (c - '0');
  }
  auto value = caf::timespan{std::chrono::seconds{seconds}};
  if (value < policy.minimum || value > policy.maximum)
    return bad();
  out = value;
  return outcome::success();
}

} // namespace rds
