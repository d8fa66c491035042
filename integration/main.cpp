// The integration test runner: tests start the real rds-csi-plugin binary.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <curl/curl.h>

#include <csignal>
#include <string>

#include "integration/client.hpp"

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::signal(SIGPIPE, SIG_IGN);
  // A plugin that a test did not stop itself is checked when it goes out of scope: a crash
  // while the test talked to it fails that test.
  rds::test::plugin_process::on_unclean_end = [](const std::string& problem) {
    FAIL_CHECK(problem);
  };
  doctest::Context context{argc, argv};
  int rc = context.run();
  curl_global_cleanup();
  return rc;
}
