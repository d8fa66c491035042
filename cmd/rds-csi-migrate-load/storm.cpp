// The storm's event loop: every step of every migration is a callback on the completion queue's
// thread, so the harness's state needs no lock.
#include "cmd/rds-csi-migrate-load/storm.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <sys/stat.h>

#include "client/csi_client.hpp"
#include "client/kube_cluster.hpp"
#include "cmd/rds-csi-migrate-load/cluster_driver.hpp"

#include <rapidjson/document.h>

namespace rds::migrate_load {

namespace {

using namespace std::chrono_literals;

/// Tolerance around the migration timeout: the plugin's timer and its handling of an unpublish
/// are two messages to one actor, and either may come first within this.
constexpr double timer_slack_s = 0.05;

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string code_name(grpc::StatusCode c) {
  switch (c) {
  case grpc::OK:
    return "OK";
  case grpc::CANCELLED:
    return "CANCELLED";
  case grpc::UNKNOWN:
    return "UNKNOWN";
  case grpc::INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case grpc::DEADLINE_EXCEEDED:
    return "DEADLINE_EXCEEDED";
  case grpc::NOT_FOUND:
    return "NOT_FOUND";
  case grpc::ALREADY_EXISTS:
    return "ALREADY_EXISTS";
  case grpc::PERMISSION_DENIED:
    return "PERMISSION_DENIED";
  case grpc::RESOURCE_EXHAUSTED:
    return "RESOURCE_EXHAUSTED";
  case grpc::FAILED_PRECONDITION:
    return "FAILED_PRECONDITION";
  case grpc::ABORTED:
    return "ABORTED";
  case grpc::OUT_OF_RANGE:
    return "OUT_OF_RANGE";
  case grpc::UNIMPLEMENTED:
    return "UNIMPLEMENTED";
  case grpc::INTERNAL:
    return "INTERNAL";
  case grpc::UNAVAILABLE:
    return "UNAVAILABLE";
  case grpc::DATA_LOSS:
    return "DATA_LOSS";
  case grpc::UNAUTHENTICATED:
    return "UNAUTHENTICATED";
  default:
    return "CODE_" + std::to_string(static_cast<int>(c));
  }
}

::csi::v1::VolumeCapability capability(bool rwx) {
  return client::csi_client::capability(rwx ? client::volume_access::rwx_block
                                            : client::volume_access::rwo);
}

double cpu_seconds_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream rest{text.substr(close + 2)};
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::stod(field);
    if (i == 15)
      stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
         + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

} // namespace

long rss_kb(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stol(line.substr(6));
  return -1;
}

const char* scenario_name(scenario s) {
  switch (s) {
  case scenario::success:
    return "success";
  case scenario::rollback:
    return "rollback";
  case scenario::timeout:
    return "timeout";
  case scenario::third_node:
    return "third-node";
  case scenario::rwo_conflict:
    return "rwo-conflict";
  case scenario::node_deleted:
    return "node-deleted";
  }
  return "?";
}

const char* rpc_name(rpc r) {
  switch (r) {
  case rpc::probe:
    return "Probe";
  case rpc::create:
    return "CreateVolume";
  case rpc::publish:
    return "ControllerPublishVolume";
  case rpc::unpublish:
    return "ControllerUnpublishVolume";
  case rpc::get_volume:
    return "ControllerGetVolume";
  case rpc::node_stage:
    return "NodeStageVolume";
  case rpc::node_publish:
    return "NodePublishVolume";
  case rpc::node_unpublish:
    return "NodeUnpublishVolume";
  case rpc::node_unstage:
    return "NodeUnstageVolume";
  }
  return "?";
}

struct storm::volume {
  std::string id;
  /// CreateVolume's volume_context (with --node: NodeStageVolume needs it).
  std::map<std::string, std::string> context;
  bool rwx = true;
  int source = -1;
  /// The migration running on it, if any.
  migration* current = nullptr;
};

struct storm::migration {
  scenario kind = scenario::success;
  size_t volume = 0;
  int target = -1, third = -1;
  /// The target publish as the current plugin incarnation saw it (the replay after a restart
  /// publishes it again).
  bool target_attached = false;
  clock_type::time_point target_sent, target_acked;
  /// Field time the volume stays on two nodes (scaled), chosen at the start.
  std::chrono::microseconds dual_for{0};
  /// The plugin incarnation it started under: a restart in between changes its timing, and the
  /// timing checks then do not apply (its counts still do).
  uint64_t incarnation = 0;
  /// With an apiserver, set at a restart that rebuilt it from its two VolumeAttachments: its
  /// timeout had certainly passed (the new plugin counted it at once, its end counts nothing),
  /// or it was too close to tell (either).
  bool rebuild_certain = false, rebuild_ambiguous = false;
  /// The rebuilt plugin's order of its two VolumeAttachments is not certainly source first (see
  /// follow_restart: only when one lacks publishedAt), so a source detach may count as failed and
  /// a target detach as success.
  bool rebuild_direction_unsure = false;
};

storm::storm(storm_config config, plugin_control control, cluster_driver* cluster)
  : config_(std::move(config))
  , control_(std::move(control))
  , cluster_(cluster)
  , csi_(control_.endpoint())
  , rng_(config_.seed)
  , pick_scenario_(config_.weights.begin(), config_.weights.end()) {
  publishes_to_.assign(config_.nodes, 0);
  deleted_.assign(config_.nodes, false);
  for (auto& e : config_.node_endpoints)
    csi_.add_node(e);
}

storm::~storm() = default;

std::chrono::microseconds storm::scaled(double field_seconds) const {
  return std::chrono::microseconds{static_cast<int64_t>(field_seconds * config_.time_scale * 1e6)};
}

double storm::uniform(double lo, double hi) {
  return std::uniform_real_distribution<double>{lo, hi}(rng_);
}

std::string storm::node_name(size_t i) const {
  return "node-" + std::to_string(i);
}

void storm::record(rpc r, clock_type::time_point sent, const grpc::Status& s) {
  auto now = clock_type::now();
  auto& slot = result_.latency[static_cast<size_t>(r)];
  slot.push_back(
    {static_cast<float>(seconds_between(run_start_, now)),
     static_cast<float>(std::chrono::duration<double, std::micro>(now - sent).count())});
  if (!s.ok())
    ++result_.errors[static_cast<size_t>(r)][code_name(s.error_code())];
}

void storm::breach_of(const std::string& volume, const std::string& step, const std::string& what) {
  result_.breaches.push_back({volume, step, what});
  std::fprintf(stderr, "%sBREACH volume=%s step=%s: %s\n", config_.terminal ? "\n" : "",
               volume.c_str(), step.c_str(), what.c_str());
}

bool storm::retryable(const grpc::Status& s) const {
  switch (s.error_code()) {
  case grpc::UNAVAILABLE:
  case grpc::DEADLINE_EXCEEDED:
  case grpc::ABORTED:
  case grpc::RESOURCE_EXHAUSTED:
  case grpc::CANCELLED:
    return true;
  default:
    return false;
  }
}

void storm::hold_or_run(std::function<void()> f) {
  if (paused_)
    held_.push_back(std::move(f));
  else
    f();
}

// A call retried as the external-attacher does (backoff from 10 ms to 1 s) while the plugin
// cannot answer; an answer from an incarnation the harness has since killed counts for nothing
// and the call is sent again to the new one.
void storm::publish(const std::string& volume_id, const std::string& node, bool rwx,
                    std::function<void(const grpc::Status&, uint64_t)> cb, int attempt) {
  hold_or_run([=] {
    ::csi::v1::ControllerPublishVolumeRequest req;
    req.set_volume_id(volume_id);
    req.set_node_id(node);
    *req.mutable_volume_capability() = capability(rwx);
    (*req.mutable_volume_context())["migrationTimeoutSeconds"] =
      std::to_string(config_.migration_timeout_seconds);
    auto sent = clock_type::now();
    auto sent_to = incarnation_;
    csi_.publish(req, config_.rpc_deadline,
                 [=](const grpc::Status& s, ::csi::v1::ControllerPublishVolumeResponse&) {
                   record(rpc::publish, sent, s);
                   if (sent_to != incarnation_ || retryable(s)) {
                     ++result_.retries;
                     auto wait = std::min<int64_t>(1000, 10LL << std::min(attempt, 7));
                     csi_.after(std::chrono::milliseconds{wait},
                                [=] { publish(volume_id, node, rwx, cb, attempt + 1); });
                     return;
                   }
                   cb(s, sent_to);
                 });
  });
}

void storm::unpublish(const std::string& volume_id, const std::string& node,
                      std::function<void(const grpc::Status&, uint64_t)> cb, int attempt) {
  hold_or_run([=] {
    ::csi::v1::ControllerUnpublishVolumeRequest req;
    req.set_volume_id(volume_id);
    req.set_node_id(node);
    auto sent = clock_type::now();
    auto sent_to = incarnation_;
    csi_.unpublish(req, config_.rpc_deadline,
                   [=](const grpc::Status& s, ::csi::v1::ControllerUnpublishVolumeResponse&) {
                     record(rpc::unpublish, sent, s);
                     if (sent_to != incarnation_ || retryable(s)) {
                       ++result_.retries;
                       auto wait = std::min<int64_t>(1000, 10LL << std::min(attempt, 7));
                       csi_.after(std::chrono::milliseconds{wait},
                                  [=] { unpublish(volume_id, node, cb, attempt + 1); });
                       return;
                     }
                     cb(s, sent_to);
                   });
  });
}

// Runs `step(i, done)` for i in [0, n) with at most `window` in flight, then `then`.
namespace {
struct bounded_loop : std::enable_shared_from_this<bounded_loop> {
  size_t n = 0, window = 0, next = 0, finished = 0;
  std::function<void(size_t, std::function<void()>)> step;
  std::function<void()> then;
  void pump() {
    while (next < n && next - finished < window) {
      auto self = shared_from_this();
      step(next++, [self] {
        ++self->finished;
        if (self->finished == self->n)
          self->then();
        else
          self->pump();
      });
    }
  }
};
void for_each_bounded(size_t n, size_t window,
                      std::function<void(size_t, std::function<void()>)> step,
                      std::function<void()> then) {
  if (n == 0) {
    then();
    return;
  }
  auto loop = std::make_shared<bounded_loop>();
  loop->n = n;
  loop->window = window;
  loop->step = std::move(step);
  loop->then = std::move(then);
  loop->pump();
}
} // namespace

void storm::create_volumes(std::function<void()> then) {
  auto total = config_.volumes + config_.rwo_volumes;
  volumes_.resize(total);
  for_each_bounded(
    total, 64,
    [this](size_t i, std::function<void()> done) {
      auto& v = volumes_[i];
      v.rwx = i < config_.volumes;
      ::csi::v1::CreateVolumeRequest req;
      req.set_name(config_.name_prefix + "-" + std::to_string(i));
      req.mutable_capacity_range()->set_required_bytes(int64_t{1} << 20);
      *req.add_volume_capabilities() = capability(v.rwx);
      (*req.mutable_parameters())["migrationTimeoutSeconds"] =
        std::to_string(config_.migration_timeout_seconds);
      auto attempt = std::make_shared<int>(0);
      auto send = std::make_shared<std::function<void()>>();
      // The retry loop holds itself weakly; the call or timer in flight holds it strongly.
      *send = [this, req, i, done, attempt, weak = std::weak_ptr<std::function<void()>>(send)] {
        auto send = weak.lock();
        auto sent = clock_type::now();
        csi_.create_volume(req, config_.rpc_deadline,
                           [=](const grpc::Status& s, ::csi::v1::CreateVolumeResponse& r) {
                             record(rpc::create, sent, s);
                             if (retryable(s) && ++*attempt < 50) {
                               ++result_.retries;
                               csi_.after(50ms, *send);
                               return;
                             }
                             if (!s.ok())
                               breach_of(req.name(), "CreateVolume",
                                         code_name(s.error_code()) + ": " + s.error_message());
                             else {
                               volumes_[i].id = r.volume().volume_id();
                               if (node_ops())
                                 volumes_[i].context = {r.volume().volume_context().begin(),
                                                        r.volume().volume_context().end()};
                             }
                             done();
                           });
      };
      (*send)();
    },
    std::move(then));
}

void storm::attach_all(std::function<void()> then) {
  for_each_bounded(
    volumes_.size(), 256,
    [this](size_t i, std::function<void()> done) {
      auto& v = volumes_[i];
      if (v.id.empty()) {
        done();
        return;
      }
      auto node =
        static_cast<int>(std::uniform_int_distribution<size_t>{0, config_.nodes - 1}(rng_));
      auto attach = [this, i, node](std::function<void(const grpc::Status&, uint64_t)> cb) {
        if (cluster_ != nullptr)
          attach_via_cluster(i, node, std::move(cb));
        else
          publish(volumes_[i].id, node_name(static_cast<size_t>(node)), volumes_[i].rwx,
                  std::move(cb));
      };
      attach([this, i, node, done](const grpc::Status& s, uint64_t) {
        if (s.ok()) {
          volumes_[i].source = node;
          (volumes_[i].rwx ? idle_rwx_ : idle_rwo_).push_back(i);
        } else {
          breach_of(volumes_[i].id, "attach to the source node",
                    code_name(s.error_code()) + ": " + s.error_message());
        }
        done();
      });
    },
    std::move(then));
}

void storm::stage_sources(std::function<void()> then) {
  if (!node_ops()) {
    then();
    return;
  }
  for_each_bounded(
    volumes_.size(), 16,
    [this](size_t i, std::function<void()> done) {
      auto& v = volumes_[i];
      if (v.id.empty() || !v.rwx || v.source < 0) {
        done();
        return;
      }
      node_attach(i, v.source, [done](bool) { done(); });
    },
    std::move(then));
}

void storm::measure_probe(size_t left, std::function<void()> then) {
  if (left == 0) {
    then();
    return;
  }
  auto sent = clock_type::now();
  csi_.probe(config_.rpc_deadline, [=](const grpc::Status& s, ::csi::v1::ProbeResponse&) {
    if (s.ok())
      result_.probe_idle_us.push_back(static_cast<float>(
        std::chrono::duration<double, std::micro>(clock_type::now() - sent).count()));
    measure_probe(left - 1, then);
  });
}

void storm::start_more() {
  while (storming_ && !paused_ && started_ < config_.migrations && active_ < config_.concurrency) {
    auto kind = static_cast<scenario>(pick_scenario_(rng_));
    auto& pool = kind == scenario::rwo_conflict ? idle_rwo_ : idle_rwx_;
    if (pool.empty()) {
      if (idle_rwx_.empty())
        return; // every volume is busy: the next finish starts more
      kind = scenario::success;
    }
    auto& from = kind == scenario::rwo_conflict ? idle_rwo_ : idle_rwx_;
    auto pick = std::uniform_int_distribution<size_t>{0, from.size() - 1}(rng_);
    auto index = from[pick];
    from[pick] = from.back();
    from.pop_back();
    // A source Node is deleted only with an apiserver, only when no migration in flight may
    // publish to it, and never the last nodes.
    if (kind == scenario::node_deleted) {
      auto source = volumes_[index].source;
      if (cluster_ == nullptr || source < 0 || publishes_to_[static_cast<size_t>(source)] > 0
          || deleted_[static_cast<size_t>(source)] || deleted_count_ + 4 > config_.nodes)
        kind = scenario::success;
      else {
        // Out of the pool from now on: no migration picks it as target or third node.
        deleted_[static_cast<size_t>(source)] = true;
        ++deleted_count_;
      }
    }
    auto* m = new migration;
    m->kind = kind;
    m->volume = index;
    ++started_;
    ++active_;
    ++result_.by_scenario[static_cast<size_t>(kind)];
    result_.peak_in_flight = std::max(result_.peak_in_flight, csi_.in_flight());
    begin(m);
  }
}

// KubeVirt's timing (reference/field.md, C.2 and C.3), in field seconds before scaling: the
// attacher reacts to the new VolumeAttachment within a second; the target pod starts (stage,
// publish, libvirt) in 1-5 s; memory copies at bandwidthPerMigration (64 MiB/s) for a 1-8 GiB
// guest, 16-128 s; the source pod is torn down and its VolumeAttachment deleted in 2-10 s; a
// failing target gives up within progressTimeout (150 s).
void storm::begin(migration* m) {
  auto& v = volumes_[m->volume];
  v.current = m;
  m->incarnation = incarnation_;
  auto others = [&](std::initializer_list<int> not_these) {
    for (;;) {
      auto n = static_cast<int>(std::uniform_int_distribution<size_t>{0, config_.nodes - 1}(rng_));
      if (std::find(not_these.begin(), not_these.end(), n) == not_these.end()
          && !deleted_[static_cast<size_t>(n)])
        return n;
    }
  };
  m->target = others({v.source});
  m->third = others({v.source, m->target});
  ++publishes_to_[static_cast<size_t>(m->target)];
  ++publishes_to_[static_cast<size_t>(m->third)];
  double field = 0;
  switch (m->kind) {
  case scenario::success:
  case scenario::third_node:
    field = uniform(1, 5) + 16 * uniform(1, 8) + uniform(2, 10);
    break;
  case scenario::rollback:
    field = uniform(5, 150);
    break;
  default:
    break;
  }
  m->dual_for = scaled(field);
  // A migration meant to end in time stays well inside the timeout whatever the scale.
  auto cap =
    std::chrono::microseconds{static_cast<int64_t>(config_.migration_timeout_seconds * 0.5 * 1e6)};
  m->dual_for = std::min(m->dual_for, cap);
  csi_.after(scaled(uniform(0.05, 1.0)), [this, m] { step_publish_target(m); });
}

void storm::step_publish_target(migration* m) {
  auto& v = volumes_[m->volume];
  if (m->kind == scenario::rwo_conflict) {
    publish(v.id, node_name(static_cast<size_t>(m->target)), false,
            [this, m](const grpc::Status& s, uint64_t) {
              auto& v = volumes_[m->volume];
              if (s.error_code() == grpc::FAILED_PRECONDITION) {
                ++expect_.conflicts, ++expect_max_.conflicts, ++result_.refused_rwo;
                finish(m);
                return;
              }
              if (s.ok()) {
                breach_of(v.id, "RWO publish to a second node",
                          "accepted: an RWO volume on two nodes");
                unpublish(v.id, node_name(static_cast<size_t>(m->target)),
                          [this, m](const grpc::Status&, uint64_t) { finish(m, false); });
                return;
              }
              breach_of(v.id, "RWO publish to a second node",
                        "expected FAILED_PRECONDITION, got " + code_name(s.error_code()) + ": "
                          + s.error_message());
              finish(m, false);
            });
    return;
  }
  m->target_sent = clock_type::now();
  auto done = [this, m](const grpc::Status& s, uint64_t incarnation) {
    auto& v = volumes_[m->volume];
    if (!s.ok()) {
      breach_of(v.id, "publish to the migration target",
                code_name(s.error_code()) + ": " + s.error_message());
      finish(m, false);
      return;
    }
    if (!m->rebuild_certain && !m->rebuild_ambiguous)
      m->target_acked = clock_type::now();
    m->target_attached = true;
    ++result_.started;
    // Attached before a restart (with an apiserver): the new plugin rebuilt it and counted it.
    if (incarnation == incarnation_)
      ++expect_.started, ++expect_max_.started;
    auto next = [this, m] {
      if (m->kind == scenario::third_node)
        csi_.after(scaled(uniform(0.5, 5)), [this, m] { step_probe_third(m); });
      else if (m->kind == scenario::node_deleted)
        step_delete_source(m);
      else
        step_wait_end(m);
    };
    // The target pod starts: the volume is staged and published on the target.
    if (node_ops())
      node_attach(m->volume, m->target, [next](bool) { next(); });
    else
      next();
  };
  if (cluster_ != nullptr)
    attach_via_cluster(m->volume, m->target, done);
  else
    publish(v.id, node_name(static_cast<size_t>(m->target)), true, done);
}

void storm::step_probe_third(migration* m) {
  auto& v = volumes_[m->volume];
  if (cluster_ != nullptr) {
    probe_third_via_cluster(m);
    return;
  }
  publish(v.id, node_name(static_cast<size_t>(m->third)), true,
          [this, m](const grpc::Status& s, uint64_t) {
            auto& v = volumes_[m->volume];
            if (s.error_code() == grpc::FAILED_PRECONDITION) {
              ++expect_.conflicts, ++expect_max_.conflicts, ++result_.refused_third;
              step_wait_end(m);
              return;
            }
            if (s.ok()) {
              breach_of(v.id, "publish to a third node during a migration",
                        "accepted: three nodes attached");
              unpublish(v.id, node_name(static_cast<size_t>(m->third)),
                        [this, m](const grpc::Status&, uint64_t) { step_wait_end(m); });
              return;
            }
            breach_of(v.id, "publish to a third node during a migration",
                      "expected FAILED_PRECONDITION, got " + code_name(s.error_code()) + ": "
                        + s.error_message());
            step_wait_end(m);
          });
}

// With an apiserver, as Kubernetes does it for an RWX volume (the attach/detach controller allows
// several nodes): a VolumeAttachment for the third node, the attacher's publish refused
// (FAILED_PRECONDITION, written as attachError), then the pod goes and the VolumeAttachment is
// deleted: the attacher's ControllerUnpublishVolume for a node the volume is not on must succeed
// and leave the migration alone.
void storm::probe_third_via_cluster(migration* m) {
  attach_via_cluster(m->volume, m->third, [this, m](const grpc::Status& s, uint64_t incarnation) {
    auto& v = volumes_[m->volume];
    if (s.error_code() == grpc::FAILED_PRECONDITION) {
      ++result_.refused_third;
      if (incarnation == incarnation_)
        ++expect_.conflicts, ++expect_max_.conflicts;
    } else if (s.ok()) {
      breach_of(v.id, "VolumeAttachment of a third node during a migration",
                "attached: three nodes");
    } else {
      breach_of(v.id, "VolumeAttachment of a third node during a migration",
                "expected FAILED_PRECONDITION, got " + code_name(s.error_code()) + ": "
                  + s.error_message());
    }
    detach_via_cluster(m->volume, m->third, [this, m](const grpc::Status& s, uint64_t) {
      if (!s.ok())
        breach_of(volumes_[m->volume].id, "detach of the refused third node",
                  code_name(s.error_code()) + ": " + s.error_message());
      step_wait_end(m);
    });
  });
}

// The driver's documented behaviour (README, "publish to a node that has no Node object"): the
// Node cache comes from its watch; a publish to a node without a Node object is NOT_FOUND; the
// attachments stay as the VolumeAttachments say (the external-attacher never reads Nodes, and
// the test apiserver runs no garbage collector, so the CSINode and the VolumeAttachment stay);
// the unpublish from that node is not checked against Nodes and succeeds.
void storm::step_delete_source(migration* m) {
  auto& v = volumes_[m->volume];
  auto node = v.source;
  ++result_.nodes_deleted;
  auto name = node_name(static_cast<size_t>(node));
  cluster_->submit(
    [name](client::external_attacher&, services::kube::kube_client& api) {
      auto r = client::api_call(api, "DELETE", "/api/v1/nodes/" + name, "");
      return r.status.ok() ? grpc::Status::OK : grpc::Status{grpc::INTERNAL, r.status.message};
    },
    [this, m, name](const grpc::Status& s, uint64_t) {
      if (!s.ok()) {
        breach_of(volumes_[m->volume].id, "delete the source Node " + name, s.error_message());
        step_wait_end(m);
        return;
      }
      check_deleted_source(m, 0);
    });
}

void storm::check_deleted_source(migration* m, int attempt) {
  auto& v = volumes_[m->volume];
  auto source = node_name(static_cast<size_t>(v.source));
  publish(v.id, source, true, [this, m, attempt, source](const grpc::Status& s, uint64_t) {
    auto& v = volumes_[m->volume];
    if (s.error_code() != grpc::NOT_FOUND) {
      // The plugin learns of the deletion from its Node watch: a moment later.
      if (attempt < 100) {
        csi_.after(20ms, [this, m, attempt] { check_deleted_source(m, attempt + 1); });
        return;
      }
      breach_of(v.id, "publish to the deleted source node " + source,
                "expected NOT_FOUND 2 s after the Node's deletion, got " + code_name(s.error_code())
                  + ": " + s.error_message());
      step_wait_end(m);
      return;
    }
    ++result_.refused_deleted_node;
    // Its attachments are what the VolumeAttachments say: still the source and the target.
    ::csi::v1::ControllerGetVolumeRequest req;
    req.set_volume_id(v.id);
    auto sent = clock_type::now();
    csi_.get_volume(
      req, config_.rpc_deadline,
      [this, m, sent, source](const grpc::Status& s, ::csi::v1::ControllerGetVolumeResponse& r) {
        record(rpc::get_volume, sent, s);
        auto& v = volumes_[m->volume];
        std::vector<std::string> nodes(r.status().published_node_ids().begin(),
                                       r.status().published_node_ids().end());
        std::sort(nodes.begin(), nodes.end());
        std::vector<std::string> want{source, node_name(static_cast<size_t>(m->target))};
        std::sort(want.begin(), want.end());
        if (s.ok() && nodes != want) {
          std::string list;
          for (auto& n : nodes)
            list += (list.empty() ? "" : ",") + n;
          breach_of(v.id, "attachments after the source Node's deletion",
                    "published to [" + list + "], the VolumeAttachments say " + want[0] + ","
                      + want[1]);
        }
        // A restart in between may have answered UNAVAILABLE: not a breach.
        step_wait_end(m);
      });
  });
}

void storm::restore_node(int node, int attempt) {
  auto name = node_name(static_cast<size_t>(node));
  auto release = [this, node] {
    deleted_[static_cast<size_t>(node)] = false;
    --deleted_count_;
    ++result_.nodes_restored;
  };
  if (attempt == 0) {
    ++active_; // the storm's end waits for the node to come back
    cluster_->submit(
      [name](client::external_attacher&, services::kube::kube_client& api) {
        auto r = client::api_call(api, "POST", "/api/v1/nodes",
                                  R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name
                                    + R"("}})");
        return r.status.ok() ? grpc::Status::OK : grpc::Status{grpc::INTERNAL, r.status.message};
      },
      [this, node, name](const grpc::Status& s, uint64_t) {
        if (!s.ok()) {
          breach_of("-", "create the Node " + name + " again", s.error_message());
          --active_; // stays out of the pool
          return;
        }
        restore_node(node, 1);
      });
    return;
  }
  // Known again once a publish to it of a volume that does not exist is refused for the volume,
  // no longer for the node (the supervisor checks the node first).
  ::csi::v1::ControllerPublishVolumeRequest req;
  req.set_volume_id(config_.name_prefix + "-no-such-volume");
  req.set_node_id(name);
  *req.mutable_volume_capability() = capability(true);
  csi_.publish(req, config_.rpc_deadline,
               [this, node, attempt, name, release](const grpc::Status& s,
                                                    ::csi::v1::ControllerPublishVolumeResponse&) {
                 auto node_unknown =
                   s.error_message().find("does not exist in Kubernetes") != std::string::npos;
                 if ((node_unknown || retryable(s)) && attempt < 250) {
                   csi_.after(20ms, [this, node, attempt] { restore_node(node, attempt + 1); });
                   return;
                 }
                 if (node_unknown)
                   breach_of("-", "Node " + name + " created again",
                             "the plugin still refuses it 5 s later: " + s.error_message());
                 else
                   release();
                 --active_;
                 if (storming_)
                   start_more();
               });
}

std::string storm::staging_path(size_t volume, int node) const {
  return config_.node_kubelets[static_cast<size_t>(node)] + "/plugins/kubernetes.io/csi/staging/"
         + volumes_[volume].id;
}

std::string storm::target_path(size_t volume, int node) const {
  // As kubelet names a block volume's target; the plugin makes the parent directory.
  return config_.node_kubelets[static_cast<size_t>(node)]
         + "/plugins/kubernetes.io/csi/volumeDevices/publish/" + volumes_[volume].id + "/pod-1";
}

void storm::node_attach(size_t volume, int node, std::function<void(bool)> then, int) {
  node_stage_publish(volume, node, false, std::move(then), 0);
}

void storm::node_detach(size_t volume, int node, std::function<void(bool)> then, int) {
  node_unpublish_unstage(volume, node, false, std::move(then), 0);
}

// `publish` false: the stage, then (publish true) the publish. A node_volume busy with another
// call of the same volume answers ABORTED: retried, as kubelet does.
void storm::node_stage_publish(size_t volume, int node, bool publish,
                               std::function<void(bool)> then, int attempt) {
  auto& v = volumes_[volume];
  auto index = static_cast<size_t>(node);
  auto retry_or = [this, volume, node, publish, then, attempt](const grpc::Status& s,
                                                               const char* step) {
    ++result_.node_calls;
    if ((s.error_code() == grpc::ABORTED || retryable(s)) && attempt < 200) {
      csi_.after(20ms, [this, volume, node, publish, then, attempt] {
        node_stage_publish(volume, node, publish, then, attempt + 1);
      });
      return;
    }
    if (!s.ok()) {
      breach_of(volumes_[volume].id,
                std::string{step} + " on " + node_name(static_cast<size_t>(node)),
                code_name(s.error_code()) + ": " + s.error_message());
      then(false);
      return;
    }
    if (!publish)
      node_stage_publish(volume, node, true, then, 0);
    else
      then(true);
  };
  if (!publish) {
    ::csi::v1::NodeStageVolumeRequest req;
    req.set_volume_id(v.id);
    auto path = staging_path(volume, node);
    std::error_code ec;
    std::filesystem::create_directories(path, ec); // kubelet makes it
    req.set_staging_target_path(path);
    *req.mutable_volume_capability() = capability(true);
    for (auto& [k, val] : v.context)
      (*req.mutable_volume_context())[k] = val;
    auto sent = clock_type::now();
    csi_.node_stage(
      index, req, config_.rpc_deadline,
      [this, retry_or, sent](const grpc::Status& s, ::csi::v1::NodeStageVolumeResponse&) {
        record(rpc::node_stage, sent, s);
        retry_or(s, "NodeStageVolume");
      });
    return;
  }
  ::csi::v1::NodePublishVolumeRequest req;
  req.set_volume_id(v.id);
  req.set_staging_target_path(staging_path(volume, node));
  req.set_target_path(target_path(volume, node));
  *req.mutable_volume_capability() = capability(true);
  for (auto& [k, val] : v.context)
    (*req.mutable_volume_context())[k] = val;
  auto sent = clock_type::now();
  csi_.node_publish(
    index, req, config_.rpc_deadline,
    [this, retry_or, sent](const grpc::Status& s, ::csi::v1::NodePublishVolumeResponse&) {
      record(rpc::node_publish, sent, s);
      retry_or(s, "NodePublishVolume");
    });
}

void storm::node_unpublish_unstage(size_t volume, int node, bool unstage,
                                   std::function<void(bool)> then, int attempt) {
  auto& v = volumes_[volume];
  auto index = static_cast<size_t>(node);
  auto retry_or = [this, volume, node, unstage, then, attempt](const grpc::Status& s,
                                                               const char* step) {
    ++result_.node_calls;
    if ((s.error_code() == grpc::ABORTED || retryable(s)) && attempt < 200) {
      csi_.after(20ms, [this, volume, node, unstage, then, attempt] {
        node_unpublish_unstage(volume, node, unstage, then, attempt + 1);
      });
      return;
    }
    if (!s.ok()) {
      breach_of(volumes_[volume].id,
                std::string{step} + " on " + node_name(static_cast<size_t>(node)),
                code_name(s.error_code()) + ": " + s.error_message());
      then(false);
      return;
    }
    if (!unstage)
      node_unpublish_unstage(volume, node, true, then, 0);
    else
      then(true);
  };
  if (!unstage) {
    ::csi::v1::NodeUnpublishVolumeRequest req;
    req.set_volume_id(v.id);
    req.set_target_path(target_path(volume, node));
    auto sent = clock_type::now();
    csi_.node_unpublish(
      index, req, config_.rpc_deadline,
      [this, retry_or, sent](const grpc::Status& s, ::csi::v1::NodeUnpublishVolumeResponse&) {
        record(rpc::node_unpublish, sent, s);
        retry_or(s, "NodeUnpublishVolume");
      });
    return;
  }
  ::csi::v1::NodeUnstageVolumeRequest req;
  req.set_volume_id(v.id);
  req.set_staging_target_path(staging_path(volume, node));
  auto sent = clock_type::now();
  csi_.node_unstage(
    index, req, config_.rpc_deadline,
    [this, retry_or, sent](const grpc::Status& s, ::csi::v1::NodeUnstageVolumeResponse&) {
      record(rpc::node_unstage, sent, s);
      retry_or(s, "NodeUnstageVolume");
    });
}

void storm::check_node_targets() {
  int64_t checked = 0;
  for (size_t i = 0; i < volumes_.size(); ++i) {
    auto& v = volumes_[i];
    if (v.id.empty() || !v.rwx || v.source < 0)
      continue;
    std::vector<std::string> found;
    for (size_t n = 0; n < config_.node_kubelets.size(); ++n) {
      struct stat st {};
      if (::lstat(target_path(i, static_cast<int>(n)).c_str(), &st) == 0)
        found.push_back(node_name(n) + (S_ISBLK(st.st_mode) ? "" : " (not a block device)"));
    }
    if (found.size() != 1 || found[0] != node_name(static_cast<size_t>(v.source))) {
      std::string list;
      for (auto& f : found)
        list += (list.empty() ? "" : ",") + f;
      breach_of(v.id, "node targets at the end",
                "device node on [" + list + "], the harness attached it to "
                  + node_name(static_cast<size_t>(v.source)) + " only");
    }
    ++checked;
  }
  result_.node_checked = checked;
}

void storm::step_wait_end(migration* m) {
  if (m->kind == scenario::timeout) {
    // The target lingers past the timeout in real time (the plugin's timer is not scaled), then
    // KubeVirt gives up and the target is detached. A restart re-publishes the target, and the
    // new plugin's timer starts then: wait again from there.
    auto lingered = seconds_between(m->target_acked, clock_type::now());
    auto needed = config_.migration_timeout_seconds + 0.5;
    if (lingered < needed) {
      csi_.after(std::chrono::microseconds{static_cast<int64_t>((needed - lingered) * 1e6)},
                 [this, m] { step_wait_end(m); });
      return;
    }
    step_unpublish(m, false);
    return;
  }
  csi_.after(m->dual_for, [this, m] { step_unpublish(m, m->kind != scenario::rollback); });
}

// Ends the migration: the source's detach confirms it (success), the target's rolls it back
// (failed). Either is a timeout instead when the plugin's timer fired first; when the two
// windows overlap the timeout (ambiguous), both are allowed.
void storm::step_unpublish(migration* m, bool source) {
  // The pod on the node detached goes first: its volume unpublished and unstaged there.
  if (node_ops()) {
    auto node = source ? volumes_[m->volume].source : m->target;
    node_detach(m->volume, node, [this, m, source](bool) { step_controller_unpublish(m, source); });
    return;
  }
  step_controller_unpublish(m, source);
}

void storm::step_controller_unpublish(migration* m, bool source) {
  auto& v = volumes_[m->volume];
  auto node = source ? v.source : m->target;
  auto sent = clock_type::now();
  auto done = [this, m, source, sent](const grpc::Status& s, uint64_t incarnation) {
    auto& v = volumes_[m->volume];
    if (!s.ok()) {
      breach_of(v.id, source ? "unpublish of the source" : "unpublish of the target",
                code_name(s.error_code()) + ": " + s.error_message());
      finish(m, false);
      return;
    }
    auto timeout = static_cast<double>(config_.migration_timeout_seconds);
    auto lower = seconds_between(m->target_acked, sent);
    auto upper = seconds_between(m->target_sent, clock_type::now());
    // Which counters of the current incarnation this end moves: none when it ended before a
    // restart (the VolumeAttachment was gone when the new plugin listed them) or when the new
    // plugin counted its timeout at the rebuild; only the upper bounds when that is unsure.
    counters none, none_max;
    auto counted = incarnation == incarnation_ && !m->rebuild_certain;
    auto& exp = counted && !m->rebuild_ambiguous ? expect_ : none;
    auto& exp_max = counted ? expect_max_ : none_max;
    double& ended = source ? exp.success : exp.failed;
    double& ended_max = source ? exp_max.success : exp_max.failed;
    // A restart in between: the rebuilt timer runs from the newer VolumeAttachment's
    // publishedAt (target_sent/target_acked were set from it by follow_restart), not from the
    // harness's own send and answer.
    auto slack = m->incarnation == incarnation_ ? timer_slack_s : 0.3;
    if (upper < timeout - slack && m->rebuild_direction_unsure) {
      // Either result; exactly one of them.
      ++exp_max.success, ++exp_max.failed;
      if (counted)
        ++ambiguous_last_;
      ++(source ? result_.success : result_.failed);
    } else if (upper < timeout - slack) {
      ++ended, ++ended_max;
      ++(source ? result_.success : result_.failed);
    } else if (lower > timeout + slack) {
      ++exp.timeout, ++exp_max.timeout, ++result_.timeout;
      if (m->kind != scenario::timeout && m->incarnation == incarnation_)
        breach_of(v.id, "migration window",
                  "a migration meant to end in time outlived its timeout (the plugin "
                  "answered too slowly)");
    } else {
      ++ended_max, ++exp_max.timeout, ++result_.ambiguous;
      if (counted)
        ++ambiguous_last_;
    }
    if (m->kind == scenario::timeout && !(lower > timeout + slack)
        && m->incarnation == incarnation_)
      breach_of(v.id, "timeout scenario", "the target did not outlive the timeout");
    auto old_source = v.source;
    if (source)
      v.source = m->target;
    m->target_attached = false;
    auto kind = m->kind;
    finish(m);
    if (kind == scenario::node_deleted)
      restore_node(old_source, 0);
  };
  if (cluster_ != nullptr)
    detach_via_cluster(m->volume, node, done);
  else
    unpublish(v.id, node_name(static_cast<size_t>(node)), done);
}

std::string storm::pv_name(size_t volume) const {
  return config_.name_prefix + "-pv-" + std::to_string(volume);
}

// The writes of the attach/detach controller and the external-attacher (client/
// external_attacher), on a worker thread; the CSI call inside is the attacher's own.
void storm::attach_via_cluster(size_t volume, int node,
                               std::function<void(const grpc::Status&, uint64_t)> cb) {
  auto pv = pv_name(volume);
  auto name = node_name(static_cast<size_t>(node));
  auto sent = clock_type::now();
  cluster_->submit(
    [pv, name](client::external_attacher& attacher, services::kube::kube_client&) {
      attacher.create_attachment(pv, name);
      return attacher.attach(pv, name);
    },
    // The generation a job ran in is the plugin incarnation that answered it. The attacher
    // retries while the plugin cannot answer (it was killed): the whole attach again.
    [this, volume, node, cb, sent](const grpc::Status& s, uint64_t generation) {
      record(rpc::publish, sent, s);
      if (retryable(s)) {
        ++result_.retries;
        csi_.after(20ms, [this, volume, node, cb] { attach_via_cluster(volume, node, cb); });
        return;
      }
      cb(s, generation);
    });
}

void storm::detach_via_cluster(size_t volume, int node,
                               std::function<void(const grpc::Status&, uint64_t)> cb) {
  auto pv = pv_name(volume);
  auto name = node_name(static_cast<size_t>(node));
  auto sent = clock_type::now();
  cluster_->submit([pv, name](client::external_attacher& attacher,
                              services::kube::kube_client&) { return attacher.detach(pv, name); },
                   [this, volume, node, cb, sent](const grpc::Status& s, uint64_t generation) {
                     record(rpc::unpublish, sent, s);
                     if (retryable(s)) {
                       ++result_.retries;
                       csi_.after(
                         20ms, [this, volume, node, cb] { detach_via_cluster(volume, node, cb); });
                       return;
                     }
                     cb(s, generation);
                   });
}

void storm::create_persistent_volumes(std::function<void()> then) {
  if (cluster_ == nullptr) {
    then();
    return;
  }
  for_each_bounded(
    volumes_.size(), 64,
    [this](size_t i, std::function<void()> done) {
      auto& v = volumes_[i];
      if (v.id.empty()) {
        done();
        return;
      }
      auto body = client::kube_cluster::volume_json(
        pv_name(i), v.id, v.rwx ? "ReadWriteMany" : "ReadWriteOnce", v.rwx ? "Block" : "Filesystem",
        std::to_string(config_.migration_timeout_seconds));
      cluster_->submit(
        [body](client::external_attacher&, services::kube::kube_client& api) {
          auto r = client::api_call(api, "POST", "/api/v1/persistentvolumes", body);
          return r.status.ok() ? grpc::Status::OK : grpc::Status{grpc::INTERNAL, r.status.message};
        },
        [this, i, done](const grpc::Status& s, uint64_t) {
          if (!s.ok())
            breach_of(volumes_[i].id, "create the PersistentVolume", s.error_message());
          done();
        });
    },
    std::move(then));
}

void storm::finish(migration* m, bool) {
  auto& v = volumes_[m->volume];
  --publishes_to_[static_cast<size_t>(m->target)];
  --publishes_to_[static_cast<size_t>(m->third)];
  v.current = nullptr;
  (v.rwx ? idle_rwx_ : idle_rwo_).push_back(m->volume);
  delete m;
  --active_;
  ++finished_;
  result_.migration_done_at_s.push_back(
    static_cast<float>(seconds_between(run_start_, clock_type::now())));
  if (config_.audit_every > 0 && finished_ % config_.audit_every == 0)
    audit_one();
  if (finished_ == config_.migrations) {
    storming_ = false;
    return;
  }
  maybe_kill();
  start_more();
}

// A live check of one idle volume: the nodes the plugin has it published to are exactly the
// harness's (one node), and never more than one (RWO) or two (RWX).
void storm::audit_one() {
  if (idle_rwx_.empty())
    return;
  auto pick = std::uniform_int_distribution<size_t>{0, idle_rwx_.size() - 1}(rng_);
  auto index = idle_rwx_[pick];
  idle_rwx_[pick] = idle_rwx_.back();
  idle_rwx_.pop_back();
  ++active_; // holds a concurrency slot, so the storm's end waits for it
  auto check = std::make_shared<std::function<void(int)>>();
  *check = [this, index, weak = std::weak_ptr<std::function<void(int)>>(check)](int attempt) {
    auto check = weak.lock();
    hold_or_run([this, index, check, attempt] {
      ::csi::v1::ControllerGetVolumeRequest req;
      req.set_volume_id(volumes_[index].id);
      auto sent = clock_type::now();
      auto sent_to = incarnation_;
      csi_.get_volume(
        req, config_.rpc_deadline,
        [this, index, check, attempt, sent, sent_to](const grpc::Status& s,
                                                     ::csi::v1::ControllerGetVolumeResponse& r) {
          record(rpc::get_volume, sent, s);
          if ((sent_to != incarnation_ || retryable(s)) && attempt < 100) {
            csi_.after(std::chrono::milliseconds{20}, [check, attempt] { (*check)(attempt + 1); });
            return;
          }
          auto& v = volumes_[index];
          ++result_.audits;
          if (!s.ok()) {
            breach_of(v.id, "audit (ControllerGetVolume)",
                      code_name(s.error_code()) + ": " + s.error_message());
          } else {
            std::vector<std::string> nodes(r.status().published_node_ids().begin(),
                                           r.status().published_node_ids().end());
            if (nodes.size() != 1 || nodes[0] != node_name(static_cast<size_t>(v.source))) {
              std::string list;
              for (auto& n : nodes)
                list += (list.empty() ? "" : ",") + n;
              breach_of(v.id, "audit (ControllerGetVolume)",
                        "published to [" + list + "], the harness attached it to "
                          + node_name(static_cast<size_t>(v.source)));
            }
          }
          idle_rwx_.push_back(index);
          --active_;
          if (storming_)
            start_more();
        });
    });
  };
  (*check)(0);
}

void storm::final_audit(size_t next, std::function<void()> then) {
  auto total =
    config_.final_audit == 0 ? volumes_.size() : std::min(config_.final_audit, volumes_.size());
  // Spread over the whole range of volumes, RWX and RWO.
  auto stride = std::max<size_t>(1, volumes_.size() / std::max<size_t>(1, total));
  (void)next;
  for_each_bounded(
    total, 128,
    [this, stride](size_t k, std::function<void()> done) {
      auto index = (k * stride) % volumes_.size();
      auto& v = volumes_[index];
      if (v.id.empty() || v.source < 0) {
        done();
        return;
      }
      ::csi::v1::ControllerGetVolumeRequest req;
      req.set_volume_id(v.id);
      auto sent = clock_type::now();
      csi_.get_volume(
        req, config_.rpc_deadline,
        [this, index, sent, done](const grpc::Status& s,
                                  ::csi::v1::ControllerGetVolumeResponse& r) {
          record(rpc::get_volume, sent, s);
          auto& v = volumes_[index];
          ++result_.audits;
          std::vector<std::string> nodes(r.status().published_node_ids().begin(),
                                         r.status().published_node_ids().end());
          if (!s.ok())
            breach_of(v.id, "final audit", code_name(s.error_code()) + ": " + s.error_message());
          else if (nodes.size() != 1 || nodes[0] != node_name(static_cast<size_t>(v.source)))
            breach_of(v.id, "final audit",
                      std::to_string(nodes.size())
                        + " node(s) published; the harness attached it to "
                        + node_name(static_cast<size_t>(v.source)) + " only");
          done();
        });
    },
    std::move(then));
}

void storm::maybe_kill() {
  if (config_.kill_every == 0 || finished_ < next_kill_at_ || !control_.kill_and_restart || paused_)
    return;
  next_kill_at_ =
    finished_
    + std::uniform_int_distribution<size_t>{std::max<size_t>(1, config_.kill_every / 2),
                                            config_.kill_every + config_.kill_every / 2}(rng_);
  paused_ = true;
  auto killed_at = std::chrono::system_clock::now();
  // With an apiserver the attacher's jobs running at the kill end (their CSI calls fail and are
  // retried later) before the new plugin lists the VolumeAttachments.
  auto took = control_.kill_and_restart([this] {
    if (cluster_ != nullptr)
      cluster_->pause();
  });
  ++result_.kills;
  result_.restart_ms.push_back(static_cast<double>(took.count()));
  ++incarnation_;
  csi_.reconnect(control_.endpoint());
  expect_ = {};
  expect_max_ = {};
  baseline_ = {};
  ambiguous_last_ = 0;
  rebuild_certain_ = 0;
  rebuild_unsure_counted_ = 0;
  auto resume = [this] {
    paused_ = false;
    auto held = std::move(held_);
    held_.clear();
    for (auto& f : held)
      f();
    start_more();
  };
  if (cluster_ != nullptr) {
    // The new plugin rebuilds itself from the VolumeAttachments.
    follow_restart(killed_at);
    cluster_->resume(control_.endpoint());
    if (cluster_->generation() != incarnation_)
      breach_of("-", "restart", "the harness lost count of the plugin's incarnations");
    resume();
    return;
  }
  // Without a cluster the new plugin knows nothing: the harness tells it the attachments it
  // believes in (as the VolumeAttachments would), and from here on counts for it afresh.
  replay(resume);
}

namespace {
/// Seconds since the epoch of an RFC 3339 time in UTC ("2026-12-01T03:04:05Z"); -1 if unreadable.
double epoch_seconds(const char* text) {
  std::tm t{};
  if (text == nullptr || ::strptime(text, "%Y-%m-%dT%H:%M:%SZ", &t) == nullptr)
    return -1;
  return static_cast<double>(::timegm(&t));
}
int64_t epoch_ns(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
}
double seconds_of_ns(int64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

/// The publish context key the plugin stamps (messages/volume_context.hpp
/// publish_published_at_key) and the attacher copies into status.attachmentMetadata.
constexpr const char* published_at_key = "rds.csi.srvlab.io/publishedAt";

/// An attached VolumeAttachment as the plugin's rebuild reads it (services/kube/objects.cpp,
/// attachment_inventory.cpp), written here on its own so that the harness checks the plugin.
struct listed_attachment {
  std::string node;
  /// metadata.creationTimestamp, whole seconds, in ns since the epoch.
  int64_t created_ns = 0;
  /// status.attachmentMetadata publishedAt (ns since the epoch); 0 when absent or not a
  /// positive integer (the plugin ignores it then too).
  int64_t published_ns = 0;
  /// As attached_since(): the later of the two (the publish follows the creation).
  int64_t since_ns() const { return std::max(published_ns, created_ns); }
};

int64_t published_of(const rapidjson::Value& va) {
  if (!va.HasMember("status") || !va["status"].IsObject())
    return 0;
  auto& status = va["status"];
  if (!status.HasMember("attachmentMetadata") || !status["attachmentMetadata"].IsObject())
    return 0;
  auto& meta = status["attachmentMetadata"];
  if (!meta.HasMember(published_at_key) || !meta[published_at_key].IsString())
    return 0;
  auto& text = meta[published_at_key];
  int64_t value = 0;
  auto end = text.GetString() + text.GetStringLength();
  auto [ptr, error] = std::from_chars(text.GetString(), end, value);
  return error == std::errc{} && ptr == end && value > 0 ? value : 0;
}
} // namespace

void storm::follow_restart(std::chrono::system_clock::time_point killed_at) {
  client::csi_client probe{control_.endpoint()};
  if (!probe.wait_until_ready(std::chrono::seconds{60})) {
    breach_of("-", "restart", "the restarted plugin did not say ready within 60 s");
    return;
  }
  // What the new plugin listed: the VolumeAttachments (nothing writes them while the workers
  // are paused). Attached (being deleted or not) is a node; one still pending, with an attach
  // error, or being deleted without having been attached is not (services/kube/
  // attachment_inventory).
  auto listed = cluster_->get("/apis/storage.k8s.io/v1/volumeattachments");
  if (!listed.status.ok()) {
    breach_of("-", "restart", "cannot list the VolumeAttachments: " + listed.status.message);
    return;
  }
  rapidjson::Document doc;
  doc.Parse(listed.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("items")) {
    breach_of("-", "restart", "the VolumeAttachment list is not JSON with items");
    return;
  }
  // Per PersistentVolume, its attached VolumeAttachments in list order (the plugin's rebuild
  // sorts them stably by attached_since, so a tie keeps this order).
  std::map<std::string, std::vector<listed_attachment>> by_pv;
  for (auto& va : doc["items"].GetArray()) {
    auto& meta = va["metadata"];
    bool attached = va.HasMember("status") && va["status"].HasMember("attached")
                    && va["status"]["attached"].IsBool() && va["status"]["attached"].GetBool();
    if (!attached)
      continue;
    auto& spec = va["spec"]["source"];
    if (!spec.HasMember("persistentVolumeName"))
      continue;
    listed_attachment a;
    a.node = va["spec"]["nodeName"].GetString();
    auto created = epoch_seconds(meta["creationTimestamp"].GetString());
    a.created_ns = created < 0 ? 0 : static_cast<int64_t>(created) * 1000000000;
    a.published_ns = published_of(va);
    by_pv[spec["persistentVolumeName"].GetString()].push_back(std::move(a));
  }
  // The rebuilt migration's timer starts at the newer attachment's attached_since
  // (messages/cluster_state.cpp state_of: nodes[1] after the sort).
  auto newest_ns = [](const std::vector<listed_attachment>& nodes) {
    int64_t newest = 0;
    for (auto& a : nodes)
      newest = std::max(newest, a.since_ns());
    return newest;
  };
  auto timeout = static_cast<double>(config_.migration_timeout_seconds);
  auto killed_s = seconds_of_ns(epoch_ns(killed_at));
  size_t migrating = 0, past_timeout = 0;
  for (auto& [pv, nodes] : by_pv)
    if (nodes.size() == 2) {
      ++migrating;
      past_timeout += seconds_of_ns(newest_ns(nodes)) + timeout < killed_s - 0.3 ? 1 : 0;
    }
  // Its counters once the rebuild's have landed (they travel by messages): the gauge of active
  // migrations shows the volumes on two nodes. A rebuilt migration is not counted as started
  // again (its publish was counted by the incarnation that answered it); one already past its
  // timeout is counted as timed out at once.
  counters now;
  for (int attempt = 0; attempt < 30; ++attempt) {
    try {
      now = scrape();
    } catch (const std::exception&) {
    }
    if (now.active == static_cast<double>(migrating)
        && now.timeout >= static_cast<double>(past_timeout))
      break;
    usleep(100000);
  }
  auto scraped_at = seconds_of_ns(epoch_ns(std::chrono::system_clock::now()));
  if (now.active != static_cast<double>(migrating))
    breach_of("-", "restart",
              "the restarted plugin shows " + std::to_string(static_cast<long>(now.active))
                + " active migrations, the VolumeAttachments show " + std::to_string(migrating)
                + " volumes on two nodes");
  if (now.started != 0 || now.success != 0 || now.failed != 0)
    breach_of("-", "restart",
              "the restarted plugin counted migrations started or ended at its rebuild (started "
                + std::to_string(static_cast<long>(now.started)) + ", success "
                + std::to_string(static_cast<long>(now.success)) + ", failed "
                + std::to_string(static_cast<long>(now.failed)) + ")");
  result_.rebuilt_migrations += migrating;
  result_.rebuilt_timeouts += static_cast<uint64_t>(now.timeout);
  baseline_ = now;
  // The gauges are checked as absolute values.
  baseline_.attached = 0;
  baseline_.active = 0;
  auto wall_now_ns = epoch_ns(std::chrono::system_clock::now());
  auto steady_now = clock_type::now();
  size_t ambiguous = 0;
  for (size_t i = 0; i < volumes_.size(); ++i) {
    auto& v = volumes_[i];
    auto* m = v.current;
    if (m != nullptr)
      m->rebuild_certain = m->rebuild_ambiguous = m->rebuild_direction_unsure = false;
    auto found = by_pv.find(pv_name(i));
    if (found == by_pv.end() || found->second.size() < 2)
      continue;
    if (m == nullptr || !v.rwx) {
      breach_of(v.id, "restart",
                "on two nodes in the VolumeAttachments, and the harness has no migration on it");
      continue;
    }
    auto& nodes = found->second;
    // Which of them the plugin takes for the source: the smaller attached_since, a tie in list
    // order (stable sort). publishedAt has nanoseconds and the target's publish is asked only
    // after the source's was answered (and after the target's VolumeAttachment was created), so
    // with publishedAt on both the order is the real one, and the end counts exactly as without
    // a restart. It stays unsure (either result allowed, exactly one, counted as
    // rebuilt_direction_unsure) only when one of them has no publishedAt, so that its
    // attached_since is its whole-second creationTimestamp, and that does not put the source
    // strictly first: a tie, which the plugin breaks by list order, or a source published
    // later within the target's creation second. This harness's attacher always writes the
    // publish context with the attached status in one PATCH (client/external_attacher
    // mark_attached): a VolumeAttachment not yet patched when the plugin was killed is not
    // attached and not a node of the rebuild, so the case needs one attached without the key
    // (by a plugin before publishedAt, or an attacher that drops attachmentMetadata), which the
    // storms here never make.
    const listed_attachment* src = nullptr;
    const listed_attachment* tgt = nullptr;
    for (auto& a : nodes) {
      if (v.source >= 0 && a.node == node_name(static_cast<size_t>(v.source)))
        src = &a;
      else if (m->target >= 0 && a.node == node_name(static_cast<size_t>(m->target)))
        tgt = &a;
    }
    if (nodes.size() != 2 || src == nullptr || tgt == nullptr) {
      std::string list;
      for (auto& a : nodes)
        list += (list.empty() ? "" : ",") + a.node;
      breach_of(v.id, "restart",
                "the VolumeAttachments show it on [" + list + "], the harness migrates it from "
                  + (v.source >= 0 ? node_name(static_cast<size_t>(v.source)) : "-") + " to "
                  + (m->target >= 0 ? node_name(static_cast<size_t>(m->target)) : "-"));
      m->rebuild_direction_unsure = true;
    } else if (src->published_ns > 0 && tgt->published_ns > 0) {
      if (tgt->since_ns() <= src->since_ns())
        breach_of(v.id, "restart",
                  "the target's VolumeAttachment says publishedAt "
                    + std::to_string(tgt->published_ns) + ", not after the source's "
                    + std::to_string(src->published_ns)
                    + ": the rebuilt plugin takes the target for the source");
    } else {
      m->rebuild_direction_unsure = !(src->since_ns() < tgt->since_ns());
    }
    result_.rebuilt_direction_unsure += m->rebuild_direction_unsure ? 1 : 0;
    // What the harness allowed before the plugin stamped publishedAt: the creation seconds only.
    result_.rebuilt_same_second +=
      src != nullptr && tgt != nullptr && src->created_ns == tgt->created_ns ? 1 : 0;
    result_.rebuilt_unpublished += (src != nullptr && src->published_ns == 0 ? 1 : 0)
                                   + (tgt != nullptr && tgt->published_ns == 0 ? 1 : 0);
    // The rebuilt timer runs from the newer attached_since.
    auto start_ns = newest_ns(nodes);
    m->target_sent = m->target_acked = steady_now
                                       - std::chrono::duration_cast<clock_type::duration>(
                                         std::chrono::nanoseconds{wall_now_ns - start_ns});
    auto deadline = seconds_of_ns(start_ns) + timeout;
    if (deadline < killed_s - 0.3) {
      m->rebuild_certain = true;
      ++rebuild_certain_;
    } else if (deadline <= scraped_at + 0.3) {
      m->rebuild_ambiguous = true;
      ++ambiguous;
    }
  }
  if (now.timeout >= static_cast<double>(rebuild_certain_))
    rebuild_unsure_counted_ = static_cast<size_t>(now.timeout) - rebuild_certain_;
  if (now.timeout < static_cast<double>(rebuild_certain_)
      || now.timeout > static_cast<double>(rebuild_certain_ + ambiguous))
    breach_of("-", "restart",
              "the restarted plugin counts " + std::to_string(static_cast<long>(now.timeout))
                + " timeouts at once; " + std::to_string(rebuild_certain_) + " to "
                + std::to_string(rebuild_certain_ + ambiguous)
                + " of the migrations it rebuilt were past their timeout");
}

void storm::replay(std::function<void()> then) {
  for_each_bounded(
    volumes_.size(), 256,
    [this](size_t i, std::function<void()> done) {
      auto& v = volumes_[i];
      if (v.id.empty() || v.source < 0) {
        done();
        return;
      }
      // Sent directly (not held): these are what the pause waits for.
      auto send = std::make_shared<std::function<void(int, bool)>>();
      *send = [this, i, done,
               weak = std::weak_ptr<std::function<void(int, bool)>>(send)](int node, bool target) {
        auto send = weak.lock();
        auto& v = volumes_[i];
        ::csi::v1::ControllerPublishVolumeRequest req;
        req.set_volume_id(v.id);
        req.set_node_id(node_name(static_cast<size_t>(node)));
        *req.mutable_volume_capability() = capability(v.rwx);
        (*req.mutable_volume_context())["migrationTimeoutSeconds"] =
          std::to_string(config_.migration_timeout_seconds);
        auto sent = clock_type::now();
        csi_.publish(req, config_.rpc_deadline,
                     [this, i, done, send, node, target,
                      sent](const grpc::Status& s, ::csi::v1::ControllerPublishVolumeResponse&) {
                       record(rpc::publish, sent, s);
                       auto& v = volumes_[i];
                       if (retryable(s)) {
                         csi_.after(20ms, [send, node, target] { (*send)(node, target); });
                         return;
                       }
                       if (!s.ok()) {
                         breach_of(v.id, "re-attach after a restart",
                                   code_name(s.error_code()) + ": " + s.error_message());
                         done();
                         return;
                       }
                       auto* m = v.current;
                       if (target) {
                         m->target_sent = sent;
                         m->target_acked = clock_type::now();
                         ++expect_.started, ++expect_max_.started;
                         done();
                       } else if (m != nullptr && m->target_attached) {
                         (*send)(m->target, true);
                       } else {
                         done();
                       }
                     });
      };
      (*send)(v.source, false);
    },
    std::move(then));
}

counters storm::scrape() {
  counters c;
  auto text = client::http_get(control_.metrics_url());
  auto value = [&](const char* series) { return client::metric_value(text, series); };
  c.started = value("rds_csi_migration_started_total");
  c.success = value("rds_csi_migration_migrations_total{result=\"success\"}");
  c.failed = value("rds_csi_migration_migrations_total{result=\"failed\"}");
  c.timeout = value("rds_csi_migration_migrations_total{result=\"timeout\"}");
  c.conflicts = value("rds_csi_attachment_conflicts_total");
  c.active = value("rds_csi_migration_active_migrations");
  c.attached = value("rds_csi_attachment_attached_volumes");
  return c;
}

// The plugin's counters against the harness's own, for the incarnation that runs now. Metrics
// are recorded by messages, so a scrape may trail the last answer by a moment: read again for
// up to 5 s before calling it a breach.
void storm::check_counters() {
  size_t attached = 0;
  for (auto& v : volumes_)
    attached += v.source >= 0 ? 1 : 0;
  counters want = expect_, want_max = expect_max_;
  want.attached = want_max.attached = static_cast<double>(attached);
  want.active = want_max.active = 0;
  // What the plugin showed before the harness began (a running plugin's earlier work; 0 for one
  // the harness started or restarted).
  for (auto* c : {&want, &want_max}) {
    c->started += baseline_.started, c->success += baseline_.success;
    c->failed += baseline_.failed, c->timeout += baseline_.timeout;
    c->conflicts += baseline_.conflicts, c->attached += baseline_.attached;
    c->active += baseline_.active;
  }
  result_.expected_last = want;
  result_.expected_last_max = want_max;
  std::vector<std::string> problems;
  for (int attempt = 0; attempt < 50; ++attempt) {
    problems.clear();
    try {
      result_.observed = scrape();
    } catch (const std::exception& e) {
      problems.push_back(std::string{"cannot read /metrics: "} + e.what());
      usleep(100000);
      continue;
    }
    auto& o = result_.observed;
    auto check = [&](const char* name, double got, double lo, double hi) {
      if (got < lo || got > hi) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s: plugin %.0f, harness %.0f%s", name, got, lo,
                      hi > lo ? (" to " + std::to_string(static_cast<long>(hi))).c_str() : "");
        problems.push_back(buf);
      }
    };
    check("rds_csi_migration_started_total", o.started, want.started, want_max.started);
    check("migrations_total{result=success}", o.success, want.success, want_max.success);
    check("migrations_total{result=failed}", o.failed, want.failed, want_max.failed);
    check("migrations_total{result=timeout}", o.timeout, want.timeout, want_max.timeout);
    check("rds_csi_attachment_conflicts_total", o.conflicts, want.conflicts, want_max.conflicts);
    check("rds_csi_migration_active_migrations", o.active, want.active, want.active);
    check("rds_csi_attachment_attached_volumes", o.attached, want.attached, want.attached);
    // One result per migration: success + failed + timeout together are exact.
    auto ended = o.success + o.failed + o.timeout;
    // Less, with an apiserver, the migrations rebuilt too close to their timeout that the
    // restarted plugin counted at once (in its starting counters; their end counts nothing).
    auto counted_at_rebuild = static_cast<double>(rebuild_unsure_counted_);
    auto want_ended = want_max.success + want_max.failed + want_max.timeout
                      - static_cast<double>(ambiguous_last_) - counted_at_rebuild;
    check("success + failed + timeout", ended, want_ended, want_ended);
    if (problems.empty())
      break;
    usleep(100000);
  }
  result_.counters_checked = true;
  for (auto& p : problems)
    breach_of("-", "counters at the end", p);
}

// Every volume actor's state, as the inspection port shows it, against the attachments the
// harness made (what the VolumeAttachments would be): the same single node for each of the
// harness's volumes, none migrating, no anomaly.
void storm::check_inspection() {
  auto base = control_.debug_url ? control_.debug_url() : "";
  if (base.empty())
    return;
  std::map<std::string, const volume*> ours;
  for (auto& v : volumes_)
    if (!v.id.empty())
      ours[v.id] = &v;
  std::string next;
  int64_t seen = 0;
  for (;;) {
    std::string body;
    try {
      body = client::http_get(base + "/debug/volumes?limit=500"
                              + (next.empty() ? "" : "&continue=" + next));
    } catch (const std::exception& e) {
      breach_of("-", "inspection port", e.what());
      return;
    }
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("volumes")
        || !doc["volumes"].IsArray()) {
      breach_of("-", "inspection port", "/debug/volumes is not the documented JSON");
      return;
    }
    for (auto& item : doc["volumes"].GetArray()) {
      if (!item.IsObject() || !item.HasMember("volume_id") || !item["volume_id"].IsString())
        continue;
      auto found = ours.find(item["volume_id"].GetString());
      if (found == ours.end())
        continue;
      ++seen;
      auto& v = *found->second;
      std::vector<std::string> nodes;
      if (item.HasMember("nodes") && item["nodes"].IsArray())
        for (auto& n : item["nodes"].GetArray())
          if (n.IsObject() && n.HasMember("node_id") && n["node_id"].IsString())
            nodes.emplace_back(n["node_id"].GetString());
      auto want = v.source >= 0 ? node_name(static_cast<size_t>(v.source)) : "";
      if (nodes.size() != (want.empty() ? 0u : 1u) || (!want.empty() && nodes[0] != want))
        breach_of(v.id, "inspection port at the end",
                  std::to_string(nodes.size())
                    + " node(s) in the volume actor; the harness's "
                      "attachment is "
                    + (want.empty() ? "none" : want));
      if (item.HasMember("migrating") && item["migrating"].IsBool() && item["migrating"].GetBool())
        breach_of(v.id, "inspection port at the end", "still migrating after the storm");
      if (item.HasMember("anomaly") && item["anomaly"].IsBool() && item["anomaly"].GetBool())
        breach_of(v.id, "inspection port at the end", "marked as an anomaly");
      ours.erase(found);
    }
    if (!doc.HasMember("continue") || !doc["continue"].IsString()
        || doc["continue"].GetStringLength() == 0)
      break;
    next = doc["continue"].GetString();
  }
  // A volume the harness attached that the plugin does not list has lost its attachment.
  for (auto& [id, v] : ours)
    if (v->source >= 0)
      breach_of(id, "inspection port at the end",
                "not listed; the harness attached it to "
                  + node_name(static_cast<size_t>(v->source)));
  result_.inspected = seen;
}

void storm::progress() {
  auto now = clock_type::now();
  auto elapsed = seconds_between(storm_start_, now);
  auto rate = elapsed > 0 ? static_cast<double>(finished_) / elapsed : 0;
  auto total = std::max<size_t>(1, config_.migrations);
  if (config_.terminal) {
    constexpr int width = 30;
    auto filled = static_cast<int>(width * finished_ / total);
    std::string bar(static_cast<size_t>(filled), '#');
    bar += std::string(static_cast<size_t>(width - filled), '.');
    std::fprintf(stdout,
                 "\r[%s] %zu/%zu migrations  %.0f/s  in flight %zu  kills %llu  breaches %zu ",
                 bar.c_str(), finished_, config_.migrations, rate, active_,
                 static_cast<unsigned long long>(result_.kills), result_.breaches.size());
  } else {
    std::fprintf(stdout,
                 "progress: %zu/%zu migrations, %.0f/s, in flight %zu, kills %llu, breaches %zu\n",
                 finished_, config_.migrations, rate, active_,
                 static_cast<unsigned long long>(result_.kills), result_.breaches.size());
  }
  std::fflush(stdout);
}

storm_result storm::run() {
  run_start_ = clock_type::now();
  std::function<void()> tick;
  auto pid = control_.pid ? control_.pid() : -1;
  if (pid > 0)
    result_.rss_start_kb = rss_kb(pid);
  double harness_cpu0 = 0, plugin_cpu0 = -1;
  try {
    baseline_ = scrape();
    // A series the plugin does not show yet reads -1.
    for (auto* v : {&baseline_.started, &baseline_.success, &baseline_.failed, &baseline_.timeout,
                    &baseline_.conflicts, &baseline_.active, &baseline_.attached})
      *v = std::max(0.0, *v);
  } catch (const std::exception& e) {
    breach_of("-", "metrics before the storm", e.what());
  }
  pid_t storm_pid = -1;

  // Probe under load: one every 20 ms while the storm runs, beside the idle ones.
  std::function<void()> probe_tick = [&] {
    if (!storming_)
      return;
    auto sent = clock_type::now();
    hold_or_run([&, sent] {
      csi_.probe(config_.rpc_deadline,
                 [this, sent](const grpc::Status& s, ::csi::v1::ProbeResponse&) {
                   record(rpc::probe, sent, s);
                 });
    });
    csi_.after(20ms, probe_tick);
  };
  std::function<void()> progress_tick = [&] {
    if (done_)
      return;
    if (storming_)
      progress();
    csi_.after(config_.progress_interval, progress_tick);
  };
  auto end = [&] {
    result_.storm_seconds = seconds_between(storm_start_, clock_type::now());
    result_.harness_cpu_s = own_cpu_seconds() - harness_cpu0;
    if (storm_pid > 0 && storm_pid == (control_.pid ? control_.pid() : -1) && plugin_cpu0 >= 0)
      result_.plugin_cpu_s = cpu_seconds_of(storm_pid) - plugin_cpu0;
    progress();
    if (config_.terminal)
      std::fputc('\n', stdout);
    final_audit(0, [&] {
      if (control_.pid && control_.pid() > 0)
        result_.rss_end_kb = rss_kb(control_.pid());
      check_counters();
      check_inspection();
      if (!node_ops()) {
        done_ = true;
        csi_.stop();
        return;
      }
      // --node: where the device nodes are, then every volume taken off its node again (the
      // loop devices go with the unstage).
      check_node_targets();
      for_each_bounded(
        volumes_.size(), 16,
        [this](size_t i, std::function<void()> done) {
          auto& v = volumes_[i];
          if (v.id.empty() || !v.rwx || v.source < 0) {
            done();
            return;
          }
          node_detach(i, v.source, [done](bool) { done(); });
        },
        [this] {
          done_ = true;
          csi_.stop();
        });
    });
  };
  std::function<void()> wait_end = [&] {
    if (!storming_ && active_ == 0 && !paused_) {
      end();
      return;
    }
    if (seconds_between(storm_start_, clock_type::now())
        > static_cast<double>(config_.max_duration.count())) {
      breach_of("-", "storm",
                "did not finish within --max-duration (" + std::to_string(finished_) + " of "
                  + std::to_string(config_.migrations) + " migrations)");
      storming_ = false;
      done_ = true;
      csi_.stop();
      return;
    }
    csi_.after(5ms, wait_end);
  };

  create_volumes([&] {
    create_persistent_volumes([&] {
      attach_all([&] {
        stage_sources([&] {
          result_.setup_seconds = seconds_between(run_start_, clock_type::now());
          if (control_.pid && control_.pid() > 0)
            result_.rss_attached_kb = rss_kb(control_.pid());
          // --idle-seconds: the volumes stay idle (the plugin's actors may hibernate), then the
          // RSS is read again.
          csi_.after(std::chrono::seconds{config_.idle_seconds}, [&] {
            if (config_.idle_seconds > 0 && control_.pid && control_.pid() > 0)
              result_.rss_idle_kb = rss_kb(control_.pid());
            measure_probe(config_.probes, [&] {
              storm_start_ = clock_type::now();
              harness_cpu0 = own_cpu_seconds();
              storm_pid = control_.pid ? control_.pid() : -1;
              if (storm_pid > 0)
                plugin_cpu0 = cpu_seconds_of(storm_pid);
              next_kill_at_ = config_.kill_every;
              storming_ = config_.migrations > 0;
              progress_tick();
              probe_tick();
              start_more();
              wait_end();
            });
          });
        });
      });
    });
  });
  csi_.run();
  return std::move(result_);
}

} // namespace rds::migrate_load
