// Transitions of the volume actor; see the diagram in volume.hpp.
#include "actors/volume.hpp"

#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string_view>
#include <utility>

#include "services/log/log.hpp"

namespace rds::actors {

const char* to_string(operation_kind kind) {
  switch (kind) {
  case operation_kind::publish:
    return "publish";
  case operation_kind::unpublish:
    return "unpublish";
  case operation_kind::follow_attach:
    return "follow-attach";
  case operation_kind::follow_detach:
    return "follow-detach";
  case operation_kind::follow_list:
    return "follow-list";
  case operation_kind::timer:
    return "timer";
  case operation_kind::restart:
    return "restart";
  }
  return "unknown";
}

void operation_ring::record(operation_kind kind, const std::string& node_id, ec result,
                            caf::timespan duration, caf::timestamp at) {
  record_type r;
  r.at_ns = at.time_since_epoch().count();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  r.duration_us = static_cast<uint32_t>(std::clamp<int64_t>(us, 0, UINT32_MAX));
  r.kind = kind;
  r.result = result;
  if (records_.size() < volume_operation_ring) {
    r.node = node_id.empty() ? no_node : node_index(node_id);
    if (records_.capacity() == records_.size())
      // One record at first (most volumes stay idle after one operation), then four more at a time.
      records_.reserve(records_.empty() ? 1 : std::min(volume_operation_ring, records_.size() + 4));
    records_.push_back(r);
    return;
  }
  // Give up the oldest record first, so that its node name may be reused.
  records_[oldest_].node = no_node;
  r.node = node_id.empty() ? no_node : node_index(node_id);
  records_[oldest_] = r;
  oldest_ = static_cast<uint8_t>((oldest_ + 1) % volume_operation_ring);
}

namespace {

/// Node names longer than this are cut in the ring (Kubernetes node names have at most 253).
constexpr size_t max_ring_name = 0xffff;

size_t name_length(const std::string& names, size_t pos) {
  return static_cast<unsigned char>(names[pos])
         | (static_cast<size_t>(static_cast<unsigned char>(names[pos + 1])) << 8);
}

} // namespace

std::string operation_ring::name_at(uint8_t index) const {
  size_t pos = 0;
  for (uint8_t i = 0; i < index && pos < names_.size(); ++i)
    pos += 2 + name_length(names_, pos);
  if (pos >= names_.size())
    return {};
  return names_.substr(pos + 2, name_length(names_, pos));
}

uint8_t operation_ring::node_index(const std::string& node_id) {
  auto name = std::string_view{node_id}.substr(0, max_ring_name);
  std::string entry;
  entry.reserve(2 + name.size());
  entry.push_back(static_cast<char>(name.size() & 0xff));
  entry.push_back(static_cast<char>(name.size() >> 8));
  entry.append(name);
  size_t count = 0;
  for (size_t pos = 0; pos < names_.size(); pos += 2 + name_length(names_, pos), ++count)
    if (std::string_view{names_}.substr(pos, entry.size()) == entry)
      return static_cast<uint8_t>(count);
  if (count < volume_operation_ring) {
    names_ += entry;
    return static_cast<uint8_t>(count);
  }
  uint64_t used = 0;
  for (auto& r : records_)
    if (r.node != no_node)
      used |= uint64_t{1} << r.node;
  size_t pos = 0;
  for (size_t i = 0; i < count; ++i) {
    auto length = 2 + name_length(names_, pos);
    if ((used & (uint64_t{1} << i)) == 0) {
      names_.replace(pos, length, entry);
      return static_cast<uint8_t>(i);
    }
    pos += length;
  }
  return no_node; // unreachable: at most 31 other records use a name
}

std::vector<volume_operation> operation_ring::recent() const {
  std::vector<volume_operation> out;
  out.reserve(records_.size());
  auto start = records_.size() < volume_operation_ring ? 0 : size_t{oldest_};
  for (size_t n = 0; n < records_.size(); ++n) {
    auto& r = records_[(start + n) % records_.size()];
    volume_operation op;
    op.kind = to_string(r.kind);
    if (r.node != no_node)
      op.node_id = name_at(r.node);
    op.result = to_string(r.result);
    op.duration = std::chrono::microseconds{r.duration_us};
    op.at = caf::timestamp{caf::timestamp::duration{r.at_ns}};
    out.push_back(std::move(op));
  }
  return out;
}

size_t operation_ring::heap_bytes() const {
  auto bytes = records_.capacity() * sizeof(record_type);
  if (names_.capacity() > 15) // beyond the short-string buffer
    bytes += names_.capacity() + 1;
  return bytes;
}

namespace {

using self_pointer = volume_actor::stateful_pointer<volume_state>;

clock_offset now_of(self_pointer self) {
  return std::chrono::duration_cast<caf::timespan>(self->clock().now().time_since_epoch());
}

double seconds_of(caf::timespan t) {
  return std::chrono::duration<double>(t).count();
}

/// "42s", "1.5s": durations in Event messages.
std::string text_of(caf::timespan t) {
  std::ostringstream out;
  out << std::setprecision(3) << seconds_of(t) << "s";
  return out.str();
}

/// A state change for the live feed (/debug/stream), in the notes.
void tell(self_pointer self, const char* kind, std::vector<std::string> nodes,
          std::string result = {}, std::string detail = {}) {
  state_change change;
  change.at = caf::make_timestamp();
  change.kind = kind;
  change.volume_id = self->state.attachment.volume_id;
  change.nodes = std::move(nodes);
  change.result = std::move(result);
  change.detail = std::move(detail);
  self->state.notes.changes.push_back(std::move(change));
}

/// The names of the attached nodes, in order.
std::vector<std::string> node_names(const attachment_state& st) {
  std::vector<std::string> names;
  names.reserve(st.nodes.size());
  for (auto& n : st.nodes)
    names.push_back(n.node_id);
  return names;
}

/// An Event on the volume's PVC, in the notes.
void notify(self_pointer self, const char* reason, bool warning, std::string message) {
  self->state.notes.events.push_back(
    volume_event{self->state.attachment.volume_id, reason, warning, std::move(message)});
}

/// An attach or detach operation for the metrics, in the notes.
void record(self_pointer self, attachment_operation operation, clock_offset began) {
  self->state.notes.recorded.push_back(attachment_recorded{operation, now_of(self) - began});
}

/// The notes gathered so far, handed over (the actor keeps none).
volume_notes take_notes(self_pointer self) {
  return std::exchange(self->state.notes, volume_notes{});
}

/// Makes sure a timer fires no later than `due` (on the actor clock): a pending timer due no
/// later is kept (when it fires it re-arms itself for the running migration's deadline), else
/// a new one supersedes it.
void arm_migration_timer(self_pointer self, clock_offset due) {
  auto& st = self->state;
  if (st.timer_pending && st.timer_due <= due)
    return;
  st.timer_pending = true;
  st.timer_due = due;
  auto delay = std::max(due - now_of(self), caf::timespan{0});
  self->delayed_send(self, delay, migration_timer_atom_v, ++st.timer_number);
}

outcome attach_first(self_pointer self, const publish_request& req, clock_offset now) {
  auto& st = self->state.attachment;
  st.access = req.capability.access;
  st.nodes.push_back({req.node_id, req.capability, now});
  record(self, attachment_operation::attach, now);
  log::info(log::volume(st.volume_id), log::node(req.node_id), "attached");
  notify(self, "VolumeAttached", false, "attached to node " + req.node_id);
  tell(self, "attach", {req.node_id});
  return outcome::success();
}

outcome refuse(self_pointer self, const publish_request& req, const metrics_actor& metrics) {
  auto& st = self->state.attachment;
  self->send(metrics, conflict_atom_v);
  std::string message = "volume " + st.volume_id + " is attached to node ";
  if (st.nodes.size() >= 2)
    message = "volume " + st.volume_id + " is already attached to nodes " + st.node_list()
              + " (a live migration is in progress); node " + req.node_id
              + " would be a third node";
  else if (st.access == access_kind::single_node)
    message += st.node_list() + "; it cannot also attach to node " + req.node_id
               + " because its access mode allows a single node (for two nodes during a "
                 "live migration use MULTI_NODE_MULTI_WRITER with a block volume)";
  else
    message += st.node_list() + " as an RWX block volume; node " + req.node_id
               + " asked for a single-node access mode";
  log::warning(log::volume(st.volume_id), log::node(req.node_id), "refused publish: ", message);
  notify(self, "AttachmentConflict", true, message);
  auto nodes = node_names(st);
  nodes.push_back(req.node_id);
  tell(self, "conflict_refused", std::move(nodes), {}, message);
  return outcome::failure(ec::attached_elsewhere, std::move(message));
}

/// The two attached nodes are a migration since `started_at`: a new generation, its timer armed
/// for what is left of `timeout`. Every way a migration starts (a publish, a followed attach, an
/// anomaly that shrank to two nodes) goes through here.
void begin_migration(self_pointer self, clock_offset started_at, caf::timespan timeout) {
  auto& st = self->state.attachment;
  st.migrating = true;
  st.migration.generation += 1;
  st.migration.started_at = started_at;
  st.migration.timeout = timeout;
  st.migration.timed_out = false;
  arm_migration_timer(self, started_at + timeout);
}

outcome start_migration(self_pointer self, const publish_request& req, clock_offset now,
                        const metrics_actor& metrics) {
  auto& st = self->state.attachment;
  st.nodes.push_back({req.node_id, req.capability, now});
  begin_migration(self, now, req.migration_timeout);
  record(self, attachment_operation::attach_secondary, now);
  self->send(metrics, migration_started_atom_v);
  notify(self, "MigrationStarted", false,
         "live migration started: source " + st.nodes[0].node_id + ", target " + req.node_id
           + ", timeout " + text_of(req.migration_timeout));
  tell(self, "attach", {req.node_id});
  tell(self, "migration_started", {st.nodes[0].node_id, req.node_id}, {},
       "timeout " + text_of(req.migration_timeout));
  log::info(log::volume(st.volume_id), log::node(req.node_id), "migration started from node ",
            st.nodes[0].node_id, ", timeout ", seconds_of(req.migration_timeout), "s");
  return outcome::success();
}

/// Ends the running migration; `result` is counted only if the timer has not counted one.
void end_migration(self_pointer self, migration_result result, clock_offset now,
                   const metrics_actor& metrics) {
  auto& st = self->state.attachment;
  auto duration = now - st.migration.started_at;
  if (!st.migration.timed_out)
    self->send(metrics, migration_result_recorded{result});
  self->send(metrics, migration_ended{duration});
  st.migrating = false;
  auto& source = st.nodes[0].node_id;
  auto& target = st.nodes[1].node_id;
  auto late = st.migration.timed_out ? " (it had exceeded its timeout)" : "";
  if (result == migration_result::success)
    notify(self, "MigrationCompleted", false,
           "live migration completed: source " + source + " -> target " + target + " after "
             + text_of(duration) + late);
  else
    notify(self, "MigrationFailed", true,
           "live migration from " + source + " to " + target + " was rolled back after "
             + text_of(duration) + late);
  tell(self, "migration_ended", {source, target}, to_string(result),
       "after " + text_of(duration) + late);
  log::info(log::volume(st.volume_id), "migration ended: ", to_string(result),
            st.migration.timed_out ? " (after timing out)" : "", ", after ", seconds_of(duration),
            "s");
}

outcome publish(self_pointer self, const publish_request& req, const metrics_actor& metrics) {
  auto now = now_of(self);
  auto& st = self->state.attachment;
  for (auto& n : st.nodes) {
    if (n.node_id != req.node_id)
      continue;
    if (n.capability != req.capability)
      return outcome::failure(ec::incompatible_attachment,
                              "volume " + st.volume_id + " is already published to node "
                                + req.node_id + " with a different capability");
    return outcome::success();
  }
  if (!st.attached())
    return attach_first(self, req, now);
  if (st.access != access_kind::multi_node_block
      || req.capability.access != access_kind::multi_node_block || st.nodes.size() >= 2)
    return refuse(self, req, metrics);
  return start_migration(self, req, now, metrics);
}

outcome unpublish_all(self_pointer self, const metrics_actor& metrics) {
  auto now = now_of(self);
  auto& st = self->state.attachment;
  if (!st.attached())
    return outcome::success();
  if (st.migrating)
    end_migration(self, migration_result::failed, now, metrics);
  tell(self, "detach", node_names(st));
  st.nodes.clear();
  record(self, attachment_operation::detach, now);
  log::info(log::volume(st.volume_id), "detached from every node");
  notify(self, "VolumeDetached", false, "detached from every node");
  return outcome::success();
}

/// `via_csi`: a ControllerUnpublish (counted as a detach operation), not a change followed from
/// Kubernetes (counted in reconcile_total instead).
outcome unpublish(self_pointer self, const unpublish_request& req, const metrics_actor& metrics,
                  bool via_csi = true) {
  if (req.node_id.empty())
    return unpublish_all(self, metrics);
  auto now = now_of(self);
  auto& st = self->state.attachment;
  auto i = std::find_if(st.nodes.begin(), st.nodes.end(),
                        [&](const attached_node& n) { return n.node_id == req.node_id; });
  if (i == st.nodes.end())
    return outcome::success();
  if (st.nodes.size() == 1) {
    st.nodes.clear();
    if (via_csi)
      record(self, attachment_operation::detach, now);
    log::info(log::volume(st.volume_id), log::node(req.node_id), "detached");
    notify(self, "VolumeDetached", false, "detached from node " + req.node_id);
    tell(self, "detach", {req.node_id});
    return outcome::success();
  }
  auto source_left = i == st.nodes.begin();
  if (st.migrating)
    end_migration(self, source_left ? migration_result::success : migration_result::failed, now,
                  metrics);
  st.nodes.erase(i);
  tell(self, "detach", {req.node_id});
  if (st.nodes.size() == 2 && st.access == access_kind::multi_node_block) {
    // An anomaly (more than two nodes, found in Kubernetes) shrank to two: from here on it is
    // a migration that started when the newer node attached.
    begin_migration(self, st.nodes[1].attached_at, st.migration.timeout);
    tell(self, "migration_started", node_names(st), {},
         "an attachment to more than two nodes shrank to two");
  }
  if (via_csi)
    record(self, attachment_operation::detach_partial, now);
  return outcome::success();
}

/// Adds a node Kubernetes shows attached and the actor did not have.
void follow_attach(self_pointer self, const std::string& node_id,
                   const publish_capability& capability, caf::timespan migration_timeout,
                   clock_offset attached_at, const metrics_actor& metrics) {
  auto& st = self->state.attachment;
  auto now = now_of(self);
  self->send(metrics, reconciled{"attach"});
  if (!st.attached()) {
    st.access = capability.access;
    st.nodes.push_back({node_id, capability, attached_at});
    log::info(log::volume(st.volume_id), log::node(node_id), "follows Kubernetes: attached");
    notify(self, "VolumeAttached", false, "attached to node " + node_id + " (seen in Kubernetes)");
    tell(self, "attach", {node_id}, {}, "seen in Kubernetes");
    return;
  }
  st.nodes.push_back({node_id, capability, attached_at});
  tell(self, "attach", {node_id}, {}, "seen in Kubernetes");
  if (st.nodes.size() == 2 && st.access == access_kind::multi_node_block
      && capability.access == access_kind::multi_node_block) {
    begin_migration(self, attached_at, migration_timeout);
    self->send(metrics, migration_started_atom_v);
    notify(self, "MigrationStarted", false,
           "live migration started: source " + st.nodes[0].node_id + ", target " + node_id
             + ", timeout " + text_of(migration_timeout) + " (seen in Kubernetes)");
    tell(self, "migration_started", {st.nodes[0].node_id, node_id}, {},
         "timeout " + text_of(migration_timeout) + " (seen in Kubernetes)");
    log::info(log::volume(st.volume_id), log::node(node_id),
              "follows Kubernetes: migration from node ", st.nodes[0].node_id);
    return;
  }
  st.migrating = false;
  self->send(metrics, anomaly_atom_v);
  log::warning(log::volume(st.volume_id), "attached to nodes ", st.node_list(),
               " in Kubernetes, more than its access mode allows; kept as the truth, further "
               "publishes are refused until it resolves");
}

/// Removes a node whose VolumeAttachment is gone.
void follow_detach(self_pointer self, const std::string& node_id, const metrics_actor& metrics) {
  self->send(metrics, reconciled{"detach"});
  log::info(log::volume(self->state.attachment.volume_id), log::node(node_id),
            "follows Kubernetes: detached");
  unpublish(self, unpublish_request{self->state.attachment.volume_id, node_id}, metrics, false);
}

/// How long a node attached by a CSI publish outlives a list that does not show its volume.
constexpr caf::timespan unlisted_grace = std::chrono::seconds{30};

clock_offset offset_of(self_pointer self, caf::timestamp since) {
  auto age = std::chrono::duration_cast<caf::timespan>(caf::make_timestamp() - since);
  return now_of(self) - std::max(age, caf::timespan{0});
}

void follow(self_pointer self, const observed_volume& observed, const metrics_actor& metrics) {
  auto& st = self->state.attachment;
  auto listed = [&](const std::string& node_id) {
    for (auto& n : observed.nodes)
      if (n.node_id == node_id)
        return true;
    return std::find(observed.pending.begin(), observed.pending.end(), node_id)
           != observed.pending.end();
  };
  std::vector<std::string> stale;
  auto now = now_of(self);
  // A list is a snapshot: what a CSI call changed after it was taken is newer than the list.
  auto taken = observed.listed_at.time_since_epoch().count() > 0;
  auto list_start = taken ? offset_of(self, observed.listed_at) : clock_offset{0};
  for (auto& n : st.nodes) {
    if (listed(n.node_id))
      continue;
    if (taken && n.attached_at >= list_start) {
      log::info(log::volume(st.volume_id), log::node(n.node_id),
                "attached after the list of VolumeAttachments was taken; kept");
      continue;
    }
    if (observed.unlisted && now - n.attached_at < unlisted_grace) {
      log::info(log::volume(st.volume_id), log::node(n.node_id),
                "not in the list of VolumeAttachments, but attached ",
                seconds_of(now - n.attached_at),
                "s ago; kept (its VolumeAttachment may wait for its PersistentVolume)");
      continue;
    }
    stale.push_back(n.node_id);
  }
  for (auto& node_id : stale)
    follow_detach(self, node_id, metrics);
  // Being detached: kept above if known, never added (its unpublish may have been answered).
  for (auto& n : observed.nodes)
    if (!n.detaching && !st.has_node(n.node_id))
      follow_attach(self, n.node_id, observed.capability, observed.migration_timeout,
                    offset_of(self, n.since), metrics);
}

void follow(self_pointer self, const attachment_change& change, const metrics_actor& metrics) {
  auto known = self->state.attachment.has_node(change.node_id);
  if (change.phase == attachment_phase::attached && !known)
    follow_attach(self, change.node_id, change.capability, change.migration_timeout,
                  offset_of(self, change.since), metrics);
  else if (change.phase == attachment_phase::gone && known)
    follow_detach(self, change.node_id, metrics);
}

/// Timer number `number` fired: the running migration times out if its deadline has come, or
/// the timer is armed again for its deadline; a superseded timer, or none running, does nothing.
void on_timer(self_pointer self, uint64_t number, const metrics_actor& metrics) {
  auto& st = self->state.attachment;
  if (number != self->state.timer_number)
    return;
  self->state.timer_pending = false;
  if (!st.migrating || st.migration.timed_out)
    return;
  auto due = st.migration.started_at + st.migration.timeout;
  if (now_of(self) < due) {
    arm_migration_timer(self, due);
    return;
  }
  st.migration.timed_out = true;
  self->send(metrics, migration_result_recorded{migration_result::timeout});
  tell(self, "timer_fired", node_names(st), "timeout",
       "exceeded its timeout of " + text_of(st.migration.timeout));
  notify(self, "MigrationTimedOut", true,
         "live migration from " + st.nodes[0].node_id + " to " + st.nodes[1].node_id
           + " exceeded its timeout of " + text_of(st.migration.timeout)
           + "; both nodes stay attached until Kubernetes detaches one");
  log::warning(log::volume(st.volume_id), "migration from node ", st.nodes[0].node_id, " to ",
               st.nodes[1].node_id, " exceeded its timeout of ", seconds_of(st.migration.timeout),
               "s; both nodes stay attached until Kubernetes detaches one");
}

/// Handles one operation and records it in the ring: its kind, node, result and duration.
template <class Handle>
outcome recorded(self_pointer self, operation_kind kind, const std::string& node_id,
                 Handle handle) {
  auto begin = std::chrono::steady_clock::now();
  auto result = handle();
  self->state.operations.record(kind, node_id, result.code,
                                std::chrono::steady_clock::now() - begin, caf::make_timestamp());
  return result;
}

volume_inspection inspection_of(self_pointer self) {
  volume_inspection x;
  auto& st = self->state.attachment;
  x.state = st;
  if (st.migrating && !st.migration.timed_out)
    x.timer_deadline = st.migration.started_at + st.migration.timeout;
  x.now = now_of(self);
  x.wall_now = caf::make_timestamp();
  x.recent = self->state.operations.recent();
  return x;
}

} // namespace

volume_actor::behavior_type volume(volume_actor::stateful_pointer<volume_state> self,
                                   volume_config config, attachment_state initial,
                                   operation_ring operations, volume_state_listener listener,
                                   metrics_actor metrics) {
  auto& state = self->state;
  state.attachment = std::move(initial);
  state.operations = std::move(operations);
  state.listener = std::move(listener);
  state.metrics = std::move(metrics);
  state.config = config;
  auto& st = state.attachment;
  if (config.restarted)
    state.operations.record(operation_kind::restart, {}, ec::none, caf::timespan{0},
                            caf::make_timestamp());
  if (st.migrating && !st.migration.timed_out)
    arm_migration_timer(self, st.migration.started_at + st.migration.timeout);
  // Each handler captures only `self`: what they need is in the state, once.
  using reply = caf::result<outcome, attachment_state, volume_notes>;
  return {
    [self](publish_atom, const publish_request& req) -> reply {
      auto& state = self->state;
      if (state.config.crash_on_publish > 0 && ++state.publishes == state.config.crash_on_publish) {
        // Test fault: exit with an error before changing anything; the supervisor restarts it.
        log::warning(log::volume(req.volume_id), "test fault crash-volume: the volume actor exits");
        auto reason = caf::make_error(caf::sec::runtime_error, "test fault crash-volume");
        self->quit(reason);
        return reason;
      }
      auto result = recorded(self, operation_kind::publish, req.node_id,
                             [&] { return publish(self, req, state.metrics); });
      return {std::move(result), state.attachment, take_notes(self)};
    },
    [self](unpublish_atom, const unpublish_request& req) -> reply {
      auto result = recorded(self, operation_kind::unpublish, req.node_id,
                             [&] { return unpublish(self, req, self->state.metrics); });
      return {std::move(result), self->state.attachment, take_notes(self)};
    },
    [self](migration_timer_atom, uint64_t number) {
      auto& state = self->state;
      auto was_timed_out = state.attachment.migration.timed_out;
      auto begin = std::chrono::steady_clock::now();
      on_timer(self, number, state.metrics);
      if (state.attachment.migration.timed_out == was_timed_out)
        return; // superseded, re-armed, or of a migration that ended
      state.operations.record(operation_kind::timer, {}, ec::none,
                              std::chrono::steady_clock::now() - begin, caf::make_timestamp());
      self->send(state.listener, volume_state_atom_v, state.attachment, take_notes(self));
    },
    [self](sync_atom, const observed_volume& observed) -> reply {
      auto result = recorded(self, operation_kind::follow_list, {}, [&] {
        follow(self, observed, self->state.metrics);
        return outcome::success();
      });
      return {std::move(result), self->state.attachment, take_notes(self)};
    },
    [self](sync_atom, const attachment_change& change) -> reply {
      auto kind = change.phase == attachment_phase::attached ? operation_kind::follow_attach
                                                             : operation_kind::follow_detach;
      auto result = recorded(self, kind, change.node_id, [&] {
        follow(self, change, self->state.metrics);
        return outcome::success();
      });
      return {std::move(result), self->state.attachment, take_notes(self)};
    },
    [self](status_atom) { return self->state.attachment; },
    [self](inspect_atom) { return inspection_of(self); },
    [self](hibernate_atom) -> caf::result<volume_hibernation, attachment_state> {
      // A copy: the supervisor may give up (something came meanwhile) and this actor goes on.
      auto& state = self->state;
      volume_hibernation h;
      h.accepted = !state.attachment.migrating;
      if (h.accepted && state.operations.size() > 0)
        h.ring = std::make_shared<operation_ring>(state.operations);
      return {std::move(h), state.attachment};
    },
    [self](reuse_atom, attachment_state& initial) {
      auto& state = self->state;
      state.attachment = std::move(initial);
      state.notes = volume_notes{};
      state.operations = operation_ring{};
      state.config = volume_config{};
      state.publishes = 0;
      // A timer still pending for the volume it served before stays counted as pending: when it
      // fires it times out nothing (no migration, or one not yet due: it re-arms for that).
    },
  };
}

} // namespace rds::actors
