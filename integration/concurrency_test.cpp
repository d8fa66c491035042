// A thousand volumes published and unpublished from many client threads at once through the
// real binary; state and metrics must be exact afterwards.
#include <atomic>
#include <thread>
#include <vector>

#include "integration/clean_stop.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/client.hpp"

using namespace rds::test;

TEST_CASE("1000 volumes from 16 client threads") {
  constexpr int volumes = 1000;
  constexpr int threads = 16;
  // The volumes exist on the RDS before the plugin starts, as after a controller restart: it
  // lists them once and publishes them without asking the RDS again.
  temp_dir sim;
  std::vector<std::string> names;
  for (int i = 0; i < volumes; ++i)
    names.push_back("pvc-load-" + std::to_string(i));
  auto ids = provision_volumes(sim.path() + "/rds", names);
  REQUIRE(ids.size() == volumes);
  plugin_process plugin{{"--rds-sim-data-dir=" + sim.path() + "/rds"}};
  auto id = [&](int i) { return ids.at(names[static_cast<size_t>(i)]); };
  std::atomic<int> failures{0};
  auto run_phase = [&](auto&& per_volume) {
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        csi_client client{plugin.endpoint()};
        for (int i = t; i < volumes; i += threads)
          per_volume(client, i);
      });
    for (auto& w : workers)
      w.join();
  };
  // Phase 1: every volume attached to node-a; every even one starts a migration to node-b.
  run_phase([&](csi_client& client, int i) {
    auto mode = i % 2 == 0 ? volume_access::rwx_block : volume_access::rwo;
    if (!client.publish(id(i), "node-a", mode).ok())
      ++failures;
    if (i % 2 == 0 && !client.publish(id(i), "node-b", mode).ok())
      ++failures;
    // Odd (RWO) volumes refuse node-b.
    if (i % 2 == 1
        && client.publish(id(i), "node-b", mode).error_code()
             != grpc::StatusCode::FAILED_PRECONDITION)
      ++failures;
  });
  CHECK(failures == 0);
  auto m = initial_series();
  m["rds_csi_attachment_attach_total{status=\"success\"}"] = volumes;
  m["rds_csi_attachment_operation_duration_seconds_count{operation=\"attach\"}"] = volumes;
  m["rds_csi_attachment_operation_duration_seconds_count{operation=\"attach_secondary\"}"] =
    volumes / 2;
  m["rds_csi_attachment_conflicts_total"] = volumes / 2;
  m["rds_csi_attachment_attached_volumes"] = volumes;
  m["rds_csi_migration_started_total"] = volumes / 2;
  m["rds_csi_migration_active_migrations"] = volumes / 2;
  check_series(plugin.metrics_url(), m);

  // Phase 2: the sources detach (migrations succeed), then the targets and the RWO volumes.
  run_phase([&](csi_client& client, int i) {
    if (!client.unpublish(id(i), "node-a").ok())
      ++failures;
    if (i % 2 == 0 && !client.unpublish(id(i), "node-b").ok())
      ++failures;
  });
  CHECK(failures == 0);
  m["rds_csi_attachment_detach_total{status=\"success\"}"] = volumes;
  m["rds_csi_attachment_operation_duration_seconds_count{operation=\"detach\"}"] = volumes;
  m["rds_csi_attachment_operation_duration_seconds_count{operation=\"detach_partial\"}"] =
    volumes / 2;
  m["rds_csi_attachment_attached_volumes"] = 0;
  m["rds_csi_migration_active_migrations"] = 0;
  m["rds_csi_migration_migrations_total{result=\"success\"}"] = volumes / 2;
  m["rds_csi_migration_duration_seconds_count"] = volumes / 2;
  check_series(plugin.metrics_url(), m);
  CHECK(settled_value(plugin.metrics_url(),
                      rpc_count("/csi.v1.Controller/ControllerPublishVolume", "OK"),
                      volumes + volumes / 2)
        == volumes + volumes / 2);
  CHECK(settled_value(plugin.metrics_url(),
                      rpc_count("/csi.v1.Controller/ControllerPublishVolume", "FailedPrecondition"),
                      volumes / 2)
        == volumes / 2);
  CHECK(settled_value(plugin.metrics_url(),
                      rpc_count("/csi.v1.Controller/ControllerUnpublishVolume", "OK"),
                      volumes + volumes / 2)
        == volumes + volumes / 2);
  expect_clean_stop(plugin);
}
