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
  CHECK(p.options.log_level == log::level::info);
  CHECK(p.options.log_format == log::format::text);
  CHECK_FALSE(p.options.rds_insecure_skip_verify);
  CHECK(p.options.kube_timeout_seconds == 30);
  CHECK(p.options.rds_port == 443);
  CHECK(parse_plugin_options({}, "unix:///csi/csi.sock").options.endpoint
        == "unix:///csi/csi.sock");
}

TEST_CASE("both flag forms and every flag") {
  auto p = parse_plugin_options({"--endpoint=unix:///run/x.sock", "--driver-name", "example.org",
                                 "--mode=all", "--node-id", "worker-1",
                                 "--metrics-address=", "--log-level=debug", "--log-format", "json",
                                 "--migration-timeout-min=1", "--migration-timeout-default=2",
                                 "--migration-timeout-max=10", "--shutdown-grace=1"},
                                "");
  REQUIRE(p.error.empty());
  CHECK(p.options.endpoint == "unix:///run/x.sock");
  CHECK(p.options.driver_name == "example.org");
  CHECK(p.options.mode == plugin_mode::all);
  CHECK(p.options.node_id == "worker-1");
  CHECK(p.options.metrics_address.empty());
  CHECK(p.options.log_level == log::level::debug);
  CHECK(p.options.log_format == log::format::json);
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
                                        {"--node-id=bad id"},
                                        {"--log-format=yaml"},
                                        {"--log-format"},
                                        {"--kube-timeout=0"},
                                        {"--kube-timeout=1e3"},
                                        {"--rds-port=0x1bb"},
                                        {"--rds-insecure-skip-verify=yes"},
                                        {"--rds-insecure-skip-verify"},
                                        {"--rds-volume-base-path=/raid10/"},
                                        {"--rds-url=ftp://example.org/rest"},
                                        {"--kubeconfig="},
                                        {"--shutdown-grace=-1"},
                                        {"a-positional-argument"},
                                        {"-x"}}) {
    CAPTURE(args.front());
    auto p = parse_plugin_options(args, "");
    CHECK_FALSE(p.error.empty());
    CHECK(p.error.find('\n') == std::string::npos);
  }
  CHECK(parse_plugin_options({"--help"}, "").help);
  CHECK(parse_plugin_options({"-h"}, "").help);
  CHECK(parse_plugin_options({"--version"}, "").version);
}

TEST_CASE("a bad value is named with its flag and the value given") {
  CHECK(parse_plugin_options({"--mode=both"}, "").error
        == "--mode: must be controller, node or all (got 'both')");
  CHECK(parse_plugin_options({"--kube-timeout", "601"}, "").error
        == "--kube-timeout: must be a whole number of seconds from 1 to 600 (got '601')");
  CHECK(parse_plugin_options({"--bogus=1"}, "").error.find("--bogus") != std::string::npos);
  CHECK(parse_plugin_options({"--mode=node"}, "").error
        == "--node-id is required with --mode=node or --mode=all");
  CHECK(parse_plugin_options({"--migration-timeout-default=10"}, "").error
        == "migration timeouts must satisfy min <= default <= max (got min 30, default 10, max "
           "3600)");
}

TEST_CASE("the last of a repeated flag wins; --flag= is the empty value") {
  auto p = parse_plugin_options({"--log-level=error", "--log-level", "debug", "--metrics-address=",
                                 "--mode=all", "--node-id=n1", "--mode", "controller"},
                                "");
  REQUIRE(p.error.empty());
  CHECK(p.options.log_level == log::level::debug);
  CHECK(p.options.metrics_address.empty());
  CHECK(p.options.mode == plugin_mode::controller);
  // An empty value given apart is empty too; one that needs a value refuses it.
  CHECK(parse_plugin_options({"--metrics-address", ""}, "").options.metrics_address.empty());
  CHECK_FALSE(parse_plugin_options({"--rds-user="}, "").error.empty());
  CHECK(
    parse_plugin_options({"--rds-insecure-skip-verify=true"}, "").options.rds_insecure_skip_verify);
}

TEST_CASE("--help comes from the same definitions: every flag with its default") {
  auto help = plugin_usage();
  for (std::string flag :
       {"--endpoint unix:///PATH [default: unix:///tmp/rds-csi/csi.sock]",
        "--driver-name NAME [default: rds.csi.srvlab.io]",
        "--mode controller|node|all [default: controller]",
        "--log-format text|json [default: text]",
        "--log-level debug|info|warning|error [default: info]",
        "--metrics-address HOST:PORT [default: 127.0.0.1:9809]",
        "--migration-timeout-default SECONDS [default: 300]", "--kube-page-size N [default: 500]",
        "--rds-insecure-skip-verify true|false [default: false]",
        "--node-timeout SECONDS [default: 180]", "--blkid PATH [default: blkid]", "--node-id ID ",
        "--kubeconfig PATH ", "--version", "-h,--help"}) {
    CAPTURE(flag);
    CHECK(help.find(flag) != std::string::npos);
  }
  // $CSI_ENDPOINT changes the value, not the default --help shows.
  CHECK(parse_plugin_options({"--help"}, "unix:///elsewhere.sock").help);
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
