// The integration test runner: tests start the real rds-csi-plugin binary.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <curl/curl.h>

#include <csignal>

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::signal(SIGPIPE, SIG_IGN);
  doctest::Context context{argc, argv};
  int rc = context.run();
  curl_global_cleanup();
  return rc;
}
