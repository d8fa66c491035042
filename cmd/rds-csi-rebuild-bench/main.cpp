// rds-csi-rebuild-bench: fills a real kube-apiserver (started on loopback) with VolumeAttachments
// and measures how long the plugin takes from start to ready, i.e. to list them, read their
// PersistentVolumes and rebuild every volume actor. Prints figures; asserts nothing.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/csi_client.hpp"
#include "client/kube_cluster.hpp"
#include "client/plugin_process.hpp"

using namespace rds::client;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// Starts the plugin and returns the seconds until Probe says ready.
double time_to_ready(kube_cluster& k, int volumes, std::string& metrics_text) {
  auto begin = clock_type::now();
  plugin_process plugin{{"--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  client.wait_until_ready(std::chrono::seconds{600});
  auto elapsed = seconds_since(begin);
  // The gauges follow by message: wait (bounded) until they show every volume.
  auto deadline = clock_type::now() + std::chrono::seconds{10};
  do
    metrics_text = http_get(plugin.metrics_url());
  while (metric_value(metrics_text, "rds_csi_attachment_attached_volumes") < volumes
         && clock_type::now() < deadline);
  plugin.terminate();
  return elapsed;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fills a kube-apiserver started on loopback (etcd and $RDS_CSI_KUBE_APISERVER) "
               "with VolumeAttachments and times the plugin from start to ready, three times. "
               "Prints figures; asserts nothing."};
  int attachments = 10000;
  app
    .add_option("attachments", attachments,
                "VolumeAttachments to create (one volume in five "
                "has two: a migration in progress)")
    ->check(CLI::Range(2, 1000000))
    ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; a bad flag or value exits 2, as the plugin's flags do.
    return app.exit(e) == 0 ? 0 : 2;
  }
  // One volume in five is migrating (two VolumeAttachments), the rest have one.
  int migrating = attachments / 6;
  int volumes = attachments - migrating;
  auto& k = kube_cluster::instance();
  k.clear();
  std::printf("rds-csi-rebuild-bench: %d VolumeAttachments on %d volumes (%d migrating)\n",
              attachments, volumes, migrating);
  k.create_nodes({"node-0", "node-1", "node-2", "node-3"});
  rds::services::kube::kube_config cfg;
  if (!rds::services::kube::load_kubeconfig(k.kubeconfig("admin-token"), cfg).ok())
    return 1;
  auto begin = clock_type::now();
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t)
    workers.emplace_back([&] {
      rds::services::kube::kube_client client{cfg}; // one client per thread
      for (int i = next++; i < volumes; i = next++) {
        auto pv = "pv-" + std::to_string(i);
        k.create_volume(pv, "vol-" + std::to_string(i), "ReadWriteMany", "Block", "3600", "{}",
                        &client);
        k.attach(pv, "node-" + std::to_string(i % 4), true, &client);
        if (i < migrating)
          k.attach(pv, "node-" + std::to_string((i + 1) % 4), true, &client);
      }
    });
  for (auto& w : workers)
    w.join();
  std::printf("created in %.1f s\n", seconds_since(begin));
  std::string text;
  for (int run = 1; run <= 3; ++run) {
    auto seconds = time_to_ready(k, volumes, text);
    std::printf("run %d: start to ready (list + rebuild) %.2f s; attached volumes %.0f, active "
                "migrations %.0f\n",
                run, seconds, metric_value(text, "rds_csi_attachment_attached_volumes"),
                metric_value(text, "rds_csi_migration_active_migrations"));
  }
  return 0;
}
