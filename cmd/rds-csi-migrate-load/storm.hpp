// The migration storm: volumes created and attached to a source node, then migrations driven
// through a plugin's CSI socket as Kubernetes and KubeVirt drive them, with weighted scenarios,
// the invariants checked on every answer, and what the plugin's counters must show at the end.
//
// Every call is asynchronous on one completion queue (client/async_csi), so one thread keeps
// thousands of migrations in flight and the harness's own CPU time is reported beside the
// plugin's.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "client/async_csi.hpp"

namespace rds::migrate_load {

using clock_type = std::chrono::steady_clock;

enum class scenario { success, rollback, timeout, third_node, rwo_conflict, node_deleted };
constexpr size_t scenario_count = 6;
const char* scenario_name(scenario s);

/// The RPCs whose latency is recorded.
enum class rpc {
  probe,
  create,
  publish,
  unpublish,
  get_volume,
  node_stage,
  node_publish,
  node_unpublish,
  node_unstage
};
constexpr size_t rpc_count = 9;
const char* rpc_name(rpc r);

struct storm_config {
  size_t volumes = 1000;
  /// RWO volumes beside the RWX ones, for the RWO conflict scenario.
  size_t rwo_volumes = 0;
  size_t migrations = 5000;
  size_t concurrency = 64;
  size_t nodes = 64;
  uint64_t seed = 1;
  /// Field durations (reference/field.md, part C) are multiplied by this.
  double time_scale = 0.001;
  /// Each volume's migrationTimeoutSeconds.
  int migration_timeout_seconds = 5;
  /// node-deleted needs an apiserver (0 without one).
  std::array<double, scenario_count> weights{70, 10, 5, 10, 5, 0};
  /// Migrations between two SIGKILLs of the plugin (on average); 0: none.
  size_t kill_every = 0;
  /// ControllerGetVolume of a random idle volume after every this many migrations (0: never).
  size_t audit_every = 50;
  /// Volumes whose published nodes are compared with the harness's at the end (0: all).
  size_t final_audit = 2000;
  /// Sequential Probe round trips before the storm.
  size_t probes = 1000;
  /// Seconds the attached volumes stay idle before the probes and the storm (the plugin's
  /// RSS is read again then).
  int idle_seconds = 0;
  std::chrono::milliseconds rpc_deadline{30000};
  /// The storm gives up (a breach) after this long.
  std::chrono::seconds max_duration{600};
  /// Progress output: a bar on a terminal, else plain lines.
  bool terminal = false;
  std::chrono::milliseconds progress_interval{1000};
  /// Volume name prefix (CreateVolume names), so a second run against a running plugin does not
  /// collide with the first.
  std::string name_prefix = "mload";
  /// --node: per node id, its node plugin's endpoint and kubelet directory (empty: no node
  /// calls). RWX volumes are then staged and published on their source at set-up, on the target
  /// of each migration, and unpublished and unstaged on the node that is detached.
  std::vector<std::string> node_endpoints, node_kubelets;
};

/// What starts, kills and restarts the plugin, when the harness started it.
struct plugin_control {
  std::function<std::string()> endpoint;
  std::function<std::string()> metrics_url;
  /// http://HOST:PORT of the plugin's inspection port; "" when there is none (no check).
  std::function<std::string()> debug_url;
  std::function<pid_t()> pid; // -1: not started by the harness (no RSS, no kills)
  /// SIGKILL, run `after_kill` (the plugin is dead, not restarted yet), start again on the same
  /// RDS; returns how long the restart took.
  std::function<std::chrono::milliseconds(const std::function<void()>& after_kill)>
    kill_and_restart;
};

/// The migration counters a plugin exposes (rds_csi_migration_*, conflicts).
struct counters {
  double started = 0, success = 0, failed = 0, timeout = 0, conflicts = 0, active = 0, attached = 0;
};

struct latency_sample {
  float at_s; // seconds since the storm started
  float us;   // round trip
};

struct breach {
  std::string volume, step, what;
};

/// Everything measured, for the report.
/// Resident memory of a process in kB (VmRSS), -1 when unknown.
long rss_kb(pid_t pid);

struct storm_result {
  std::array<std::vector<latency_sample>, rpc_count> latency;
  std::array<std::map<std::string, uint64_t>, rpc_count> errors; // by gRPC code name
  std::vector<float> migration_done_at_s;                        // one per finished migration
  std::array<uint64_t, scenario_count> by_scenario{};
  /// Outcomes the harness caused, over the whole run (all plugin incarnations).
  uint64_t started = 0, success = 0, failed = 0, timeout = 0, refused_third = 0, refused_rwo = 0;
  /// node-deleted: source Nodes deleted mid-migration, publishes to them refused (NOT_FOUND),
  /// Nodes created again and known to the plugin again.
  uint64_t nodes_deleted = 0, refused_deleted_node = 0, nodes_restored = 0;
  /// --node: node calls made (stage, publish, unpublish, unstage; retries included) and the
  /// volumes whose device node was found on exactly their node at the end (-1: not checked).
  uint64_t node_calls = 0;
  int64_t node_checked = -1;
  /// Migrations whose dual attachment lasted close to the timeout, where the plugin may
  /// rightly count either (the check allows both).
  uint64_t ambiguous = 0;
  /// What the last plugin incarnation must show, and what it showed.
  counters expected_last, expected_last_max, observed;
  bool counters_checked = false;
  std::vector<breach> breaches;
  std::vector<float> probe_idle_us;
  double setup_seconds = 0, storm_seconds = 0;
  uint64_t kills = 0;
  std::vector<double> restart_ms;
  uint64_t audits = 0;
  /// Volumes compared with the inspection port's /debug/volumes at the end (-1: not checked).
  int64_t inspected = -1;
  uint64_t retries = 0;
  /// Resident memory of the plugin (kB): at start, after the volumes were created and attached,
  /// at the end; -1 when the harness did not start it.
  long rss_start_kb = -1, rss_attached_kb = -1, rss_end_kb = -1;
  /// With --idle-seconds: after the volumes were attached and idle that long (-1: not read).
  long rss_idle_kb = -1;
  /// CPU seconds of the harness and of the plugin during the storm (-1: unknown).
  double harness_cpu_s = 0, plugin_cpu_s = -1;
  size_t peak_in_flight = 0;
  /// Seconds from SIGTERM to the plugin's exit at the end (-1: not started by the harness).
  double plugin_stop_s = -1;
  /// With an apiserver, over all restarts: migrations the restarted plugin rebuilt from two
  /// VolumeAttachments, and those of them already past their timeout (counted at once).
  uint64_t rebuilt_migrations = 0, rebuilt_timeouts = 0;
  /// ... of which the plugin's order of the two VolumeAttachments (by publishedAt, else the
  /// whole-second creationTimestamp) is not certainly source first: success and failed both
  /// allowed for them (storm.cpp follow_restart says when).
  uint64_t rebuilt_direction_unsure = 0;
  /// ... of which both VolumeAttachments were created in the same second (what the harness
  /// allowed either result for before the plugin stamped publishedAt), and the rebuilt
  /// migrations' attached VolumeAttachments without a publishedAt.
  uint64_t rebuilt_same_second = 0, rebuilt_unpublished = 0;
};

class storm {
 public:
  /// `cluster`: with an apiserver, the VolumeAttachments are written through it; else nullptr.
  storm(storm_config config, plugin_control control, class cluster_driver* cluster = nullptr);
  ~storm();
  storm(const storm&) = delete;
  storm& operator=(const storm&) = delete;
  /// The completion queue loop (a cluster_driver posts its results to it).
  client::async_csi& loop() { return csi_; }
  /// With an apiserver: attachments go through `cluster` (set before run()).
  void use_cluster(class cluster_driver* cluster) { cluster_ = cluster; }
  /// Creates and attaches the volumes, measures Probe, runs the storm, checks the end state.
  storm_result run();

 private:
  struct volume;
  struct migration;
  using status_cb = std::function<void(const grpc::Status&)>;

  // Set-up.
  void create_volumes(std::function<void()> then);
  void attach_all(std::function<void()> then);
  void measure_probe(size_t left, std::function<void()> then);
  /// --node: every RWX volume staged and published on its source.
  void stage_sources(std::function<void()> then);

  // The storm.
  void start_more();
  void begin(migration* m);
  void step_publish_target(migration* m);
  void step_probe_third(migration* m);
  void probe_third_via_cluster(migration* m);
  /// node-deleted: the source's Node object is deleted once the target is attached.
  void step_delete_source(migration* m);
  void check_deleted_source(migration* m, int attempt);
  /// The Node object created again, and the node given back to the pool once the plugin knows.
  void restore_node(int node, int attempt);
  void step_wait_end(migration* m);
  void step_unpublish(migration* m, bool source);
  void step_controller_unpublish(migration* m, bool source);
  /// --node: NodeStage then NodePublish of `volume` on `node` (retried while ABORTED or
  /// UNAVAILABLE); `then(ok)`.
  void node_attach(size_t volume, int node, std::function<void(bool)> then, int attempt = 0);
  /// NodeUnpublish then NodeUnstage.
  void node_detach(size_t volume, int node, std::function<void(bool)> then, int attempt = 0);
  void node_stage_publish(size_t volume, int node, bool publish, std::function<void(bool)> then,
                          int attempt);
  void node_unpublish_unstage(size_t volume, int node, bool unstage, std::function<void(bool)> then,
                              int attempt);
  std::string staging_path(size_t volume, int node) const;
  std::string target_path(size_t volume, int node) const;
  /// Each volume's device node is at its source's target path and at no other node's.
  void check_node_targets();
  bool node_ops() const { return !config_.node_endpoints.empty(); }
  void finish(migration* m, bool counted_ok = true);
  void audit_one();
  void final_audit(size_t next, std::function<void()> then);

  // Calls with retries across plugin restarts.
  void publish(const std::string& volume_id, const std::string& node, bool rwx,
               std::function<void(const grpc::Status&, uint64_t incarnation)> cb, int attempt = 0);
  void unpublish(const std::string& volume_id, const std::string& node,
                 std::function<void(const grpc::Status&, uint64_t incarnation)> cb,
                 int attempt = 0);
  bool retryable(const grpc::Status& s) const;
  void hold_or_run(std::function<void()> f);
  void maybe_kill();
  /// With an apiserver: the attach/detach controller and the external-attacher for one node.
  void attach_via_cluster(size_t volume, int node,
                          std::function<void(const grpc::Status&, uint64_t)> cb);
  void detach_via_cluster(size_t volume, int node,
                          std::function<void(const grpc::Status&, uint64_t)> cb);
  void create_persistent_volumes(std::function<void()> then);
  std::string pv_name(size_t volume) const;
  void replay(std::function<void()> then);
  /// With an apiserver, after a restart: waits until the plugin is ready (rebuilt from the
  /// VolumeAttachments), checks what it rebuilt against them, takes its counters as the new
  /// incarnation's starting point and marks the migrations it took over.
  void follow_restart(std::chrono::system_clock::time_point killed_at);

  void record(rpc r, clock_type::time_point sent, const grpc::Status& s);
  void breach_of(const std::string& volume, const std::string& step, const std::string& what);
  void progress();
  std::chrono::microseconds scaled(double field_seconds) const;
  double uniform(double lo, double hi);
  std::string node_name(size_t i) const;
  counters scrape();
  void check_counters();
  void check_inspection();

  storm_config config_;
  plugin_control control_;
  class cluster_driver* cluster_ = nullptr;
  client::async_csi csi_;
  std::mt19937_64 rng_;
  std::vector<volume> volumes_;
  std::vector<size_t> idle_rwx_, idle_rwo_;
  /// Per node: migrations in flight that may publish to it (as target or third node); a node
  /// is only deleted when none may, and deleted nodes are never chosen.
  std::vector<int> publishes_to_;
  std::vector<bool> deleted_;
  size_t deleted_count_ = 0;
  size_t started_ = 0, finished_ = 0, active_ = 0;
  clock_type::time_point storm_start_, run_start_;
  bool storming_ = false;
  bool done_ = false;
  /// Which plugin incarnation answers now; answers from an earlier one count for nothing.
  uint64_t incarnation_ = 0;
  bool paused_ = false;
  std::vector<std::function<void()>> held_;
  size_t next_kill_at_ = 0;
  /// Expected counters of the current incarnation (lower and upper bounds).
  counters expect_, expect_max_;
  /// The plugin's counters before the harness began (a running plugin's earlier work).
  counters baseline_;
  size_t ambiguous_last_ = 0;
  /// With an apiserver: migrations the current incarnation rebuilt already past their timeout
  /// (it counted them at once; their end counts nothing).
  size_t rebuild_certain_ = 0;
  /// ... and of those rebuilt too close to it to tell, how many it counted at once.
  size_t rebuild_unsure_counted_ = 0;
  std::discrete_distribution<int> pick_scenario_;
  storm_result result_;
  size_t last_progress_finished_ = 0;
};

} // namespace rds::migrate_load
