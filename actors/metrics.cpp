// Metric families (names follow the Go driver so existing dashboards keep working, plus the CSI
// sidecars' csi_plugin_operations_seconds) and the handlers that move them.
#include "actors/metrics.hpp"
#include "services/http/listener_wake.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <unordered_map>

#include "services/log/log.hpp"

namespace rds::actors {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

struct metric_families {
  explicit metric_families(prometheus::Registry& r);
  /// Creates the fixed series of the roles that run, at 0.
  void start_series(bool controller, bool node);

  Family<Counter>& attach_total;
  Family<Counter>& detach_total;
  Family<Counter>& conflicts_total;
  Family<Histogram>& attachment_duration;
  Family<Counter>& migrations_total;
  Family<Counter>& migrations_started_total;
  Family<Histogram>& migration_duration;
  Family<Gauge>& active_migrations;
  Family<Gauge>& attached_volumes;
  Family<Counter>& volume_restarts_total;
  Family<Counter>& anomalies_total;
  Family<Counter>& reconcile_total;
  Family<Counter>& watch_relists_total;
  Family<Counter>& kube_failures_total;
  Family<Gauge>& attachments_waiting;
  Family<Counter>& attachment_waits_total;
  Family<Counter>& volumes_deleted_while_attached_total;
  Family<Counter>& events_posted_total;
  Family<Counter>& volume_operations_total;
  Family<Histogram>& volume_operation_duration;
  Family<Counter>& rds_requests_total;
  Family<Histogram>& rds_request_duration;
  Family<Gauge>& rds_connection_state;
  Family<Histogram>& csi_operations;
  Family<Counter>& nvme_connects_total;
  Family<Histogram>& nvme_connect_duration;
  Family<Gauge>& nvme_connections_active;
  Family<Counter>& mount_operations_total;
  Family<Counter>& stale_mounts_detected_total;
  Family<Counter>& stale_recoveries_total;
  Family<Counter>& debug_requests_total;
};

namespace {

const Histogram::BucketBoundaries attachment_buckets{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
const Histogram::BucketBoundaries migration_buckets{15,  30,  60,   90,   120, 180,
                                                    300, 600, 1200, 1800, 3600};
// The buckets of kubernetes-csi/csi-lib-utils, so sidecar dashboards read the same histogram.
const Histogram::BucketBoundaries csi_buckets{0.1, 0.25, 0.5, 1,   2.5, 5,  10,
                                              15,  25,   50,  120, 300, 600};

const Histogram::BucketBoundaries volume_buckets{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
const Histogram::BucketBoundaries request_buckets{0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,  1,     2.5,  5};

/// csi_plugin_operations_seconds series by method, then gRPC code.
using csi_series_cache =
  std::unordered_map<std::string, std::unordered_map<std::string, Histogram*>>;

/// See its use in the behaviour.
struct attachment_series {
  explicit attachment_series(metric_families& f)
    : attached(&f.attach_total.Add({{"status", "success"}}))
    , detached(&f.detach_total.Add({{"status", "success"}}))
    , attached_volumes(&f.attached_volumes.Add({}))
    , active_migrations(&f.active_migrations.Add({})) {
    for (auto op : {attachment_operation::attach, attachment_operation::attach_secondary,
                    attachment_operation::detach, attachment_operation::detach_partial})
      duration.at(static_cast<size_t>(op)) =
        &f.attachment_duration.Add({{"operation", to_string(op)}}, attachment_buckets);
  }
  Counter* attached;
  Counter* detached;
  /// By attachment_operation.
  std::array<Histogram*, static_cast<size_t>(attachment_operation::detach_partial) + 1> duration{};
  Gauge* attached_volumes;
  Gauge* active_migrations;
};

double seconds_of(caf::timespan t) {
  return std::chrono::duration<double>(t).count();
}

void record_attachment(attachment_series& series, const attachment_recorded& e) {
  if (e.operation == attachment_operation::attach)
    series.attached->Increment();
  else if (e.operation == attachment_operation::detach)
    series.detached->Increment();
  series.duration.at(static_cast<size_t>(e.operation))->Observe(seconds_of(e.duration));
}

void record_counts(attachment_series& series, const volume_counts& c) {
  series.attached_volumes->Set(static_cast<double>(c.attached));
  series.active_migrations->Set(static_cast<double>(c.migrating));
}

} // namespace

metric_families::metric_families(prometheus::Registry& r)
  : attach_total(prometheus::BuildCounter()
                   .Name("rds_csi_attachment_attach_total")
                   .Help("Volumes attached to their first node")
                   .Register(r))
  , detach_total(prometheus::BuildCounter()
                   .Name("rds_csi_attachment_detach_total")
                   .Help("Volumes detached from their last node")
                   .Register(r))
  , conflicts_total(prometheus::BuildCounter()
                      .Name("rds_csi_attachment_conflicts_total")
                      .Help("Publishes refused because the volume is attached elsewhere")
                      .Register(r))
  , attachment_duration(prometheus::BuildHistogram()
                          .Name("rds_csi_attachment_operation_duration_seconds")
                          .Help("Time a volume actor took for an attachment change")
                          .Register(r))
  , migrations_total(prometheus::BuildCounter()
                       .Name("rds_csi_migration_migrations_total")
                       .Help("Live migrations by result; each migration has exactly one")
                       .Register(r))
  , migrations_started_total(prometheus::BuildCounter()
                               .Name("rds_csi_migration_started_total")
                               .Help("Live migrations started (second node attached)")
                               .Register(r))
  , migration_duration(prometheus::BuildHistogram()
                         .Name("rds_csi_migration_duration_seconds")
                         .Help("Time volumes stayed attached to two nodes")
                         .Register(r))
  , active_migrations(prometheus::BuildGauge()
                        .Name("rds_csi_migration_active_migrations")
                        .Help("Volumes attached to two nodes now")
                        .Register(r))
  , attached_volumes(prometheus::BuildGauge()
                       .Name("rds_csi_attachment_attached_volumes")
                       .Help("Volumes attached to at least one node now")
                       .Register(r))
  , volume_restarts_total(prometheus::BuildCounter()
                            .Name("rds_csi_volume_actor_restarts_total")
                            .Help("Volume actors restarted from their last state after a crash")
                            .Register(r))
  , anomalies_total(prometheus::BuildCounter()
                      .Name("rds_csi_attachment_anomalies_total")
                      .Help("Volumes found attached to more than two nodes")
                      .Register(r))
  , reconcile_total(prometheus::BuildCounter()
                      .Name("rds_csi_attachment_reconcile_total")
                      .Help("Attachment changes made to follow Kubernetes, not a CSI call")
                      .Register(r))
  , watch_relists_total(prometheus::BuildCounter()
                          .Name("rds_csi_kube_watch_relists_total")
                          .Help("Watches that listed again after 410 Gone or a broken stream")
                          .Register(r))
  , kube_failures_total(prometheus::BuildCounter()
                          .Name("rds_csi_kube_failures_total")
                          .Help("Kubernetes lists and watches that failed (retried with backoff)")
                          .Register(r))
  , attachments_waiting(prometheus::BuildGauge()
                          .Name("rds_csi_kube_attachments_waiting_for_pv")
                          .Help("VolumeAttachments of this driver whose PersistentVolume has not "
                                "been seen (yet): not applied until it arrives")
                          .Register(r))
  , attachment_waits_total(prometheus::BuildCounter()
                             .Name("rds_csi_kube_attachment_waits_total")
                             .Help("VolumeAttachments seen before their PersistentVolume")
                             .Register(r))
  , volumes_deleted_while_attached_total(
      prometheus::BuildCounter()
        .Name("rds_csi_kube_pv_deleted_while_attached_total")
        .Help("PersistentVolumes deleted while VolumeAttachments still named them")
        .Register(r))
  , events_posted_total(prometheus::BuildCounter()
                          .Name("rds_csi_events_posted_total")
                          .Help("Kubernetes Events posted on PVCs, by reason")
                          .Register(r))
  , volume_operations_total(prometheus::BuildCounter()
                              .Name("rds_csi_volume_operations_total")
                              .Help("Volume operations on the RDS, by operation and status")
                              .Register(r))
  , volume_operation_duration(prometheus::BuildHistogram()
                                .Name("rds_csi_volume_operation_duration_seconds")
                                .Help("Time of volume operations on the RDS")
                                .Register(r))
  , rds_requests_total(prometheus::BuildCounter()
                         .Name("rds_csi_rds_requests_total")
                         .Help("HTTP requests to the RDS REST API, by method and status")
                         .Register(r))
  , rds_request_duration(prometheus::BuildHistogram()
                           .Name("rds_csi_rds_request_duration_seconds")
                           .Help("Time of HTTP requests to the RDS REST API")
                           .Register(r))
  , rds_connection_state(prometheus::BuildGauge()
                           .Name("rds_csi_rds_connection_state")
                           .Help("RDS REST connection: 1 reachable, 0.5 trying again, 0 paused "
                                 "by the circuit breaker")
                           .Register(r))
  , csi_operations(prometheus::BuildHistogram()
                     .Name("csi_plugin_operations_seconds")
                     .Help("Duration of CSI operations, by method and gRPC status code")
                     .Register(r))
  , nvme_connects_total(prometheus::BuildCounter()
                          .Name("rds_csi_nvme_connects_total")
                          .Help("NVMe/TCP connects on this node, by status (reused: already "
                                "connected)")
                          .Register(r))
  , nvme_connect_duration(prometheus::BuildHistogram()
                            .Name("rds_csi_nvme_connect_duration_seconds")
                            .Help("Time of NVMe/TCP connects on this node")
                            .Register(r))
  , nvme_connections_active(prometheus::BuildGauge()
                              .Name("rds_csi_nvme_connections_active")
                              .Help("NVMe/TCP controllers of this driver's subsystems on this "
                                    "node, read from sysfs")
                              .Register(r))
  , mount_operations_total(prometheus::BuildCounter()
                             .Name("rds_csi_mount_operations_total")
                             .Help("Format, mount, bind, mknod, unmount and grow operations on "
                                   "this node, by status")
                             .Register(r))
  , stale_mounts_detected_total(prometheus::BuildCounter()
                                  .Name("rds_csi_stale_mounts_detected_total")
                                  .Help("Mounts found showing a device the volume no longer "
                                        "has (controller renumbered)")
                                  .Register(r))
  , stale_recoveries_total(prometheus::BuildCounter()
                             .Name("rds_csi_stale_recoveries_total")
                             .Help("Recoveries of stale mounts, by status")
                             .Register(r))
  , debug_requests_total(prometheus::BuildCounter()
                           .Name("rds_csi_debug_requests_total")
                           .Help("Requests to the inspection port, by path template and HTTP "
                                 "status code")
                           .Register(r)) {}

void metric_families::start_series(bool controller, bool node) {
  if (node) {
    nvme_connects_total.Add({{"status", "success"}});
    nvme_connect_duration.Add({}, volume_buckets);
    nvme_connections_active.Add({});
    for (auto operation : {"format", "mount", "bind", "mknod", "unmount", "grow"})
      mount_operations_total.Add({{"operation", operation}, {"status", "success"}});
    stale_mounts_detected_total.Add({});
    for (auto status : {"success", "failure"})
      stale_recoveries_total.Add({{"status", status}});
    for (auto operation : {"stage", "unstage", "publish", "unpublish"}) {
      volume_operations_total.Add({{"operation", operation}, {"status", "success"}});
      volume_operation_duration.Add({{"operation", operation}}, volume_buckets);
    }
  }
  if (!controller)
    return;
  // Every fixed series exists from the start, so a dashboard sees 0 rather than nothing.
  attach_total.Add({{"status", "success"}});
  detach_total.Add({{"status", "success"}});
  conflicts_total.Add({});
  for (auto op : {attachment_operation::attach, attachment_operation::attach_secondary,
                  attachment_operation::detach, attachment_operation::detach_partial})
    attachment_duration.Add({{"operation", to_string(op)}}, attachment_buckets);
  for (auto result :
       {migration_result::success, migration_result::failed, migration_result::timeout})
    migrations_total.Add({{"result", to_string(result)}});
  migrations_started_total.Add({});
  migration_duration.Add({}, migration_buckets);
  active_migrations.Add({});
  attached_volumes.Add({});
  volume_restarts_total.Add({});
  anomalies_total.Add({});
  for (auto action : {"attach", "detach"})
    reconcile_total.Add({{"action", action}});
  for (auto resource : {"volumeattachments", "persistentvolumes", "nodes"})
    watch_relists_total.Add({{"resource", resource}});
  attachments_waiting.Add({});
  attachment_waits_total.Add({});
  volumes_deleted_while_attached_total.Add({});
  for (auto operation : {"create", "delete", "expand", "snapshot", "delete_snapshot"}) {
    volume_operations_total.Add({{"operation", operation}, {"status", "success"}});
    volume_operation_duration.Add({{"operation", operation}}, volume_buckets);
  }
  rds_request_duration.Add({}, request_buckets);
  rds_connection_state.Add({}).Set(1);
  for (auto resource : {"volumeattachments", "persistentvolumes", "nodes", "events"})
    kube_failures_total.Add({{"resource", resource}});
  for (auto reason : {"VolumeAttached", "VolumeDetached", "AttachmentConflict", "MigrationStarted",
                      "MigrationCompleted", "MigrationFailed", "MigrationTimedOut"})
    events_posted_total.Add({{"reason", reason}});
}

metrics_state::metrics_state()
  : registry(std::make_shared<prometheus::Registry>()) {
  families = std::make_unique<metric_families>(*registry);
}

metrics_state::~metrics_state() {
  // prometheus-cpp's Exposer stops civetweb, which waits up to 2 s for its listening thread
  // unless a connection wakes it.
  if (exposer) {
    services::http::listener_wake wake{{services::http::endpoint_of(status.listen_address)}};
    exposer.reset();
  }
}

metrics_actor::behavior_type metrics(metrics_actor::stateful_pointer<metrics_state> self,
                                     metrics_config config) {
  auto& st = self->state;
  st.families->start_series(config.controller, config.node);
  if (!config.listen_address.empty()) {
    try {
      st.exposer = std::make_unique<prometheus::Exposer>(config.listen_address, 2);
      st.exposer->RegisterCollectable(st.registry);
      auto ports = st.exposer->GetListeningPorts();
      auto host = config.listen_address.substr(0, config.listen_address.rfind(':'));
      st.status.listen_address =
        host + ":" + (ports.empty() ? std::string{"?"} : std::to_string(ports.front()));
      log::info("metrics served at http://", st.status.listen_address, "/metrics");
    } catch (const std::exception& e) {
      st.status.error = "cannot serve metrics on " + config.listen_address + ": " + e.what();
      log::error(st.status.error);
    }
  }
  auto& f = *st.families;
  auto driver = config.driver_name;
  // The series every attach and detach touches, found once (the CSI calls' series have their
  // own cache below): Family::Add builds and hashes a label map under the family's lock on
  // every call otherwise. Made at the first attachment message, so a node-only plugin has none.
  auto found = std::make_shared<std::optional<attachment_series>>();
  auto hot = [&f, found]() -> attachment_series& {
    if (!*found)
      found->emplace(f);
    return **found;
  };
  auto record_rpc = [&f, driver,
                     series = std::make_shared<csi_series_cache>()](const rpc_recorded& e) {
    // Found once per (method, code): Family::Add builds and hashes a label map under the
    // family's lock, on every RPC otherwise.
    auto& histogram = (*series)[e.method][e.code];
    if (histogram == nullptr)
      histogram = &f.csi_operations.Add(
        {{"driver_name", driver}, {"method_name", e.method}, {"grpc_status_code", e.code}},
        csi_buckets);
    histogram->Observe(seconds_of(e.duration));
  };
  return {
    // The messages of every publish and unpublish come first: CAF 0.17 tries the handlers in
    // order.
    [record_rpc](const rpcs_recorded& batch) {
      for (auto& e : batch.rpcs)
        record_rpc(e);
    },
    [hot](const attachment_activity& a) {
      auto& series = hot();
      for (auto& e : a.recorded)
        record_attachment(series, e);
      record_counts(series, a.counts);
    },
    [&f](conflict_atom) { f.conflicts_total.Add({}).Increment(); },
    [&f](migration_started_atom) { f.migrations_started_total.Add({}).Increment(); },
    [&f](const migration_result_recorded& e) {
      f.migrations_total.Add({{"result", to_string(e.result)}}).Increment();
    },
    [&f](const migration_ended& e) {
      f.migration_duration.Add({}, migration_buckets).Observe(seconds_of(e.duration));
    },
    [&f](volume_restarted_atom) { f.volume_restarts_total.Add({}).Increment(); },
    [&f](anomaly_atom) { f.anomalies_total.Add({}).Increment(); },
    [&f](const reconciled& e) {
      f.reconcile_total.Add({{"action", e.action}}).Increment();
    },
    [&f](const event_posted& e) {
      if (e.ok)
        f.events_posted_total.Add({{"reason", e.reason}}).Increment();
      else
        f.kube_failures_total.Add({{"resource", "events"}}).Increment();
    },
    [&f](const volume_operation_recorded& e) {
      f.volume_operations_total.Add({{"operation", e.operation}, {"status", e.status}}).Increment();
      f.volume_operation_duration.Add({{"operation", e.operation}}, volume_buckets)
        .Observe(e.seconds);
    },
    [&f](const rds_request_recorded& e) {
      f.rds_requests_total.Add({{"method", e.method}, {"status", e.status}}).Increment();
      f.rds_request_duration.Add({}, request_buckets).Observe(e.seconds);
    },
    [&f](const rds_connection_changed& e) { f.rds_connection_state.Add({}).Set(e.state); },
    [&f](const nvme_connect_recorded& e) {
      f.nvme_connects_total.Add({{"status", e.status}}).Increment();
      f.nvme_connect_duration.Add({}, volume_buckets).Observe(e.seconds);
      f.nvme_connections_active.Add({}).Set(static_cast<double>(e.connections));
    },
    [&f](const nvme_connections_counted& e) {
      f.nvme_connections_active.Add({}).Set(static_cast<double>(e.connections));
    },
    [&f](const mount_recorded& e) {
      f.mount_operations_total.Add({{"operation", e.operation}, {"status", e.status}}).Increment();
    },
    [&f](const stale_mount_recorded& e) {
      if (e.recovery)
        f.stale_recoveries_total.Add({{"status", e.status}}).Increment();
      else
        f.stale_mounts_detected_total.Add({}).Increment();
    },
    [&f](const watch_trouble& e) {
      f.watch_relists_total.Add({{"resource", e.resource}})
        .Increment(static_cast<double>(e.relists));
      f.kube_failures_total.Add({{"resource", e.resource}})
        .Increment(static_cast<double>(e.failures));
    },
    [&f](const join_recorded& e) {
      f.attachments_waiting.Add({}).Set(static_cast<double>(e.waiting));
      f.attachment_waits_total.Add({}).Increment(static_cast<double>(e.started_waiting));
      f.volumes_deleted_while_attached_total.Add({}).Increment(
        static_cast<double>(e.deleted_while_attached));
    },
    [&f](const debug_request_recorded& e) {
      f.debug_requests_total.Add({{"path", e.path}, {"code", std::to_string(e.code)}}).Increment();
    },
    [self](scrape_atom) {
      return prometheus::TextSerializer{}.Serialize(self->state.registry->Collect());
    },
    [self](status_atom) {
      auto s = self->state.status;
      s.mailbox = own_mailbox(self);
      return s;
    },
  };
}

} // namespace rds::actors
