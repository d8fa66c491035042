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
