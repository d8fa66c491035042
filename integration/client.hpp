// The client library (client/: CSI client, plugin process) as the integration tests use it: its
// names are seen from rds::test, where the tests' own helpers live.
#pragma once

#include "client/csi_client.hpp"
#include "client/plugin_process.hpp"

namespace rds::test {

using namespace rds::client;

} // namespace rds::test
