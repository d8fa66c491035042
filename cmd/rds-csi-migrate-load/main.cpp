// rds-csi-migrate-load: storms a CSI plugin with concurrent KubeVirt live migrations of RWX
// block volumes, checks the invariants on every answer and the plugin's migration counters at
// the end, and reports latency, throughput, memory and a verdict. Exit code 0: no breach;
// 1: a breach (printed with its volume and step); 2: bad flags.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "client/kube_cluster.hpp"
#include "client/plugin_process.hpp"
#include "cmd/rds-csi-migrate-load/cluster_driver.hpp"
#include "cmd/rds-csi-migrate-load/report.hpp"
#include "cmd/rds-csi-migrate-load/storm.hpp"

using namespace rds;
using namespace rds::migrate_load;

namespace {

/// "success=70,rollback=10,...": names not given weigh 0.
std::string parse_weights(const std::string& text, std::array<double, scenario_count>& weights) {
  weights.fill(0);
  std::istringstream items{text};
  std::string item;
  double total = 0;
  while (std::getline(items, item, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos)
      return "--scenario-weights: '" + item + "' is not NAME=WEIGHT";
    auto name = item.substr(0, eq);
    size_t which = scenario_count;
    for (size_t i = 0; i < scenario_count; ++i)
      if (name == scenario_name(static_cast<scenario>(i)))
        which = i;
    if (which == scenario_count)
      return "--scenario-weights: unknown scenario '" + name
             + "' (success, rollback, timeout, third-node, rwo-conflict, node-deleted)";
    try {
      size_t used = 0;
      auto value = std::stod(item.substr(eq + 1), &used);
      if (used != item.size() - eq - 1 || value < 0 || !std::isfinite(value))
        throw std::invalid_argument("");
      weights[which] = value;
      total += value;
    } catch (const std::exception&) {
      return "--scenario-weights: '" + item.substr(eq + 1) + "' is not a weight";
    }
  }
  if (total <= 0)
    return "--scenario-weights: the weights add up to 0";
  return {};
}

std::string machine() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line, model = "unknown CPU";
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  double load[3] = {0, 0, 0};
  ::getloadavg(load, 3);
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, %ld cores, load average %.1f at start", model.c_str(),
                ::sysconf(_SC_NPROCESSORS_ONLN), load[0]);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"rds-csi-migrate-load: storms of concurrent KubeVirt live migrations against a CSI "
               "plugin, with invariants checked and a verdict"};
  storm_config c;
  std::string weights = "success=70,rollback=10,timeout=5,third-node=10,rwo-conflict=5";
  std::string endpoint, metrics_url, debug_url, report_path, plot_dir, apiserver;
  size_t api_workers = 16;
  std::vector<std::string> rds_faults;
  std::vector<std::string> plugin_extra_flags;
  int64_t rwo_volumes = -1;
  int64_t max_duration = 600, deadline_ms = 30000, progress_ms = 1000;
  app.add_option("--volumes", c.volumes, "RWX block volumes created and attached")
    ->capture_default_str()
    ->check(CLI::Range(size_t{1}, size_t{10000000}));
  app.add_option("--rwo-volumes", rwo_volumes,
                 "RWO volumes for the rwo-conflict scenario (default: 5% of --volumes when that "
                 "scenario has weight)");
  app.add_option("--migrations", c.migrations, "migrations in the storm")->capture_default_str();
  app.add_option("--concurrency", c.concurrency, "migrations in flight at once")
    ->capture_default_str()
    ->check(CLI::Range(size_t{1}, size_t{1000000}));
  app.add_option("--nodes", c.nodes, "node ids the volumes move between (at least 3)")
    ->capture_default_str()
    ->check(CLI::Range(size_t{3}, size_t{1000000}));
  app.add_option("--seed", c.seed, "seed of every random choice (scenarios, nodes, durations)")
    ->capture_default_str();
  app
    .add_option("--time-scale", c.time_scale,
                "factor on KubeVirt's field durations between steps (0: no waits)")
    ->capture_default_str()
    ->check(CLI::Range(0.0, 10.0));
  app
    .add_option("--migration-timeout", c.migration_timeout_seconds,
                "each volume's migrationTimeoutSeconds (real seconds: the timeout scenario "
                "waits that long)")
    ->capture_default_str()
    ->check(CLI::Range(1, 3600));
  app
    .add_option("--scenario-weights", weights,
                "NAME=WEIGHT,...: success, rollback, timeout, third-node, rwo-conflict, "
                "node-deleted (the source's Node object deleted mid-migration: needs --apiserver; "
                "with it, node-deleted=5 is added unless this option is given)")
    ->capture_default_str();
  app
    .add_option("--kill-controller-every", c.kill_every,
                "SIGKILL and restart the plugin after about every N migrations (0: never; only "
                "a plugin the harness started)")
    ->capture_default_str();
  app
    .add_option("--audit-every", c.audit_every,
                "ControllerGetVolume of a random idle volume every N migrations (0: never)")
    ->capture_default_str();
  app
    .add_option("--idle-seconds", c.idle_seconds,
                "after the set-up, let the attached volumes idle this long and read the plugin's "
                "RSS again (its --volume-idle-seconds retires idle volume actors)")
    ->check(CLI::Range(0, 3600))
    ->capture_default_str();
  app.add_option("--plugin-flag", plugin_extra_flags,
                 "pass this flag to the plugin the harness starts (e.g. "
                 "--plugin-flag=--volume-idle-seconds=5); repeatable");
  app.add_option("--final-audit", c.final_audit, "volumes audited at the end (0: all)")
    ->capture_default_str();
  app.add_option("--probes", c.probes, "sequential Probe round trips before the storm")
    ->capture_default_str();
  app.add_option("--max-duration", max_duration, "seconds before the storm is given up (a breach)")
    ->capture_default_str()
    ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  app.add_option("--rpc-deadline-ms", deadline_ms, "deadline of each CSI call")
    ->capture_default_str()
    ->check(CLI::Range(int64_t{10}, int64_t{600000}));
  app.add_option("--progress-interval-ms", progress_ms, "how often progress is shown")
    ->capture_default_str()
    ->check(CLI::Range(int64_t{50}, int64_t{3600000}));
  app.add_option("--endpoint", endpoint,
                 "a running plugin's CSI endpoint (unix:///path); default: start the plugin "
                 "($RDS_CSI_PLUGIN or next to this program) on its embedded default");
  app.add_option("--metrics-url", metrics_url,
                 "with --endpoint: the plugin's http://HOST:PORT/metrics");
  app.add_option("--debug-url", debug_url,
                 "with --endpoint: the plugin's inspection port http://HOST:PORT, to compare "
                 "every volume's state with the harness's attachments at the end");
  app.add_option("--apiserver", apiserver,
                 "start etcd and this kube-apiserver binary on loopback, create the Nodes, "
                 "CSINodes and PersistentVolumes, run the plugin with a kubeconfig, and write "
                 "every attach and detach as VolumeAttachments the way the attach/detach "
                 "controller and the external-attacher do");
  app
    .add_option("--api-workers", api_workers,
                "with --apiserver: threads writing VolumeAttachments (each call blocks)")
    ->capture_default_str()
    ->check(CLI::Range(size_t{1}, size_t{256}));
  app.add_option("--rds-fault", rds_faults,
                 "start rds-sim with this fault flag (e.g. --rds-fault=--error-rate=PUT=0.1) and "
                 "point the plugin at it; repeatable");
  bool node = false;
  app.add_flag("--node", node,
               "also start a node plugin (--mode=node, loop devices over the embedded simulator's "
               "disk files, its own kubelet dir and sysfs) per node id and, for each migration, "
               "NodeStage/NodePublish the volume on the target and NodeUnpublish/NodeUnstage it "
               "on the node detached (RWX volumes; at most 16 nodes; not with --endpoint or "
               "--rds-fault; needs root and loop devices)");
  app.add_option("--report", report_path, "write the JSON report here");
  app.add_option("--plot-dir", plot_dir,
                 "where latency.dat, throughput.dat (and with gnuplot their SVGs) go (default: "
                 "the report's directory, else the current one)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; any bad flag or value is exit code 2, as for the plugin.
    auto code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (!apiserver.empty() && app.count("--scenario-weights") == 0)
    weights += ",node-deleted=5";
  if (auto error = parse_weights(weights, c.weights); !error.empty()) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 2;
  }
  if (apiserver.empty() && c.weights[static_cast<size_t>(scenario::node_deleted)] > 0) {
    std::fprintf(stderr, "--scenario-weights: node-deleted needs --apiserver (the Node objects "
                         "live in the apiserver)\n");
    return 2;
  }
  if (!endpoint.empty() && metrics_url.empty()) {
    std::fprintf(stderr, "--endpoint needs --metrics-url (the counters are checked)\n");
    return 2;
  }
  if (!apiserver.empty() && !endpoint.empty()) {
    std::fprintf(stderr, "--apiserver starts its own plugin (no --endpoint)\n");
    return 2;
  }
  if (node && (!endpoint.empty() || !rds_faults.empty() || c.nodes > 16)) {
    std::fprintf(stderr, "--node starts a node plugin per node id over the embedded simulator: "
                         "not with --endpoint or --rds-fault, and at most 16 --nodes\n");
    return 2;
  }
  if (!endpoint.empty() && (c.kill_every > 0 || !rds_faults.empty())) {
    std::fprintf(stderr, "--kill-controller-every and --rds-fault need a plugin the harness "
                         "starts (no --endpoint)\n");
    return 2;
  }
  auto rwo_weight = c.weights[static_cast<size_t>(scenario::rwo_conflict)];
  c.rwo_volumes = rwo_volumes >= 0 ? static_cast<size_t>(rwo_volumes)
                  : rwo_weight > 0 ? std::max<size_t>(1, c.volumes / 20)
                                   : 0;
  if (rwo_weight > 0 && c.rwo_volumes == 0) {
    std::fprintf(stderr, "--scenario-weights gives rwo-conflict weight but --rwo-volumes is 0\n");
    return 2;
  }
  c.concurrency = std::min(c.concurrency, c.volumes);
  c.max_duration = std::chrono::seconds{max_duration};
  c.rpc_deadline = std::chrono::milliseconds{deadline_ms};
  c.progress_interval = std::chrono::milliseconds{progress_ms};
  c.terminal = ::isatty(STDOUT_FILENO) != 0;
  if (!endpoint.empty())
    c.name_prefix = "mload-" + std::to_string(::getpid());
  if (plot_dir.empty())
    plot_dir =
      report_path.empty() ? "." : std::filesystem::absolute(report_path).parent_path().string();

  run_facts facts;
  facts.config = c;
  facts.machine = machine();

  std::unique_ptr<client::temp_dir> work;
  std::unique_ptr<client::plugin_process> plugin;
  std::vector<std::unique_ptr<client::plugin_process>> node_plugins;
  pid_t sim_pid = -1;
  std::vector<std::string> plugin_flags;
  std::string kubeconfig;
  plugin_control control;
  try {
    if (endpoint.empty()) {
      work = std::make_unique<client::temp_dir>();
      plugin_flags = {"--migration-timeout-min=1"};
      plugin_flags.insert(plugin_flags.end(), plugin_extra_flags.begin(), plugin_extra_flags.end());
      if (!rds_faults.empty()) {
        auto url = client::start_rds_sim(*work, rds_faults, sim_pid);
        if (url.empty())
          throw std::runtime_error("rds-sim did not start with " + rds_faults.front());
        auto flags = client::rds_sim_flags(*work, url);
        plugin_flags.insert(plugin_flags.end(), flags.begin(), flags.end());
        facts.rds = "rds-sim on loopback with";
        for (auto& f : rds_faults)
          facts.rds += " " + f;
      } else {
        // The same embedded RDS files across restarts, so a restarted plugin has the volumes.
        plugin_flags.push_back("--rds-sim-data-dir=" + work->path() + "/sim");
        facts.rds = "the plugin's embedded simulator";
      }
      if (!apiserver.empty()) {
        ::setenv("RDS_CSI_KUBE_APISERVER", apiserver.c_str(), 1);
        auto& cluster = client::kube_cluster::instance();
        for (size_t i = 0; i < c.nodes; ++i)
          cluster.create_nodes({"node-" + std::to_string(i)});
        kubeconfig = cluster.kubeconfig("admin-token");
        plugin_flags.push_back("--kubeconfig=" + kubeconfig);
      }
      plugin = std::make_unique<client::plugin_process>(plugin_flags);
      facts.plugin = "started by the harness (" + client::plugin_binary() + ", --mode=controller, "
                     + (apiserver.empty() ? "no cluster"
                                          : "kube-apiserver + etcd on loopback, "
                                            "VolumeAttachments written as the external-attacher "
                                            "does")
                     + ")";
      for (size_t i = 0; node && i < c.nodes; ++i) {
        // A node of its own: kubelet dir and sysfs; the disks are the controller's simulator's.
        auto root = work->path() + "/node-" + std::to_string(i);
        auto kubelet = root + "/kubelet";
        std::filesystem::create_directories(kubelet + "/plugins/kubernetes.io/csi/staging");
        node_plugins.push_back(std::make_unique<client::plugin_process>(std::vector<std::string>{
          "--mode=node", "--node-id=node-" + std::to_string(i), "--kubelet-dir=" + kubelet,
          "--rds-sim-data-dir=" + work->path() + "/sim", "--sysfs-root=" + root + "/sysfs",
          "--migration-timeout-min=1"}));
        c.node_endpoints.push_back(node_plugins.back()->endpoint());
        c.node_kubelets.push_back(kubelet);
      }
      if (node)
        facts.plugin +=
          "; " + std::to_string(c.nodes) + " node plugins (--mode=node, loop devices)";
      control.endpoint = [&] { return plugin->endpoint(); };
      control.metrics_url = [&] { return plugin->metrics_url(); };
      control.pid = [&] { return plugin->pid(); };
      control.debug_url = [&] { return plugin->debug_url(); };
      control.kill_and_restart = [&](const std::function<void()>& after_kill) {
        auto start = std::chrono::steady_clock::now();
        ::kill(plugin->pid(), SIGKILL);
        while (plugin->alive())
          std::this_thread::sleep_for(std::chrono::milliseconds{1});
        after_kill();
        plugin.reset();
        plugin = std::make_unique<client::plugin_process>(plugin_flags);
        return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      };
    } else {
      facts.plugin = "running at " + endpoint;
      facts.rds = "whatever the running plugin uses";
      control.endpoint = [&] { return endpoint; };
      control.metrics_url = [&] { return metrics_url; };
      control.pid = [] { return pid_t{-1}; };
      control.debug_url = [&] { return debug_url; };
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot start: %s\n", e.what());
    if (sim_pid > 0)
      client::stop_process(sim_pid, std::chrono::seconds{5});
    return 1;
  }

  storm_result result;
  {
    storm s{c, control, nullptr};
    std::unique_ptr<cluster_driver> cluster;
    if (!kubeconfig.empty()) {
      cluster =
        std::make_unique<cluster_driver>(kubeconfig, plugin->endpoint(), api_workers, s.loop());
      s.use_cluster(cluster.get());
    }
    result = s.run();
  }
  if (plugin) {
    auto stop_begin = std::chrono::steady_clock::now();
    auto problem = plugin->stop();
    result.plugin_stop_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_begin).count();
    if (!problem.empty())
      result.breaches.push_back({"-", "plugin stop (SIGTERM)", problem});
  }
  for (size_t i = 0; i < node_plugins.size(); ++i)
    if (auto problem = node_plugins[i]->stop(); !problem.empty())
      result.breaches.push_back({"-", "node plugin node-" + std::to_string(i) + " stop", problem});
  if (sim_pid > 0)
    client::stop_process(sim_pid, std::chrono::seconds{5});

  print_summary(facts, result);
  std::filesystem::create_directories(plot_dir);
  auto files = write_plots(plot_dir, result);
  std::printf("data files:\n%s", files.c_str());
  if (!report_path.empty()) {
    std::ofstream out{report_path, std::ios::trunc};
    out << json_report(facts, result) << '\n';
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", report_path.c_str());
      return 1;
    }
    std::printf("report: %s\n", report_path.c_str());
  }
  return result.breaches.empty() ? 0 : 1;
}
