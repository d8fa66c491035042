// Flag parsing of rds-csi-plugin.
#include <doctest/doctest.h>

#include "cmd/rds-csi-plugin/plugin_options.hpp"

using namespace rds;
using namespace std::chrono_literals;

TEST_CASE("defaults") {
  auto p = parse_plugin_options({}, "");
  REQUIRE(p.error.empty());
  CHECK(p.options.endpoint == "unix:///tmp/rds-csi/csi.sock");
  CHECK(p.options.driver_name == "rds.csi.srvlab.io");
  CHECK(p.options.metrics_address == "127.0.0.1:9809");
  CHECK(p.options.mode == plugin_mode::controller);
  CHECK(p.options.migrations.minimum == 30s);
  CHECK(p.options.migrations.maximum == 3600s);
  CHECK(p.options.migrations.fallback == 300s);
  CHECK(parse_plugin_options({}, "unix:///csi/csi.sock").options.endpoint
        == "unix:///csi/csi.sock");
}

TEST_CASE("both flag forms and every flag") {
  auto p = parse_plugin_options(
    {"--endpoint=unix:///run/x.sock", "--driver-name", "example.org", "--mode=all", "--node-id",
     "worker-1", "--metrics-address=", "--log-level=debug", "--migration-timeout-min=1",
     "--migration-timeout-default=2", "--migration-timeout-max=10", "--shutdown-grace=1"},
    "");
  REQUIRE(p.error.empty());
  CHECK(p.options.endpoint == "unix:///run/x.sock");
  CHECK(p.options.driver_name == "example.org");
  CHECK(p.options.mode == plugin_mode::all);
  CHECK(p.options.node_id == "worker-1");
  CHECK(p.options.metrics_address.empty());
  CHECK(p.options.log_level == log::level::debug);
  CHECK(p.options.migrations.minimum == 1s);
  CHECK(p.options.migrations.fallback == 2s);
  CHECK(p.options.migrations.maximum == 10s);
  CHECK(p.options.shutdown_grace_seconds == 1);
}

TEST_CASE("bad flags are one-line errors") {
  for (std::vector<std::string> args : {std::vector<std::string>{"--bogus"},
                                        {"--mode=both"},
                                        {"--mode"},
                                        {"--endpoint=tcp://x"},
                                        {"--driver-name=-bad-"},
                                        {"--metrics-address=nohost"},
                                        {"--log-level=loud"},
                                        {"--migration-timeout-min=0"},
                                        {"--migration-timeout-min=400"},
                                        {"--migration-timeout-max=20"},
                                        {"--mode=node"},
                                        {"--node-id=bad id"}}) {
    CAPTURE(args.front());
    auto p = parse_plugin_options(args, "");
    CHECK_FALSE(p.error.empty());
    CHECK(p.error.find('\n') == std::string::npos);
  }
  CHECK(parse_plugin_options({"--help"}, "").help);
  CHECK(parse_plugin_options({"--version"}, "").version);
}

TEST_CASE("node flags") {
  auto defaults = parse_plugin_options({"--mode=node", "--node-id=n1"}, "").options;
  CHECK(defaults.kubelet_dir == "/var/lib/kubelet");
  CHECK(defaults.sysfs_root == "/sys");
  CHECK(defaults.nvme_connector.empty()); // chosen from the RDS: loop for the embedded one
  CHECK(defaults.managed_nqn_prefix == "nqn.2000-02.com.mikrotik:csi-");
  CHECK(defaults.node_timeout_seconds == 180);
  auto p = parse_plugin_options({"--mode=node", "--node-id=n1", "--kubelet-dir=/k",
                                 "--nvme-connector=fabrics", "--sysfs-root=/fake/sys",
                                 "--managed-nqn-prefix=nqn.2000-02.com.example:vol-",
                                 "--host-nqn-file=/etc/host.nqn", "--max-volumes-per-node=20",
                                 "--node-timeout=30", "--blkid=/sbin/blkid"},
                                "");
  REQUIRE(p.error.empty());
  CHECK(p.options.kubelet_dir == "/k");
  CHECK(p.options.nvme_connector == "fabrics");
  CHECK(p.options.sysfs_root == "/fake/sys");
  CHECK(p.options.managed_nqn_prefix == "nqn.2000-02.com.example:vol-");
  CHECK(p.options.max_volumes_per_node == 20);
  CHECK(p.options.node_timeout_seconds == 30);
  CHECK(p.options.blkid == "/sbin/blkid");
  for (auto bad : {"--kubelet-dir=/", "--kubelet-dir=/a/../b", "--nvme-connector=rdma",
                   "--managed-nqn-prefix=nqn.x", "--max-volumes-per-node=-1"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_plugin_options({"--mode=node", "--node-id=n1", bad}, "").error.empty());
  }
}
