// rds-csi-plugin: starts the actors, serves CSI on a unix socket and metrics over HTTP, and
// shuts down cleanly on SIGTERM (gRPC first, then the actors).
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <grpc/support/log.h>

#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <pthread.h>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "actors/attachment_join.hpp"
#include "actors/cluster_watch.hpp"
#include "actors/events.hpp"
#include "actors/inspector.hpp"
#include "actors/metrics.hpp"
#include "actors/node_supervisor.hpp"
#include "actors/rds.hpp"
#include "actors/state_feed.hpp"
#include "actors/volume_catalog.hpp"
#include "actors/volume_supervisor.hpp"
#include "cmd/rds-csi-plugin/plugin_options.hpp"
#include "services/csi/server.hpp"
#include "services/http/http_server.hpp"
#include "services/inspection/debug_port.hpp"
#include "services/kube/kube_config.hpp"
#include "services/log/log.hpp"
#include "services/memory/heap.hpp"
#include "services/nvme/connector.hpp"
#include "services/nvme/sysfs.hpp"
#include "services/rds/routeros_simulator.hpp"

using namespace rds;

namespace {

const char* mode_name(plugin_mode m) {
  switch (m) {
  case plugin_mode::controller:
    return "controller";
  case plugin_mode::node:
    return "node";
  case plugin_mode::all:
    return "all";
  }
  return "?";
}

/// 24 random hex digits from the kernel: the embedded simulator's password.
std::string random_secret() {
  std::ifstream in{"/dev/urandom", std::ios::binary};
  std::string secret;
  static const char* hex = "0123456789abcdef";
  for (int i = 0; i < 12; ++i) {
    auto byte = static_cast<unsigned char>(in.get());
    secret.push_back(hex[byte >> 4]);
    secret.push_back(hex[byte & 15]);
  }
  return secret;
}

/// gRPC's own records (it writes them to stderr otherwise) go through our log, in its format.
void log_grpc_record(gpr_log_func_args* record) {
  auto l = record->severity == GPR_LOG_SEVERITY_ERROR  ? log::level::error
           : record->severity == GPR_LOG_SEVERITY_INFO ? log::level::info
                                                       : log::level::debug;
  log::emit(l, log::field{"component", "grpc"}, record->message);
}

/// The log shows none of the cluster credentials, whatever a record would hold.
void redact_kube_secrets(const services::kube::kube_config& connection) {
  log::redact(connection.token);
  log::redact(connection.client_key_pem);
  std::istringstream key_lines{connection.client_key_pem};
  std::string line;
  while (std::getline(key_lines, line))
    if (line.rfind("-----", 0) != 0)
      log::redact(line);
}

/// Blocks the stop signals in this thread and every thread it starts, so sigwait() gets them.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int run(const plugin_options& opts) {
  auto stop_signals = block_stop_signals();
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads",
          static_cast<size_t>(std::max(2u, std::thread::hardware_concurrency())));
  // Idle workers wait instead of polling (the CSI edge's cost at low load; see the benchmark).
  rds::services::csi::configure_scheduler(cfg);
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};

  auto metrics =
    sys.spawn(actors::metrics, actors::metrics_config{opts.metrics_address, opts.driver_name,
                                                      opts.runs_controller(), opts.runs_node()});
  // The live feed of state changes (attach, detach, migrations, restarts) for /debug/stream.
  auto feed = sys.spawn(actors::state_feed, actors::state_feed_config{});
  metrics_status metrics_info;
  self->request(metrics, std::chrono::seconds{10}, status_atom_v)
    .receive([&](const metrics_status& s) { metrics_info = s; },
             [&](caf::error& e) { metrics_info.error = to_string(e); });
  auto stopping = std::make_shared<std::atomic<bool>>(false);
  std::vector<cluster_watch_actor> watches;
  attachment_join_actor join;
  events_actor events;
  rds_actor rds_handle;
  volume_catalog_actor catalog;
  node_supervisor_actor node;
  inspector_actor inspector;
  auto stop_actors = [&](const volume_supervisor_actor& supervisor) {
    *stopping = true;
    if (inspector)
      self->send_exit(inspector, caf::exit_reason::user_shutdown);
    for (auto& w : watches)
      self->send_exit(w, caf::exit_reason::user_shutdown);
    if (join)
      self->send_exit(join, caf::exit_reason::user_shutdown);
    if (supervisor)
      self->send_exit(supervisor, caf::exit_reason::user_shutdown);
    if (events)
      self->send_exit(events, caf::exit_reason::user_shutdown);
    if (catalog)
      self->send_exit(catalog, caf::exit_reason::user_shutdown);
    if (node)
      self->send_exit(node, caf::exit_reason::user_shutdown);
    if (rds_handle)
      self->send_exit(rds_handle, caf::exit_reason::user_shutdown);
    self->send_exit(feed, caf::exit_reason::user_shutdown);
    self->send_exit(metrics, caf::exit_reason::user_shutdown);
  };
  if (!metrics_info.error.empty()) {
    log::error(metrics_info.error);
    stop_actors({});
    return 1;
  }

  // Kubernetes: --kubeconfig, else in-cluster when running in a pod, else none.
  services::kube::kube_config connection;
  auto cluster = outcome::failure(ec::not_found, "");
  if (opts.runs_controller()) {
    if (!opts.kubeconfig.empty())
      cluster = services::kube::load_kubeconfig(opts.kubeconfig, connection);
    else if (std::getenv("KUBERNETES_SERVICE_HOST") != nullptr)
      cluster = services::kube::in_cluster_config(connection);
    if (!cluster.ok() && cluster.code != ec::not_found) {
      log::error(cluster.message);
      stop_actors({});
      return 1;
    }
    redact_kube_secrets(connection);
  }
  actors::events_config events_cfg;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  events_cfg.instance = host;
  if (cluster.ok())
    events_cfg.connection = connection;
  // With a cluster it posts from its own detached poster.
  events = sys.spawn(actors::events, events_cfg, metrics);
  // The RDS: a real one at --rds-address, or the embedded RouterOS simulator on loopback.
  std::unique_ptr<services::rds_api::routeros_simulator> simulator;
  std::unique_ptr<services::http::server> simulator_http;
  actors::rds_config rds_cfg;
  rds_cfg.volume_base_path = opts.rds_volume_base_path;
  std::string nvme_address = opts.rds_address;
  if (opts.runs_controller()) {
    auto& conn = rds_cfg.connection;
    conn.user = opts.rds_user;
    conn.breaker_failures = opts.rds_breaker_failures;
    conn.breaker_cooldown = std::chrono::seconds{opts.rds_breaker_cooldown_seconds};
    if (opts.rds_address.empty() && opts.rds_url.empty()) {
      services::rds_api::simulator_config sim_cfg;
      sim_cfg.data_dir = opts.rds_sim_data_dir;
      sim_cfg.pool =
        opts.rds_volume_base_path.substr(1, opts.rds_volume_base_path.find('/', 1) - 1);
      sim_cfg.user = conn.user;
      sim_cfg.password = conn.password = random_secret();
      ::mkdir(opts.rds_sim_data_dir.substr(0, opts.rds_sim_data_dir.rfind('/')).c_str(), 0750);
      simulator = std::make_unique<services::rds_api::routeros_simulator>(sim_cfg);
      if (!simulator->error().empty()) {
        log::error("embedded RDS simulator: ", simulator->error());
        stop_actors({});
        return 1;
      }
      auto* sim = simulator.get();
      simulator_http = std::make_unique<services::http::server>(
        "127.0.0.1:0", [sim](const services::http::request& req) { return sim->handle(req); });
      if (!simulator_http->error().empty()) {
        log::error("embedded RDS simulator: ", simulator_http->error());
        stop_actors({});
        return 1;
      }
      conn.base_url = "http://127.0.0.1:" + std::to_string(simulator_http->port()) + "/rest";
      nvme_address = "127.0.0.1";
      log::info("no --rds-address: volumes live in the embedded RDS simulator under ",
                opts.rds_sim_data_dir);
    } else {
      auto host = opts.rds_address.find(':') != std::string::npos ? "[" + opts.rds_address + "]"
                                                                  : opts.rds_address;
      conn.base_url = opts.rds_url.empty()
                        ? "https://" + host + ":" + std::to_string(opts.rds_port) + "/rest"
                        : opts.rds_url;
      if (nvme_address.empty())
        nvme_address = "127.0.0.1";
      conn.ca_file = opts.rds_ca_file;
      conn.insecure_skip_verify = opts.rds_insecure_skip_verify;
      if (conn.insecure_skip_verify)
        log::warning("--rds-insecure-skip-verify: the RDS's certificate is NOT verified; anyone on "
                     "the path can read the RDS credentials. Use --rds-ca-file instead.");
      if (!opts.rds_password_file.empty()) {
        std::ifstream in{opts.rds_password_file};
        if (!in || !std::getline(in, conn.password)) {
          log::error("cannot read --rds-password-file ", opts.rds_password_file);
          stop_actors({});
          return 1;
        }
      }
    }
    log::redact(conn.password);
    // Its requests run in its own detached session worker and copy workers.
    rds_handle = sys.spawn(actors::rds, rds_cfg, metrics);
    catalog = sys.spawn(actors::volume_catalog, rds_handle, rds_cfg.connection.deadline);
  }

  // The supervisor is given the catalog at spawn; the cluster watches feed the supervisor.
  volume_supervisor_actor supervisor;
  if (opts.runs_controller()) {
    actors::volume_supervisor_config supervisor_cfg;
    supervisor_cfg.follow_cluster = cluster.ok();
    if (!cluster.ok() && opts.runs_node())
      supervisor_cfg.served_nodes = {opts.node_id};
    // A volume actor too slow for an inspection is reported by the supervisor (with its last
    // known state) before the inspection port's own deadline passes.
    supervisor_cfg.inspect_bound = std::chrono::milliseconds{opts.debug_timeout_ms} / 2;
    supervisor_cfg.hibernation.idle = std::chrono::seconds{opts.volume_idle_seconds};
    supervisor_cfg.hibernation.trim_after = 1024;
    for (auto& fault : opts.test_faults) {
      actors::add_test_fault(fault, supervisor_cfg.faults); // checked by the flag parser
      log::warning("test fault ", fault, " is active (--test-fault is for tests only)");
    }
    supervisor =
      sys.spawn(actors::volume_supervisor, supervisor_cfg, metrics, events, catalog, feed);
  }
  if (cluster.ok()) {
    log::info("following Kubernetes at ", connection.server);
    actors::cluster_watch_config watch_cfg;
    watch_cfg.connection = connection;
    watch_cfg.driver_name = opts.driver_name;
    watch_cfg.stopping = stopping;
    watch_cfg.call_deadline = std::chrono::seconds{opts.kube_timeout_seconds};
    watch_cfg.page_size = opts.kube_page_size;
    // VolumeAttachments and PersistentVolumes are followed separately and joined on messages.
    join = sys.spawn(actors::attachment_join,
                     actors::attachment_join_config{opts.driver_name, opts.migrations}, supervisor,
                     metrics, events);
    // Each watch runs its blocking rounds in its own detached worker.
    watches.push_back(sys.spawn(actors::attachment_watch, watch_cfg, join, metrics));
    watches.push_back(sys.spawn(actors::volume_watch, watch_cfg, join, metrics));
    watches.push_back(sys.spawn(actors::node_watch, watch_cfg, supervisor, metrics));
  }

  services::csi::server_config server_cfg;
  server_cfg.nvme_address = nvme_address;
  server_cfg.volume_base_path = opts.rds_volume_base_path;
  server_cfg.endpoint = opts.endpoint;
  server_cfg.driver_name = opts.driver_name;
  server_cfg.vendor_version = RDS_CSI_VERSION;
  server_cfg.controller = opts.runs_controller();
  server_cfg.migrations = opts.migrations;
  if (opts.runs_node()) {
    bool embedded = opts.rds_address.empty() && opts.rds_url.empty();
    auto kind = opts.nvme_connector.empty() ? (embedded ? "loop" : "fabrics") : opts.nvme_connector;
    actors::node_config node_cfg;
    node_cfg.managed_prefix = opts.managed_nqn_prefix;
    node_cfg.kubelet_dir = opts.kubelet_dir;
    node_cfg.tools.blkid = opts.blkid;
    node_cfg.tools.deadline = std::chrono::seconds{opts.node_timeout_seconds};
    node_cfg.operation_deadline = std::chrono::seconds{opts.node_timeout_seconds};
    std::ifstream host_nqn{opts.host_nqn_file};
    if (host_nqn && std::getline(host_nqn, node_cfg.host_nqn)
        && !services::nvme::valid_nqn(node_cfg.host_nqn)) {
      log::error(opts.host_nqn_file, " does not hold an NQN");
      stop_actors(supervisor);
      return 1;
    }
    if (kind == std::string{"loop"}) {
      services::nvme::loop_config loop;
      loop.sysfs_root =
        opts.sysfs_root == "/sys" ? opts.rds_sim_data_dir + "/sysfs" : opts.sysfs_root;
      loop.pool_dir = opts.rds_sim_data_dir
                      + opts.rds_volume_base_path.substr(0, opts.rds_volume_base_path.find('/', 1));
      loop.deadline = node_cfg.tools.deadline;
      log::info("node: NVMe/TCP stood in by loop devices over ", loop.pool_dir, ", sysfs at ",
                loop.sysfs_root);
      ::mkdir(loop.sysfs_root.c_str(), 0750);
      node_cfg.connector = std::make_shared<services::nvme::loop_connector>(loop);
    } else {
      services::nvme::fabrics_config fabrics;
      fabrics.sysfs_root = opts.sysfs_root;
      node_cfg.connector = services::nvme::make_fabrics_connector(fabrics);
    }
    // This node's connections as the plugin starts (a restarted plugin finds them in place);
    // read here, not in an actor: sysfs is I/O.
    self->send(metrics, nvme_connections_counted{services::nvme::managed_controllers(
                          node_cfg.connector->sysfs_root(), node_cfg.managed_prefix)});
    node = sys.spawn(actors::node_supervisor, node_cfg, metrics);
    server_cfg.node = true;
    server_cfg.node_id = opts.node_id;
    server_cfg.max_volumes_per_node = opts.max_volumes_per_node;
    server_cfg.kubelet_dir = opts.kubelet_dir;
    server_cfg.node_timeout = std::chrono::seconds{opts.node_timeout_seconds};
  }
  // The inspection port (README "Inspection port"): read-only, asks the actors with a deadline.
  std::unique_ptr<services::inspection::debug_port> debug;
  std::string debug_url = "disabled";
  if (!opts.debug_address.empty()) {
    services::inspection::debug_port_config debug_cfg;
    debug_cfg.address = opts.debug_address;
    debug_cfg.timeout = std::chrono::milliseconds{opts.debug_timeout_ms};
    debug_cfg.max_clients = opts.debug_max_clients;
    debug_cfg.controller = opts.runs_controller();
    debug_cfg.node = opts.runs_node();
    if (!opts.debug_token_file.empty()) {
      std::ifstream in{opts.debug_token_file};
      std::getline(in, debug_cfg.token);
      while (!debug_cfg.token.empty()
             && std::isspace(static_cast<unsigned char>(debug_cfg.token.back())))
        debug_cfg.token.pop_back();
      if (debug_cfg.token.empty()) {
        log::error("cannot read a token from --debug-token-file ", opts.debug_token_file);
        stop_actors(supervisor);
        return 1;
      }
      log::redact(debug_cfg.token);
    }
    actors::inspector_targets targets{metrics, supervisor, catalog, rds_handle, watches,
                                      join,    events,     node,    feed};
    inspector = sys.spawn(actors::inspector,
                          actors::inspector_config{debug_cfg.timeout, opts.node_id}, targets);
    debug =
      std::make_unique<services::inspection::debug_port>(sys, debug_cfg, inspector, feed, metrics);
    if (!debug->error().empty()) {
      log::error(debug->error());
      debug.reset();
      stop_actors(supervisor);
      return 1;
    }
    auto host = opts.debug_address.substr(0, opts.debug_address.rfind(':'));
    debug_url = "http://" + host + ":" + std::to_string(debug->port()) + "/";
  }
  services::csi::server server{sys, server_cfg, {metrics, supervisor, rds_handle, catalog, node}};
  if (auto err = server.start(); !err.empty()) {
    log::error(err);
    debug.reset();
    stop_actors(supervisor);
    return 1;
  }
  // Tests and operators read where the plugin listens from these lines.
  std::cout << "rds-csi-plugin " << RDS_CSI_VERSION << " mode " << mode_name(opts.mode)
            << "\ncsi endpoint: " << opts.endpoint << "\ndebug: " << debug_url << "\nmetrics: "
            << (metrics_info.listen_address.empty()
                  ? std::string{"disabled"}
                  : "http://" + metrics_info.listen_address + "/metrics")
            << std::endl;
  log::info("serving CSI driver ", opts.driver_name, " on ", opts.endpoint,
            " (heap: ", services::memory::allocator_name(),
            services::memory::background_purge() ? ", unused pages returned in the background" : "",
            ")");

  int signal = 0;
  sigwait(&stop_signals, &signal);
  log::info("received ", signal == SIGTERM ? "SIGTERM" : "SIGINT",
            ": stopping gRPC, then the actors");
  server.shutdown(std::chrono::seconds{opts.shutdown_grace_seconds});
  debug.reset();
  log::debug("gRPC stopped; stopping the actors");
  stop_actors(supervisor);
  log::debug("actors told to stop");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* env_endpoint = std::getenv("CSI_ENDPOINT");
  auto parsed = parse_plugin_options(args, env_endpoint ? env_endpoint : "");
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "rds-csi-plugin: %s (see --help)\n", parsed.error.c_str());
    return 2;
  }
  if (parsed.help) {
    std::cout << plugin_usage();
    return 0;
  }
  if (parsed.version) {
    std::cout << "rds-csi-plugin " << RDS_CSI_VERSION << "\n";
    return 0;
  }
  log::set_threshold(parsed.options.log_level);
  log::set_format(parsed.options.log_format);
  gpr_set_log_function(log_grpc_record);
  auto rc = run(parsed.options);
  log::debug("actors stopped; exiting with ", rc);
  return rc;
}
