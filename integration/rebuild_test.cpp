// Kubernetes is the source of truth: the plugin rebuilds its attachment state from the
// VolumeAttachments of a real kube-apiserver + etcd at start-up, migrations and their timers
// included, and ignores annotations.
#include <thread>

#include "integration/clean_stop.hpp"
#include "client/kube_cluster.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/client.hpp"

using namespace rds::test;
using namespace rds::test::series;
using namespace std::chrono_literals;

TEST_CASE("rebuild from VolumeAttachments: 0, 1, 2 and 3 per volume; annotations ignored") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-none", "vol-one", "vol-two", "vol-three"});
  REQUIRE(vol.size() == 4);
  k.create_nodes({"node-a", "node-b", "node-c", "node-d", "node-z"});
  k.create_volume("pv-none", vol.at("vol-none"), "ReadWriteOnce", "Filesystem", "",
                  R"({"rds.csi.srvlab.io/attached-node":"node-x"})");
  k.create_volume("pv-one", vol.at("vol-one"), "ReadWriteMany", "Block", "600");
  k.attach("pv-one", "node-a");
  k.create_volume("pv-two", vol.at("vol-two"), "ReadWriteMany", "Block", "600");
  k.attach("pv-two", "node-a");
  k.attach("pv-two", "node-b");
  k.create_volume("pv-three", vol.at("vol-three"), "ReadWriteMany", "Block", "600");
  k.attach("pv-three", "node-a");
  k.attach("pv-three", "node-b");
  k.attach("pv-three", "node-c");

  // Pages of two items: the lists of VolumeAttachments and PVs take several pages each.
  plugin_process plugin{{"--rds-sim-data-dir=" + sim.path(),
                         "--kubeconfig=" + k.kubeconfig("admin-token"), "--kube-page-size=2"}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  auto m = initial_series();
  m[attached] = 3, m[active] = 1, m[anomalies] = 1;
  check_series(plugin.metrics_url(), m);

  // The stale annotation names node-x: it is not read, so another node may attach.
  CHECK(client.publish(vol.at("vol-none"), "node-z", volume_access::rwo).ok());
  // The rebuilt capability matches what the attacher sends again: idempotent.
  CHECK(client.publish(vol.at("vol-one"), "node-a", volume_access::rwx_block).ok());
  CHECK(client.publish(vol.at("vol-two"), "node-b", volume_access::rwx_block).ok());
  // The rebuilt migration refuses a third node, naming both.
  auto third = client.publish(vol.at("vol-two"), "node-c", volume_access::rwx_block);
  CHECK(third.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(third.error_message().find("node-a") != std::string::npos);
  CHECK(third.error_message().find("node-b") != std::string::npos);
  // More than two: kept as the truth, further publishes refused.
  CHECK(client.publish(vol.at("vol-three"), "node-d", volume_access::rwx_block).error_code()
        == grpc::StatusCode::FAILED_PRECONDITION);
  // The rebuilt migration ends like any other: the source detaches.
  CHECK(client.unpublish(vol.at("vol-two"), "node-a").ok());
  m[attached] = 4, m[active] = 0, m[success] = 1;
  m["rds_csi_attachment_attach_total{status=\"success\"}"] = 1;
  m["rds_csi_attachment_operation_duration_seconds_count{operation=\"attach\"}"] = 1;
  m["rds_csi_attachment_operation_duration_seconds_count{operation=\"detach_partial\"}"] = 1;
  m["rds_csi_attachment_conflicts_total"] = 2;
  m["rds_csi_migration_duration_seconds_count"] = 1;
  m[posted("VolumeAttached")] = 1, m[posted("AttachmentConflict")] = 2;
  m[posted("MigrationCompleted")] = 1;
  check_series(plugin.metrics_url(), m);
  expect_clean_stop(plugin);
}

TEST_CASE("a restart in the middle of a migration keeps state, timer and gauge") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-mig"});
  REQUIRE(vol.size() == 1);
  k.create_nodes({"node-a", "node-b"});
  k.create_volume("pv-mig", vol.at("vol-mig"), "ReadWriteMany", "Block", "600");
  k.attach("pv-mig", "node-a");
  k.attach("pv-mig", "node-b");
  {
    plugin_process first{
      {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("admin-token")}};
    csi_client client{first.endpoint()};
    REQUIRE(client.wait_until_ready());
    CHECK(settled_value(first.metrics_url(), active, 1) == 1);
    expect_clean_stop(first);
  }
  std::this_thread::sleep_for(2s);
  plugin_process second{
    {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{second.endpoint()};
  REQUIRE(client.wait_until_ready());
  CHECK(settled_value(second.metrics_url(), active, 1) == 1);
  CHECK(settled_value(second.metrics_url(), timeout, 0) == 0);
  REQUIRE(client.unpublish(vol.at("vol-mig"), "node-a").ok());
  CHECK(settled_value(second.metrics_url(), success, 1) == 1);
  CHECK(settled_value(second.metrics_url(), active, 0) == 0);
  // The duration runs from the target's VolumeAttachment, across the restart (>= the 2 s slept).
  CHECK(metric_value(http_get(second.metrics_url()), "rds_csi_migration_duration_seconds_sum")
        >= 2.0);
  expect_clean_stop(second);
}

TEST_CASE("rebuilt migration timers: the time left is kept, a passed one records timeout once") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-late", "vol-soon"});
  REQUIRE(vol.size() == 2);
  k.create_nodes({"node-a", "node-b"});
  k.create_volume("pv-late", vol.at("vol-late"), "ReadWriteMany", "Block", "1");
  k.attach("pv-late", "node-a");
  k.attach("pv-late", "node-b");
  k.create_volume("pv-soon", vol.at("vol-soon"), "ReadWriteMany", "Block", "8");
  k.attach("pv-soon", "node-a");
  k.attach("pv-soon", "node-b");
  std::this_thread::sleep_for(2s);
  plugin_process plugin{{"--rds-sim-data-dir=" + sim.path(),
                         "--kubeconfig=" + k.kubeconfig("admin-token"),
                         "--migration-timeout-min=1"}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  // vol-late's timeout passed while no plugin ran: recorded at once, and once.
  CHECK(settled_value(plugin.metrics_url(), timeout, 1) == 1);
  CHECK(metric_value(http_get(plugin.metrics_url()), active) == 2);
  // vol-soon's timer was re-armed with what was left of its 8 s.
  CHECK(settled_value(plugin.metrics_url(), timeout, 2, 15s) == 2);
  // Nothing was detached by the timers.
  CHECK(metric_value(http_get(plugin.metrics_url()), active) == 2);
  CHECK(metric_value(http_get(plugin.metrics_url()), attached) == 2);
  expect_clean_stop(plugin);
}
