// Identifier and migration-timeout checks.
#include <doctest/doctest.h>

#include "messages/validation.hpp"

using namespace rds;
using namespace std::chrono_literals;

TEST_CASE("volume and node ids") {
  CHECK(check_volume_id("pvc-0f3a9c2e-1b2c-4d5e-8f90-123456789abc").ok());
  CHECK(check_node_id("worker-1.example.internal").ok());
  CHECK(check_volume_id("").code == ec::invalid_argument);
  CHECK(check_volume_id("-leading-dash").code == ec::invalid_argument);
  CHECK(check_volume_id("has space").code == ec::invalid_argument);
  CHECK(check_volume_id("slash/../etc").code == ec::invalid_argument);
  CHECK(check_volume_id("quote\"").code == ec::invalid_argument);
  CHECK(check_volume_id(std::string(128, 'a')).ok());
  CHECK(check_volume_id(std::string(129, 'a')).code == ec::invalid_argument);
  CHECK(check_node_id(std::string(253, 'n')).ok());
  CHECK(check_node_id(std::string(254, 'n')).code == ec::invalid_argument);
  CHECK(check_node_id("").message == "node_id is required");
}

TEST_CASE("migrationTimeoutSeconds") {
  migration_policy policy;
  caf::timespan out{0};
  CHECK(parse_migration_timeout(nullptr, policy, out).ok());
  CHECK(out == 300s);
  std::string value = "45";
  CHECK(parse_migration_timeout(&value, policy, out).ok());
  CHECK(out == 45s);
  for (std::string bad : {"", "29", "3601", "-5", "1e3", "abc", " 60", "60s", "9999999999"}) {
    CAPTURE(bad);
    auto r = parse_migration_timeout(&bad, policy, out);
    CHECK(r.code == ec::invalid_argument);
    CHECK(r.message.find("migrationTimeoutSeconds") != std::string::npos);
  }
  CHECK(out == 45s);
  policy.minimum = 1s;
  value = "1";
  CHECK(parse_migration_timeout(&value, policy, out).ok());
  CHECK(out == 1s);
}
