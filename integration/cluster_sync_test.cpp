// Staying in sync with a real kube-apiserver: watch events are followed, nodes must exist, a
// pending VolumeAttachment does not undo a publish, and an API server restart with an etcd
// compaction in between loses nothing.
#include <signal.h>

#include <thread>

#include "integration/clean_stop.hpp"
#include "client/kube_cluster.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/client.hpp"

using namespace rds::test;
using namespace rds::test::series;
using namespace std::chrono_literals;

namespace {

/// Retries a publish until it succeeds (a watch event may still be on its way).
grpc::Status publish_eventually(csi_client& client, const std::string& volume,
                                const std::string& node, volume_access mode) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  auto status = client.publish(volume, node, mode);
  while (!status.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    status = client.publish(volume, node, mode);
  }
  return status;
}

} // namespace

TEST_CASE("watch events are followed, and nodes must exist") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-w"});
  REQUIRE(vol.size() == 1);
  k.create_nodes({"node-a", "node-b"});
  k.create_volume("pv-w", vol.at("vol-w"), "ReadWriteMany", "Block", "600");
  plugin_process plugin{
    {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  auto m = initial_series();
  check_series(plugin.metrics_url(), m);

  auto missing = client.publish(vol.at("vol-w"), "node-x", volume_access::rwx_block);
  CHECK(missing.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(missing.error_message().find("node-x") != std::string::npos);
  k.create_nodes({"node-x"});
  CHECK(publish_eventually(client, vol.at("vol-w"), "node-x", volume_access::rwx_block).ok());
  CHECK(client.unpublish(vol.at("vol-w"), "node-x").ok());
  m["rds_csi_attachment_attach_total{status=\"success\"}"] = 1;
  m["rds_csi_attachment_detach_total{status=\"success\"}"] = 1;
  m["rds_csi_attachment_operation_duration_seconds_count{operation=\"attach\"}"] = 1;
  m["rds_csi_attachment_operation_duration_seconds_count{operation=\"detach\"}"] = 1;
  m[posted("VolumeAttached")] = 1, m[posted("VolumeDetached")] = 1;
  check_series(plugin.metrics_url(), m);

  // Attachments made without this plugin (another leader, a missed call) are followed.
  k.attach("pv-w", "node-a");
  m[follow_attach] = 1, m[attached] = 1, m[posted("VolumeAttached")] = 2;
  check_series(plugin.metrics_url(), m);
  k.attach("pv-w", "node-b");
  m[follow_attach] = 2, m[started] = 1, m[active] = 1, m[posted("MigrationStarted")] = 1;
  check_series(plugin.metrics_url(), m);
  // The CSI calls that follow agree with what was followed: nothing changes.
  CHECK(client.publish(vol.at("vol-w"), "node-b", volume_access::rwx_block).ok());
  check_series(plugin.metrics_url(), m);
  k.detach("pv-w", "node-a");
  m[follow_detach] = 1, m[success] = 1, m[active] = 0, m[durations] = 1;
  m[posted("MigrationCompleted")] = 1;
  check_series(plugin.metrics_url(), m);
  k.detach("pv-w", "node-b");
  m[follow_detach] = 2, m[attached] = 0, m[posted("VolumeDetached")] = 2;
  check_series(plugin.metrics_url(), m);
  expect_clean_stop(plugin);
}

TEST_CASE("a pending VolumeAttachment does not undo a publish in flight") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-p"});
  REQUIRE(vol.size() == 1);
  k.create_nodes({"node-a"});
  k.create_volume("pv-p", vol.at("vol-p"), "ReadWriteOnce", "Filesystem");
  plugin_process plugin{
    {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  // The attach/detach controller creates the VolumeAttachment, then the attacher publishes.
  k.attach("pv-p", "node-a", false);
  REQUIRE(client.publish(vol.at("vol-p"), "node-a", volume_access::rwo).ok());
  CHECK(settled_value(plugin.metrics_url(), attached, 1) == 1);
  // A relist that shows the VolumeAttachment still pending keeps the node.
  k.restart_apiserver();
  std::this_thread::sleep_for(2s);
  auto text = http_get(plugin.metrics_url());
  CHECK(metric_value(text, attached) == 1);
  CHECK(metric_value(text, follow_detach) == 0);
  expect_clean_stop(plugin);
}

TEST_CASE("an API server restart and an etcd compaction during a watch lose nothing") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-c"});
  REQUIRE(vol.size() == 1);
  k.create_nodes({"node-a", "node-b"});
  k.create_volume("pv-c", vol.at("vol-c"), "ReadWriteMany", "Block", "600");
  k.attach("pv-c", "node-a");
  plugin_process plugin{
    {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  CHECK(settled_value(plugin.metrics_url(), attached, 1) == 1);

  // While the plugin cannot run, the volume moves from node-a to node-b, etcd forgets that
  // history and the API server restarts (its watch cache starts anew).
  ::kill(plugin.pid(), SIGSTOP);
  k.attach("pv-c", "node-b");
  k.detach("pv-c", "node-a");
  k.compact_etcd();
  k.restart_apiserver();
  ::kill(plugin.pid(), SIGCONT);

  // The watch cannot resume from its old resourceVersion: the plugin lists again and follows.
  CHECK(settled_value(plugin.metrics_url(), follow_detach, 1, 30s) == 1);
  CHECK(settled_value(plugin.metrics_url(), follow_attach, 1) == 1);
  CHECK(metric_value(http_get(plugin.metrics_url()), relists) >= 1);
  CHECK(metric_value(http_get(plugin.metrics_url()), attached) == 1);
  // node-a is gone from the volume: attaching it again (the real way: VolumeAttachment first)
  // is a new migration.
  k.attach("pv-c", "node-a", false);
  CHECK(client.publish(vol.at("vol-c"), "node-a", volume_access::rwx_block).ok());
  CHECK(settled_value(plugin.metrics_url(), active, 1) == 1);
  // And the watch goes on after the relist.
  k.detach("pv-c", "node-b");
  CHECK(settled_value(plugin.metrics_url(), follow_detach, 2, 15s) == 2);
  expect_clean_stop(plugin);
}

TEST_CASE("Events on the PVC name the nodes and durations") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-e"});
  REQUIRE(vol.size() == 1);
  k.create_nodes({"node-a", "node-b", "node-c"});
  k.create_volume("pv-e", vol.at("vol-e"), "ReadWriteMany", "Block", "600");
  plugin_process plugin{
    {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  REQUIRE(client.publish(vol.at("vol-e"), "node-a", volume_access::rwx_block).ok());
  REQUIRE(client.publish(vol.at("vol-e"), "node-b", volume_access::rwx_block).ok());
  CHECK(client.publish(vol.at("vol-e"), "node-c", volume_access::rwx_block).error_code()
        == grpc::StatusCode::FAILED_PRECONDITION);
  REQUIRE(client.unpublish(vol.at("vol-e"), "node-a").ok());
  REQUIRE(client.unpublish(vol.at("vol-e"), "node-b").ok());
  for (auto reason : {"VolumeAttached", "MigrationStarted", "AttachmentConflict",
                      "MigrationCompleted", "VolumeDetached"}) {
    CAPTURE(reason);
    CHECK(settled_value(plugin.metrics_url(), posted(reason), 1) == 1);
  }
  auto r = k.admin().get("/api/v1/namespaces/default/events", 10s);
  REQUIRE(r.status.ok());
  CHECK(r.body.find("\"name\":\"pv-e-claim\"") != std::string::npos);
  CHECK(r.body.find("live migration started: source node-a, target node-b") != std::string::npos);
  // (The API server escapes '>' in JSON, so the arrow is left out of the search.)
  CHECK(r.body.find("live migration completed: source node-a -") != std::string::npos);
  CHECK(r.body.find(" target node-b after ") != std::string::npos);
  CHECK(r.body.find("node-c would be a third node") != std::string::npos);
  CHECK(r.body.find("\"reportingComponent\":\"rds-csi-controller\"") != std::string::npos);
  expect_clean_stop(plugin);
}

TEST_CASE("etcd down: the plugin is not ready, says why, and recovers when etcd is back") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-s"});
  REQUIRE(vol.size() == 1);
  k.create_nodes({"node-a"});
  k.create_volume("pv-s", vol.at("vol-s"), "ReadWriteOnce", "Filesystem");
  k.stop_etcd();
  plugin_process plugin{{"--rds-sim-data-dir=" + sim.path(),
                         "--kubeconfig=" + k.kubeconfig("admin-token"), "--kube-timeout=3"}};
  csi_client client{plugin.endpoint()};
  // The rebuild cannot list: counted, and Probe says not ready.
  CHECK(settled_value(plugin.metrics_url(),
                      "rds_csi_kube_failures_total{resource=\"volumeattachments\"}", 1, 30s)
        >= 1);
  bool ready = true;
  REQUIRE(client.probe(ready).ok());
  CHECK_FALSE(ready);
  // A CSI call waits for the rebuild, bounded by its deadline.
  ::csi::v1::ControllerPublishVolumeRequest req;
  req.set_volume_id(vol.at("vol-s"));
  req.set_node_id("node-a");
  *req.mutable_volume_capability() = csi_client::capability(volume_access::rwo);
  ::csi::v1::ControllerPublishVolumeResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 1s);
  CHECK(client.controller().ControllerPublishVolume(&ctx, req, &resp).error_code()
        == grpc::StatusCode::DEADLINE_EXCEEDED);
  k.start_etcd();
  CHECK(client.wait_until_ready());
  CHECK(client.publish(vol.at("vol-s"), "node-a", volume_access::rwo).ok());
  expect_clean_stop(plugin);
}
