// The metrics actor: every family exists from the start and moves on the right events.
#include "unit/actor_fixture.hpp"

using namespace rds;
using namespace std::chrono_literals;

TEST_CASE_FIXTURE(test::actor_fixture, "metric families start at zero") {
  for (auto series :
       {"rds_csi_attachment_attach_total{status=\"success\"}",
        "rds_csi_attachment_detach_total{status=\"success\"}", "rds_csi_attachment_conflicts_total",
        "rds_csi_attachment_operation_duration_seconds_count{operation=\"attach\"}",
        "rds_csi_migration_migrations_total{result=\"success\"}",
        "rds_csi_migration_migrations_total{result=\"failed\"}",
        "rds_csi_migration_migrations_total{result=\"timeout\"}", "rds_csi_migration_started_total",
        "rds_csi_migration_duration_seconds_count", "rds_csi_migration_active_migrations",
        "rds_csi_attachment_attached_volumes", "rds_csi_volume_actor_restarts_total"}) {
    CAPTURE(series);
    CHECK(metric(series) == 0);
  }
}

TEST_CASE_FIXTURE(test::actor_fixture, "events move their series") {
  self->send(metrics, attachment_activity{{{attachment_operation::attach, 20ms},
                                           {attachment_operation::detach_partial, 1ms}},
                                          volume_counts{7, 3}});
  self->send(metrics, migration_ended{90s});
  self->send(metrics, rpcs_recorded{{{"/csi.v1.Identity/Probe", "OK", 2ms}}});
  sched.run();
  CHECK(metric("rds_csi_attachment_attach_total{status=\"success\"}") == 1);
  CHECK(metric("rds_csi_attachment_detach_total{status=\"success\"}") == 0);
  CHECK(metric("rds_csi_attachment_operation_duration_seconds_bucket{operation=\"attach\","
               "le=\"0.025\"}")
        == 1);
  CHECK(metric("rds_csi_attachment_operation_duration_seconds_bucket{operation=\"attach\","
               "le=\"0.01\"}")
        == 0);
  CHECK(metric("rds_csi_attachment_operation_duration_seconds_count{operation=\"detach_partial\"}")
        == 1);
  CHECK(metric("rds_csi_migration_duration_seconds_bucket{le=\"90\"}") == 1);
  CHECK(metric("rds_csi_migration_duration_seconds_bucket{le=\"60\"}") == 0);
  CHECK(metric("rds_csi_attachment_attached_volumes") == 7);
  CHECK(metric("rds_csi_migration_active_migrations") == 3);
  CHECK(metric("csi_plugin_operations_seconds_count{driver_name=\"test.driver\",grpc_status_code="
               "\"OK\",method_name=\"/csi.v1.Identity/Probe\"}")
        == 1);
}
