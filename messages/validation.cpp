// Identifier and parameter checks.
#include "messages/validation.hpp"

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

} // namespace rds
