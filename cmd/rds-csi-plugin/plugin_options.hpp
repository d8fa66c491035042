// Command-line flags of rds-csi-plugin: parsing (CLI11), defaults and validation.
#pragma once

#include <string>
#include <vector>

#include "messages/attachment.hpp"
#include "messages/volume_context.hpp"
#include "services/log/log.hpp"

namespace rds {

enum class plugin_mode { controller, node, all };

struct plugin_options {
  std::string endpoint;
  std::string driver_name = "rds.csi.srvlab.io";
  plugin_mode mode = plugin_mode::controller;
  std::string node_id;
  /// host:port for /metrics; empty disables it. Loopback unless told otherwise.
  std::string metrics_address = "127.0.0.1:9809";
  log::level log_level = log::level::info;
  log::format log_format = log::format::text;
  migration_policy migrations;
  /// A kubeconfig file; empty: in-cluster configuration when running in a pod, else none.
  std::string kubeconfig;
  /// Deadline of one Kubernetes API call, retries included.
  int kube_timeout_seconds = 30;
  /// Items per page when listing from Kubernetes.
  int kube_page_size = 500;
  /// The RDS management address; empty: the embedded RouterOS simulator on loopback.
  std::string rds_address;
  /// The REST base URL itself (e.g. a plain-HTTP rds-sim in tests); overrides --rds-address/port.
  std::string rds_url;
  int rds_port = 443;
  std::string rds_user = "rds-csi";
  /// Files, as mounted from a Secret: the password and the CA of the RDS's certificate.
  std::string rds_password_file;
  std::string rds_ca_file;
  bool rds_insecure_skip_verify = false;
  /// Where volume files go on the RDS: "/<pool>[/<dir>]".
  std::string rds_volume_base_path = "/raid10";
  /// Circuit breaker: consecutive failures that open it, and seconds it stays open.
  int rds_breaker_failures = 5;
  int rds_breaker_cooldown_seconds = 10;
  /// The embedded simulator's data directory.
  std::string rds_sim_data_dir = "/tmp/rds-csi/rds-sim";
  /// How long SIGTERM waits for in-flight RPCs.
  int shutdown_grace_seconds = 5;
  /// Controller: seconds an attached, not migrating volume goes without a request before its
  /// actor is retired (hibernation; its state and ring are kept by the supervisor); 0: never.
  int volume_idle_seconds = 60;

  // The inspection port (README "Inspection port").
  /// host:port of the read-only debug HTTP port; empty disables it. Loopback unless
  /// debug_allow_remote, which needs debug_token_file too.
  std::string debug_address = "127.0.0.1:9810";
  bool debug_allow_remote = false;
  /// A file holding the bearer token every request must carry (empty: none asked).
  std::string debug_token_file;
  /// How long the port waits for each actor's answer.
  int debug_timeout_ms = 500;
  /// Concurrent connections the port serves; more are answered 503.
  int debug_max_clients = 8;

  /// Test-only faults (hidden flag --test-fault, README "Tests"); never given in operation.
  std::vector<std::string> test_faults;

  // The node plugin.
  /// Every path kubelet hands over must be inside it.
  std::string kubelet_dir = "/var/lib/kubelet";
  /// NVMe controllers show up here ("/sys"; a laid-out tree with the loop connector).
  std::string sysfs_root = "/sys";
  /// "fabrics": the kernel's /dev/nvme-fabrics; "loop": the RDS simulator's disk files as loop
  /// devices (the default with the embedded simulator, so volumes stage on a laptop).
  std::string nvme_connector;
  /// Subsystems the driver may disconnect; never one outside it (host NVMe boot disks).
  std::string managed_nqn_prefix = std::string{volume_nqn_prefix} + "csi-";
  std::string host_nqn_file = "/etc/nvme/hostnqn";
  long long max_volumes_per_node = 0;
  /// Deadline of one node operation and of each program it runs (blkid, mkfs, ...).
  int node_timeout_seconds = 180;
  std::string blkid = "blkid";

  bool runs_controller() const { return mode != plugin_mode::node; }
  bool runs_node() const { return mode != plugin_mode::controller; }
};

struct parsed_options {
  plugin_options options;
  /// --help (or -h) was given: print plugin_usage() and exit.
  bool help = false;
  bool version = false;
  /// One line saying what is wrong; empty when the flags are fine.
  std::string error;
};

/// Parses the flags (CLI11): --flag=value or --flag value, the last one given wins.
/// `env_endpoint` is $CSI_ENDPOINT (or empty): the default when --endpoint is not given.
parsed_options parse_plugin_options(const std::vector<std::string>& args,
                                    const std::string& env_endpoint);

/// Whether the host of "HOST:PORT" is a loopback address (127.0.0.0/8, ::1, localhost).
bool loopback_address(const std::string& address);

/// --help's text, from the same flag definitions the parser uses.
std::string plugin_usage();

} // namespace rds
