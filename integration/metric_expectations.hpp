// Exact expectations on the plugin's rds_csi_* series: every series, not just the ones a step
// is about, so a metric that moves when it should not is caught too.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "integration/client.hpp"

namespace rds::test {

/// The driver's series, by short name, as the tests read them.
namespace series {
inline const std::string attach = "rds_csi_attachment_attach_total{status=\"success\"}";
inline const std::string detach = "rds_csi_attachment_detach_total{status=\"success\"}";
inline const std::string conflicts = "rds_csi_attachment_conflicts_total";
inline const std::string op_attach =
  "rds_csi_attachment_operation_duration_seconds_count{operation=\"attach\"}";
inline const std::string op_secondary =
  "rds_csi_attachment_operation_duration_seconds_count{operation=\"attach_secondary\"}";
inline const std::string op_detach =
  "rds_csi_attachment_operation_duration_seconds_count{operation=\"detach\"}";
inline const std::string op_partial =
  "rds_csi_attachment_operation_duration_seconds_count{operation=\"detach_partial\"}";
inline const std::string attached = "rds_csi_attachment_attached_volumes";
inline const std::string anomalies = "rds_csi_attachment_anomalies_total";
inline const std::string follow_attach = "rds_csi_attachment_reconcile_total{action=\"attach\"}";
inline const std::string follow_detach = "rds_csi_attachment_reconcile_total{action=\"detach\"}";
inline const std::string started = "rds_csi_migration_started_total";
inline const std::string success = "rds_csi_migration_migrations_total{result=\"success\"}";
inline const std::string failed = "rds_csi_migration_migrations_total{result=\"failed\"}";
inline const std::string timeout = "rds_csi_migration_migrations_total{result=\"timeout\"}";
inline const std::string durations = "rds_csi_migration_duration_seconds_count";
inline const std::string active = "rds_csi_migration_active_migrations";
inline const std::string relists =
  "rds_csi_kube_watch_relists_total{resource=\"volumeattachments\"}";
inline const std::string pv_relists =
  "rds_csi_kube_watch_relists_total{resource=\"persistentvolumes\"}";
inline const std::string waiting_for_pv = "rds_csi_kube_attachments_waiting_for_pv";
inline const std::string pv_waits = "rds_csi_kube_attachment_waits_total";
inline const std::string pv_deleted = "rds_csi_kube_pv_deleted_while_attached_total";
} // namespace series

/// Every rds_csi_* series and its value, except histogram buckets and sums, whose values depend
/// on timing. (Counts of histograms are kept: they are exact.)
inline std::map<std::string, double> driver_series(const std::string& text) {
  std::map<std::string, double> result;
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("rds_csi_", 0) != 0)
      continue;
    auto space = line.rfind(' ');
    auto series = line.substr(0, space);
    auto name = series.substr(0, series.find('{'));
    if (name.size() > 7 && (name.rfind("_bucket") == name.size() - 7))
      continue;
    if (name.size() > 4 && (name.rfind("_sum") == name.size() - 4))
      continue;
    result[series] = std::stod(line.substr(space + 1));
  }
  return result;
}

/// What a freshly started controller exposes.
inline std::map<std::string, double> initial_series() {
  return {
    {"rds_csi_attachment_attach_total{status=\"success\"}", 0},
    {"rds_csi_attachment_detach_total{status=\"success\"}", 0},
    {"rds_csi_attachment_conflicts_total", 0},
    {"rds_csi_attachment_operation_duration_seconds_count{operation=\"attach\"}", 0},
    {"rds_csi_attachment_operation_duration_seconds_count{operation=\"attach_secondary\"}", 0},
    {"rds_csi_attachment_operation_duration_seconds_count{operation=\"detach\"}", 0},
    {"rds_csi_attachment_operation_duration_seconds_count{operation=\"detach_partial\"}", 0},
    {"rds_csi_attachment_attached_volumes", 0},
    {"rds_csi_migration_migrations_total{result=\"success\"}", 0},
    {"rds_csi_migration_migrations_total{result=\"failed\"}", 0},
    {"rds_csi_migration_migrations_total{result=\"timeout\"}", 0},
    {"rds_csi_migration_started_total", 0},
    {"rds_csi_migration_duration_seconds_count", 0},
    {"rds_csi_migration_active_migrations", 0},
    {"rds_csi_volume_actor_restarts_total", 0},
    {"rds_csi_attachment_anomalies_total", 0},
    {"rds_csi_attachment_reconcile_total{action=\"attach\"}", 0},
    {"rds_csi_attachment_reconcile_total{action=\"detach\"}", 0},
    {"rds_csi_kube_watch_relists_total{resource=\"volumeattachments\"}", 0},
    {"rds_csi_kube_watch_relists_total{resource=\"persistentvolumes\"}", 0},
    {"rds_csi_kube_watch_relists_total{resource=\"nodes\"}", 0},
    {"rds_csi_kube_failures_total{resource=\"persistentvolumes\"}", 0},
    {"rds_csi_kube_attachments_waiting_for_pv", 0},
    {"rds_csi_kube_attachment_waits_total", 0},
    {"rds_csi_kube_pv_deleted_while_attached_total", 0},
    {"rds_csi_kube_failures_total{resource=\"volumeattachments\"}", 0},
    {"rds_csi_kube_failures_total{resource=\"nodes\"}", 0},
    {"rds_csi_kube_failures_total{resource=\"events\"}", 0},
    {"rds_csi_volume_operations_total{operation=\"create\",status=\"success\"}", 0},
    {"rds_csi_volume_operations_total{operation=\"delete\",status=\"success\"}", 0},
    {"rds_csi_volume_operation_duration_seconds_count{operation=\"create\"}", 0},
    {"rds_csi_volume_operation_duration_seconds_count{operation=\"delete\"}", 0},
    {"rds_csi_volume_operations_total{operation=\"expand\",status=\"success\"}", 0},
    {"rds_csi_volume_operation_duration_seconds_count{operation=\"expand\"}", 0},
    {"rds_csi_volume_operations_total{operation=\"snapshot\",status=\"success\"}", 0},
    {"rds_csi_volume_operation_duration_seconds_count{operation=\"snapshot\"}", 0},
    {"rds_csi_volume_operations_total{operation=\"delete_snapshot\",status=\"success\"}", 0},
    {"rds_csi_volume_operation_duration_seconds_count{operation=\"delete_snapshot\"}", 0},
    // The volume catalog lists the RDS's volumes once at start.
    {"rds_csi_rds_requests_total{method=\"GET\",status=\"200\"}", 1},
    {"rds_csi_rds_request_duration_seconds_count", 1},
    {"rds_csi_rds_connection_state", 1},
    {"rds_csi_events_posted_total{reason=\"VolumeAttached\"}", 0},
    {"rds_csi_events_posted_total{reason=\"VolumeDetached\"}", 0},
    {"rds_csi_events_posted_total{reason=\"AttachmentConflict\"}", 0},
    {"rds_csi_events_posted_total{reason=\"MigrationStarted\"}", 0},
    {"rds_csi_events_posted_total{reason=\"MigrationCompleted\"}", 0},
    {"rds_csi_events_posted_total{reason=\"MigrationFailed\"}", 0},
    {"rds_csi_events_posted_total{reason=\"MigrationTimedOut\"}", 0},
  };
}

/// Checks that the exposed rds_csi_* series are exactly `expected`. Actors record metrics
/// asynchronously, so a scrape right after an RPC may lag by a message: this waits (bounded) for
/// the exposition to settle on `expected` before it compares. A series that moves when it should
/// not is still caught, here or at the next check.
inline void check_series(const std::string& metrics_url,
                         const std::map<std::string, double>& expected) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  auto actual = driver_series(http_get(metrics_url));
  while (actual != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
    actual = driver_series(http_get(metrics_url));
  }
  for (auto& [series, value] : expected) {
    CAPTURE(series);
    auto i = actual.find(series);
    REQUIRE(i != actual.end());
    CHECK(i->second == value);
  }
  for (auto& [series, value] : actual) {
    CAPTURE(series);
    CHECK(expected.count(series) == 1);
  }
}

/// The value of `series` once it equals `expected`, or its value after a bounded wait.
inline double settled_value(const std::string& metrics_url, const std::string& series,
                            double expected, std::chrono::seconds limit = std::chrono::seconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  auto value = metric_value(http_get(metrics_url), series);
  while (value != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
    value = metric_value(http_get(metrics_url), series);
  }
  return value;
}

/// The rds_csi_events_posted_total series of one reason.
inline std::string posted(const std::string& reason) {
  return "rds_csi_events_posted_total{reason=\"" + reason + "\"}";
}

/// The csi_plugin_operations_seconds_count series of one method and code.
inline std::string rpc_count(const std::string& method, const std::string& code,
                             const std::string& driver = "rds.csi.srvlab.io") {
  return "csi_plugin_operations_seconds_count{driver_name=\"" + driver + "\",grpc_status_code=\""
         + code + "\",method_name=\"" + method + "\"}";
}

} // namespace rds::test
