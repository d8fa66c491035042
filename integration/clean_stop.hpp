// How every integration test ends with a plugin it talked to: the plugin must still be alive
// (a crash while the test ran fails the test that caused it) and exit 0 on SIGTERM.
#pragma once

#include <doctest/doctest.h>

#include "integration/client.hpp"

namespace rds::test {

inline void expect_clean_stop(plugin_process& plugin) {
  auto problem = plugin.stop();
  CHECK_MESSAGE(problem.empty(), problem);
}

} // namespace rds::test
