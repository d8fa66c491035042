// The plugin as a process: flags, start-up failures and SIGTERM.
#include <sys/stat.h>

#include <fstream>

#include "integration/metric_expectations.hpp"
#include "integration/client.hpp"

using namespace rds::test;

namespace {

size_t lines_in(const std::string& text) {
  size_t n = 0;
  for (char ch : text)
    n += ch == '\n' ? 1 : 0;
  return n;
}

} // namespace

TEST_CASE("--help lists every flag and exits 0") {
  std::string out;
  CHECK(run_plugin({"--help"}, out) == 0);
  for (auto flag : {"--endpoint",
                    "--driver-name",
                    "--mode",
                    "--node-id",
                    "--metrics-address",
                    "--log-level",
                    "--migration-timeout-min",
                    "--migration-timeout-max",
                    "--migration-timeout-default",
                    "--kubeconfig",
                    "--kube-timeout",
                    "--kube-page-size",
                    "--shutdown-grace",
                    "--rds-address",
                    "--rds-url",
                    "--rds-port",
                    "--rds-user",
                    "--rds-password-file",
                    "--rds-ca-file",
                    "--rds-insecure-skip-verify",
                    "--rds-volume-base-path",
                    "--rds-breaker-failures",
                    "--rds-breaker-cooldown",
                    "--rds-sim-data-dir",
                    "--kubelet-dir",
                    "--nvme-connector",
                    "--sysfs-root",
                    "--managed-nqn-prefix",
                    "--host-nqn-file",
                    "--max-volumes-per-node",
                    "--node-timeout",
                    "--blkid"}) {
    CAPTURE(flag);
    CHECK(out.find(flag) != std::string::npos);
  }
}

TEST_CASE("a bad flag is one line on stderr and exit code 2") {
  for (std::vector<std::string> args : {std::vector<std::string>{"--no-such-flag"},
                                        {"--mode=everything"},
                                        {"--mode=node"},
                                        {"--migration-timeout-max=10"},
                                        {"--metrics-address=9809"},
                                        {"--nvme-connector=magic"},
                                        {"--kubelet-dir=relative"},
                                        {"--managed-nqn-prefix=csi-"},
                                        {"--node-timeout=0"}}) {
    CAPTURE(args.front());
    std::string out;
    CHECK(run_plugin(args, out) == 2);
    CHECK(lines_in(out) == 1);
  }
}

TEST_CASE("start-up failures exit 1 with the reason") {
  temp_dir dir;
  auto blocker = dir.path() + "/csi.sock";
  std::ofstream{blocker} << "not a socket";
  std::string out;
  CHECK(run_plugin({"--endpoint=unix://" + blocker, "--metrics-address="}, out) == 1);
  CHECK(out.find("cannot listen") != std::string::npos);

  plugin_process first;
  auto port = first.metrics_url().substr(std::string{"http://127.0.0.1:"}.size());
  port = port.substr(0, port.find('/'));
  out.clear();
  CHECK(run_plugin({"--endpoint=unix://" + dir.path() + "/other.sock",
                    "--metrics-address=127.0.0.1:" + port},
                   out)
        == 1);
  CHECK(out.find("cannot serve metrics") != std::string::npos);
}

TEST_CASE("SIGTERM stops the plugin cleanly and removes its socket") {
  plugin_process plugin;
  csi_client client{plugin.endpoint()};
  auto volume = client.provision("pvc-1");
  REQUIRE(!volume.empty());
  REQUIRE(client.publish(volume, "node-a", volume_access::rwo).ok());
  auto socket = plugin.endpoint().substr(std::string{"unix://"}.size());
  struct stat st {};
  REQUIRE(::stat(socket.c_str(), &st) == 0);
  auto begin = std::chrono::steady_clock::now();
  CHECK(plugin.terminate(std::chrono::seconds{5}) == 0);
  CHECK(std::chrono::steady_clock::now() - begin < std::chrono::seconds{5});
  CHECK(::stat(socket.c_str(), &st) != 0);
}
