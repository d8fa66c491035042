// Routing, restarting and retiring of volume actors.
#include "actors/volume_supervisor.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <type_traits>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/spawn_options.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/volume.hpp"
#include "services/log/log.hpp"
#include "services/memory/heap.hpp"

namespace rds::actors {

namespace {

using self_pointer = volume_supervisor_actor::stateful_pointer<volume_supervisor_state>;
using volume_map = std::map<std::string, volume_entry, std::less<>>;

clock_offset clock_now(self_pointer self) {
  return std::chrono::duration_cast<caf::timespan>(self->clock().now().time_since_epoch());
}

uint32_t intern(volume_supervisor_state& st, const std::string& node_id) {
  auto [i, added] = st.node_index.try_emplace(node_id, static_cast<uint32_t>(st.node_names.size()));
  if (added)
    st.node_names.push_back(node_id);
  return i->second;
}

known_state compact(volume_supervisor_state& st, const attachment_state& state) {
  known_state k;
  k.access = state.access;
  k.migrating = state.migrating;
  k.migration = state.migration;
  k.count = static_cast<uint8_t>(std::min<size_t>(state.nodes.size(), 255));
  for (size_t n = 0; n < k.count; ++n) {
    auto& node = state.nodes[n];
    known_node x{intern(st, node.node_id), node.capability, node.attached_at};
    if (n < 2) {
      k.nodes[n] = x;
      continue;
    }
    if (!k.more)
      k.more = std::make_unique<std::vector<known_node>>();
    k.more->push_back(x);
  }
  return k;
}

const known_node& node_at(const known_state& k, size_t n) {
  return n < 2 ? k.nodes[n] : (*k.more)[n - 2];
}

attachment_state expand(const volume_supervisor_state& st, const std::string& volume_id,
                        const known_state& k) {
  attachment_state state;
  state.volume_id = volume_id;
  state.access = k.access;
  state.migrating = k.migrating;
  state.migration = k.migration;
  state.nodes.reserve(k.count);
  for (size_t n = 0; n < k.count; ++n) {
    auto& x = node_at(k, n);
    state.nodes.push_back({st.node_names[x.name], x.capability, x.attached_at});
  }
  return state;
}

/// `restarted`: it replaces an actor that crashed. `operations`: the ring of a dormant volume's
/// retired actor (it is revived).
volume_actor spawn_volume(self_pointer self, const attachment_state& state,
                          const volume_supervisor_config& config, const metrics_actor& metrics,
                          bool restarted = false, operation_ring operations = {}) {
  volume_config cfg;
  cfg.restarted = restarted;
  auto& faults = config.faults;
  auto& st = self->state;
  if (faults.crash_on_publish > 0 && !st.crash_volume_crashed
      && state.volume_id == faults.crash_volume
      && st.crash_volume_publishes < faults.crash_on_publish)
    cfg.crash_on_publish = faults.crash_on_publish - st.crash_volume_publishes;
  // A spare actor serves a new volume (nothing to hand over but the state, no timer to arm).
  if (!restarted && cfg.crash_on_publish == 0 && operations.size() == 0 && !state.migrating
      && !st.spare.empty()) {
    auto handle = std::move(st.spare.back());
    st.spare.pop_back();
    self->send(handle, reuse_atom_v, state);
    return handle;
  }
  auto listener = caf::actor_cast<volume_state_listener>(self);
  auto handle =
    self->spawn<caf::monitored>(volume, cfg, state, std::move(operations), listener, metrics);
  return handle;
}

/// Attached to more nodes than its access mode allows (found so in Kubernetes).
bool anomalous(const known_state& state) {
  auto allowed = state.access == access_kind::multi_node_block ? 2u : 1u;
  return state.count > allowed;
}

/// When a migrating volume's timer fires, on the actor clock (ns): its place in
/// migrations_by_deadline and in the migrations' continue token.
int64_t deadline_of(const known_state& k) {
  return (k.migration.started_at + k.migration.timeout).count();
}

/// Puts `id` (the key of its entry in `volumes`) in the inspection indexes its record `k`
/// belongs to; unindex takes it out again, with the same record, before the record changes or
/// the entry goes.
void index(volume_supervisor_state& st, std::string_view id, const known_state& k) {
  if (k.migrating) {
    st.migrating.insert(id);
    st.migrations_by_deadline.emplace(deadline_of(k), id);
    if (k.migration.timed_out)
      st.timed_out.insert(id);
  }
  if (anomalous(k))
    st.anomalous.insert(id);
}

void unindex(volume_supervisor_state& st, std::string_view id, const known_state& k) {
  if (k.migrating) {
    st.migrating.erase(id);
    st.migrations_by_deadline.erase({deadline_of(k), id});
    if (k.migration.timed_out)
      st.timed_out.erase(id);
  }
  if (anomalous(k))
    st.anomalous.erase(id);
}

/// A new entry (its actor is spawned next).
volume_entry& add_entry(self_pointer self, const std::string& volume_id) {
  return self->state.volumes.try_emplace(volume_id).first->second;
}

void remove_entry(self_pointer self, volume_map::iterator entry) {
  auto& st = self->state;
  if (entry->second.dormant())
    --st.dormant;
  if (entry->second.last_known.attached())
    --st.attached;
  unindex(st, entry->first, entry->second.last_known);
  st.volumes.erase(entry);
}

volume_entry& entry_for(self_pointer self, const std::string& volume_id,
                        const volume_supervisor_config& config, const metrics_actor& metrics) {
  auto i = self->state.volumes.find(volume_id);
  if (i != self->state.volumes.end())
    return i->second;
  attachment_state fresh;
  fresh.volume_id = volume_id;
  auto& entry = add_entry(self, volume_id);
  entry.handle = spawn_volume(self, fresh, config, metrics);
  return entry;
}

/// Notes gathered beyond this many are passed on at once, even while requests wait.
constexpr size_t notes_batch = 256;

/// The counts of attached and migrating volumes now.
volume_counts counts_of(const volume_supervisor_state& st) {
  return volume_counts{st.attached, st.migrating.size()};
}

/// The counts differ from those the metrics actor was last given.
bool counts_changed(const volume_supervisor_state& st) {
  auto now = counts_of(st);
  return now.attached != st.reported.attached || now.migrating != st.reported.migrating;
}

/// Whether there is anything to pass on: notes, or counts the metrics actor has not seen.
bool news(const volume_supervisor_state& st) {
  return !st.notes.empty() || counts_changed(st);
}

/// Passes the gathered notes and the counts on: one message to each of the metrics actor, the
/// events actor and the feed, for however many answers they came with.
void pass_on_notes(self_pointer self, const metrics_actor& metrics) {
  auto& st = self->state;
  if (!news(st))
    return;
  if (!st.notes.recorded.empty() || counts_changed(st)) {
    st.reported = counts_of(st);
    self->send(metrics, attachment_activity{std::move(st.notes.recorded), st.reported});
  }
  if (!st.notes.events.empty())
    self->send(st.events, volume_events{std::move(st.notes.events)});
  if (!st.notes.changes.empty())
    self->send(st.feed, state_change_batch{std::move(st.notes.changes)});
  st.notes = volume_notes{};
  st.notes_next = clock_now(self) + st.config.notes_interval;
}

/// Called after the notes or the counts changed. The first change after a quiet spell (no pass
/// within notes_interval) goes out now when no other message waits (their answers' notes join
/// it otherwise, once they are handled); later ones wait for the interval to end, so that a
/// busy supervisor passes on the notes of many answers at once; many gathered go at once.
void notes_changed(self_pointer self, const metrics_actor& metrics) {
  auto& st = self->state;
  if (!news(st))
    return;
  auto gathered = st.notes.recorded.size() + st.notes.events.size() + st.notes.changes.size();
  if (gathered >= notes_batch) {
    pass_on_notes(self, metrics);
    return;
  }
  if (st.notes_pending)
    return;
  auto wait = st.notes_next - clock_now(self);
  if (wait <= caf::timespan{0} && self->mailbox().empty()) {
    pass_on_notes(self, metrics);
    return;
  }
  st.notes_pending = true;
  if (wait <= caf::timespan{0})
    self->send(self, notes_atom_v);
  else
    self->delayed_send(self, wait, notes_atom_v);
}

/// Takes a volume actor's notes into those to pass on.
void gather(self_pointer self, volume_notes& notes) {
  auto& st = self->state;
  auto append = [](auto& to, auto& from) {
    if (to.empty())
      to = std::move(from);
    else
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
  };
  append(st.notes.recorded, notes.recorded);
  append(st.notes.events, notes.events);
  append(st.notes.changes, notes.changes);
}

/// `report`: send the gauges now (the rebuild sends them once, after every volume).
void record_state(self_pointer self, const attachment_state& state, const metrics_actor& metrics,
                  bool report = true) {
  auto& st = self->state;
  auto i = st.volumes.find(state.volume_id);
  if (i == st.volumes.end())
    return;
  auto was_attached = i->second.last_known.attached();
  unindex(st, i->first, i->second.last_known);
  i->second.last_known = compact(st, state);
  index(st, i->first, i->second.last_known);
  if (was_attached != state.attached()) {
    if (state.attached())
      ++st.attached;
    else
      --st.attached;
  }
  if (report)
    notes_changed(self, metrics);
}

/// A delayed idle_atom message is due when the first idle volume may hibernate; volumes that
/// become due within idle_batch of it are taken by the same message.
constexpr caf::timespan idle_batch = std::chrono::milliseconds{500};

void idle_later(self_pointer self) {
  auto& st = self->state;
  if (st.idle_tick_pending || st.idle_queue.empty())
    return;
  st.idle_tick_pending = true;
  auto due = st.idle_queue.front().first - clock_now(self);
  self->delayed_send(self, std::max(due, caf::timespan{0}) + idle_batch, idle_atom_v);
}

/// The volume has no request in flight any more: it may hibernate once the idle time has passed
/// without another. `touched`: what it answered changed or could change it (not a read), so it
/// is idle from now on.
void became_idle(self_pointer self, const std::string& volume_id, volume_entry& entry,
                 bool touched) {
  auto& st = self->state;
  if (!st.hibernation.on() || entry.dormant())
    return;
  if (touched)
    entry.idle_since = clock_now(self);
  if (entry.idle_queued)
    return;
  entry.idle_queued = true;
  st.idle_queue.emplace_back(entry.idle_since + st.hibernation.idle, volume_id);
  idle_later(self);
}

/// How many retired actors go at once, and how long the first waits for others at most.
constexpr size_t retire_batch = 64;
constexpr caf::timespan retire_delay = std::chrono::milliseconds{100};

void retire_now(self_pointer self) {
  auto& st = self->state;
  // Not watched any more: its exit sends no down message (which would be ignored here anyway).
  for (auto& handle : st.retiring) {
    self->demonitor(handle.address());
    self->send_exit(handle, caf::exit_reason::user_shutdown);
  }
  st.retiring.clear();
}

/// Retired actors kept for new volumes at most.
constexpr size_t spare_actors = 64;

/// Retires a volume's actor: kept as a spare, or ended. `reusable`: it answered normally (one
/// whose request failed may have ended: it is never a spare).
void retire(self_pointer self, volume_actor handle, bool reusable = true) {
  auto& st = self->state;
  if (reusable && st.spare.size() < spare_actors) {
    st.spare.push_back(std::move(handle));
    return;
  }
  st.retiring.push_back(std::move(handle));
  if (st.retiring.size() >= retire_batch) {
    retire_now(self);
  } else if (!st.retire_pending) {
    st.retire_pending = true;
    self->delayed_send(self, retire_delay, retire_atom_v);
  }
}

/// Called when a forwarded request is answered: a volume that no node uses and that has no
/// request pending has nothing to own any more; an attached one is idle from now on.
/// `touched`: see became_idle.
void settle(self_pointer self, const std::string& volume_id, bool touched = true,
            bool reusable = true) {
  auto& st = self->state;
  --st.in_flight;
  auto i = st.volumes.find(volume_id);
  if (i == st.volumes.end())
    return;
  auto& entry = i->second;
  --entry.in_flight;
  if (entry.in_flight > 0)
    return;
  if (entry.last_known.attached()) {
    became_idle(self, i->first, entry, touched);
    return;
  }
  auto handle = entry.handle;
  remove_entry(self, i);
  if (handle)
    retire(self, std::move(handle), reusable);
}

/// A dormant volume gets its actor back, from the record: the same state (a migration never
/// sleeps, so no timer was pending) and the same ring. Not a restart: nothing crashed.
void revive(self_pointer self, const std::string& volume_id, volume_entry& entry,
            const volume_supervisor_config& config, const metrics_actor& metrics) {
  if (!entry.dormant())
    return;
  auto& st = self->state;
  operation_ring operations;
  if (entry.operations)
    operations = std::move(*entry.operations);
  entry.operations.reset();
  entry.handle = spawn_volume(self, expand(st, volume_id, entry.last_known), config, metrics,
                              /*restarted=*/false, std::move(operations));
  --st.dormant;
  ++st.revivals;
}

/// Many actors were retired: once they are gone (hibernation.trim_interval later), the allocator
/// gives the free pages between the records that stay back to the system.
void trim_later(self_pointer self) {
  auto& st = self->state;
  auto& h = st.hibernation;
  if (h.trim_after == 0 || st.trim_pending || st.hibernated_since_trim < h.trim_after)
    return;
  st.trim_pending = true;
  self->delayed_send(self, h.trim_interval, trim_atom_v);
}

void trim_heap(self_pointer self) {
  auto& st = self->state;
  st.trim_pending = false;
  st.hibernated_since_trim = 0;
  // Tens of milliseconds over a large heap: in a thread of its own, not on the scheduler.
  self->spawn<caf::detached>([] { services::memory::release_free_memory(); });
}

/// Asks an idle volume's actor for its ring; on the answer, retires it if nothing else was
/// forwarded to it meanwhile (those requests are answered after this one, so they still count
/// in in_flight), else gives up this time.
void ask_to_hibernate(self_pointer self, const std::string& volume_id, volume_entry& entry,
                      const metrics_actor& metrics) {
  ++entry.in_flight;
  ++self->state.in_flight;
  auto asked = entry.handle.address();
  // No CAF timeout (as for forward()): the actor answers at once, or it exited and CAF bounces
  // the request; a timeout would keep a clock entry (about 300 bytes) per volume for its
  // duration, as many as volumes fall asleep at once.
  self->request(entry.handle, caf::infinite, hibernate_atom_v)
    .then(
      [=](volume_hibernation& answer, const attachment_state& state) {
        record_state(self, state, metrics);
        auto& st = self->state;
        auto i = st.volumes.find(volume_id);
        if (i == st.volumes.end())
          return settle(self, volume_id, false);
        auto& entry = i->second;
        auto alone = entry.in_flight == 1 && entry.handle.address() == asked;
        if (!answer.accepted || !alone || !entry.last_known.attached()
            || entry.last_known.migrating) {
          if (!alone)
            ++st.hibernations_abandoned;
          return settle(self, volume_id, false);
        }
        entry.in_flight = 0;
        --st.in_flight;
        if (answer.ring)
          entry.operations = std::make_unique<operation_ring>(std::move(*answer.ring));
        retire(self, std::move(entry.handle));
        entry.handle = volume_actor{};
        ++st.dormant;
        ++st.hibernations;
        ++st.hibernated_since_trim;
        trim_later(self);
      },
      [=](caf::error&) { settle(self, volume_id, false, /*reusable=*/false); });
}

/// The idle_atom message: every volume whose idle time has passed by now is asked to hibernate;
/// one with a request in flight or a migration running is not (it is queued again when its
/// last request is answered, which is also how a migration ends), one that was busy since it
/// was queued is queued again for its new time.
void hibernate_idle(self_pointer self, const volume_supervisor_config& config,
                    const metrics_actor& metrics) {
  auto& st = self->state;
  st.idle_tick_pending = false;
  auto now = clock_now(self);
  while (!st.idle_queue.empty() && st.idle_queue.front().first <= now) {
    auto volume_id = std::move(st.idle_queue.front().second);
    st.idle_queue.pop_front();
    auto i = st.volumes.find(volume_id);
    if (i == st.volumes.end())
      continue;
    auto& entry = i->second;
    entry.idle_queued = false;
    if (entry.dormant() || entry.in_flight > 0 || !entry.last_known.attached()
        || entry.last_known.migrating)
      continue;
    if (entry.idle_since + config.hibernation.idle > now) {
      entry.idle_queued = true;
      st.idle_queue.emplace_back(entry.idle_since + config.hibernation.idle, std::move(volume_id));
      continue;
    }
    ask_to_hibernate(self, i->first, entry, metrics);
  }
  if (st.idle_queue.empty())
    st.idle_queue.shrink_to_fit();
  idle_later(self);
}

/// Hands a CSI request to the volume's actor. The request carries its deadline and the volume
/// actor never blocks, so no CAF timeout is set here: each one costs a clock-thread wake-up on
/// the CSI path, and the CSI edge ends the call at its deadline anyway. A volume actor that exits
/// answers with an error (CAF bounces a request to an exited actor), so settle() always runs.
template <class Request, class Atom>
void forward(self_pointer self, volume_entry& entry, Atom atom, Request req,
             caf::typed_response_promise<outcome> rp, const volume_supervisor_config& config,
             const metrics_actor& metrics) {
  // Revived first: the actor it spawns is told how many publishes are left before the fault,
  // and this one is not among those counted yet.
  revive(self, req.volume_id, entry, config, metrics);
  if constexpr (std::is_same_v<Atom, publish_atom>)
    if (config.faults.crash_on_publish > 0 && req.volume_id == config.faults.crash_volume)
      ++self->state.crash_volume_publishes;
  ++entry.in_flight;
  ++self->state.in_flight;
  auto volume_id = req.volume_id;
  self->request(entry.handle, caf::infinite, atom, std::move(req))
    .then(
      [=](outcome& result, const attachment_state& state, volume_notes& notes) mutable {
        // Gathered before the answer goes: with nothing else waiting they go out before it, as
        // the volume actor's own messages did; under load they may follow it.
        gather(self, notes);
        record_state(self, state, metrics);
        settle(self, volume_id);
        rp.deliver(std::move(result));
      },
      [=](caf::error& err) mutable {
        settle(self, volume_id, true, /*reusable=*/false);
        rp.deliver(std::move(err));
      });
}

/// Hands a change observed in Kubernetes to the volume's actor (nobody waits for the answer).
template <class Change>
void follow(self_pointer self, volume_entry& entry, const Change& change,
            const volume_supervisor_config& config, const metrics_actor& metrics) {
  revive(self, change.volume_id, entry, config, metrics);
  ++entry.in_flight;
  ++self->state.in_flight;
  auto volume_id = change.volume_id;
  // No CAF timeout, as for forward(): the actor never blocks, and one that exits bounces the
  // request. A timeout would settle the change while it still waits in the actor's mailbox, so
  // in_flight would undercount and a hibernation asked meanwhile could retire the actor and drop
  // the state the change's answer carries.
  self->request(entry.handle, caf::infinite, sync_atom_v, change)
    .then(
      [=](const outcome&, const attachment_state& state, volume_notes& notes) {
        gather(self, notes);
        record_state(self, state, metrics);
        settle(self, volume_id);
      },
      [=](caf::error& err) {
        log::warning(log::volume(volume_id), "could not follow Kubernetes: ", to_string(err));
        settle(self, volume_id, true, /*reusable=*/false);
      });
}

std::string unpublish_key(const std::string& volume_id, const std::string& node_id) {
  return volume_id + "\n" + node_id;
}

void forget_old_unpublishes(self_pointer self, const volume_supervisor_config& config) {
  auto& st = self->state;
  auto horizon = caf::make_timestamp() - config.stale_window;
  while (!st.unpublish_order.empty() && st.unpublish_order.front().first < horizon) {
    auto& [at, key] = st.unpublish_order.front();
    auto i = st.unpublished.find(key);
    if (i != st.unpublished.end() && i->second == at)
      st.unpublished.erase(i);
    st.unpublish_order.pop_front();
  }
  if (st.unpublish_order.empty() && !st.unpublished.empty())
    st.unpublished.clear();
  if (st.unpublish_order.empty() && st.unpublished.bucket_count() > 64) {
    // A storm's worth of buckets and deque blocks would stay allocated for good.
    st.unpublished = {};
    st.unpublish_order = {};
  }
}

/// While CSI unpublishes are remembered, a delayed message to itself forgets them once they are
/// older than the stale window, so that an idle controller does not keep a storm's worth.
void expire_later(self_pointer self, const volume_supervisor_config& config) {
  auto& st = self->state;
  if (st.expiry_pending || st.unpublish_order.empty())
    return;
  st.expiry_pending = true;
  auto due = st.unpublish_order.front().first + config.stale_window - caf::make_timestamp();
  self->delayed_send(self, std::max(caf::timespan{due}, caf::timespan{0}) + std::chrono::seconds{1},
                     expire_atom_v);
}

void remember_unpublish(self_pointer self, const unpublish_request& req,
                        const volume_supervisor_config& config) {
  if (req.node_id.empty())
    return;
  forget_old_unpublishes(self, config);
  auto at = caf::make_timestamp();
  auto key = unpublish_key(req.volume_id, req.node_id);
  self->state.unpublished[key] = at;
  self->state.unpublish_order.emplace_back(at, std::move(key));
  expire_later(self, config);
}

/// How far the apiserver's clock (creationTimestamp, whole seconds) may be ahead of ours.
constexpr caf::timespan clock_tolerance = std::chrono::seconds{2};

/// A VolumeAttachment of `node_id` created no later than a CSI unpublish of the same volume and
/// node: what Kubernetes showed of it before the detach, delivered after it. (A new
/// VolumeAttachment created within the tolerance is taken as stale too: its own
/// ControllerPublishVolume attaches it.)
bool unpublished_since(self_pointer self, const std::string& volume_id, const std::string& node_id,
                       caf::timestamp created, const volume_supervisor_config& config) {
  forget_old_unpublishes(self, config);
  auto i = self->state.unpublished.find(unpublish_key(volume_id, node_id));
  if (i == self->state.unpublished.end() || created > i->second + clock_tolerance)
    return false;
  ++self->state.stale_ignored;
  log::info(log::volume(volume_id), log::node(node_id),
            "VolumeAttachment shown attached after its ControllerUnpublishVolume; stale, ignored");
  return true;
}

bool stale_attach(self_pointer self, const attachment_change& change,
                  const volume_supervisor_config& config) {
  return change.phase == attachment_phase::attached
         && unpublished_since(self, change.volume_id, change.node_id, change.since, config);
}

bool ready(self_pointer self, const volume_supervisor_config& config) {
  return !config.follow_cluster || (self->state.attachments_synced && self->state.nodes_synced);
}

void resume_deferred(self_pointer self, const volume_supervisor_config& config) {
  if (!ready(self, config))
    return;
  auto deferred = std::move(self->state.deferred);
  self->state.deferred.clear();
  for (auto& resume : deferred)
    resume();
}

/// The first list: every volume actor is spawned with the state Kubernetes shows.
void rebuild(self_pointer self, const cluster_inventory& inventory,
             const volume_supervisor_config& config, const metrics_actor& metrics) {
  auto now = std::chrono::duration_cast<caf::timespan>(self->clock().now().time_since_epoch());
  auto wall_now = caf::make_timestamp();
  size_t volumes = 0;
  for (auto& observed : inventory.volumes) {
    if (observed.nodes.empty())
      continue;
    auto state = state_of(observed, now, wall_now);
    auto& entry = add_entry(self, state.volume_id);
    // With hibernation, a volume that does not migrate starts dormant: an actor spawned now
    // from this state would hold just this state (no ring yet, no timer) until it hibernated
    // after the idle time, so it is spawned when the first request comes, as a revival.
    auto dormant = config.hibernation.on() && !state.migrating;
    if (dormant)
      ++self->state.dormant;
    else
      entry.handle = spawn_volume(self, state, config, metrics);
    record_state(self, state, metrics, false);
    if (!dormant)
      became_idle(self, state.volume_id, entry, true);
    ++volumes;
  }
  notes_changed(self, metrics);
  log::info("rebuilt ", volumes, " attached volumes from Kubernetes (",
            self->state.migrating.size(), " migrating)");
}

/// A later list that changes nothing of a dormant volume (as the volume actor follows a list):
/// every node it has is listed (attached or pending), and the list attaches none it lacks. Such a
/// volume is not woken: its actor would only record the list in its ring.
bool changes_nothing(const volume_supervisor_state& st, const known_state& k,
                     const observed_volume& observed) {
  auto has = [&](const std::string& node_id) {
    for (size_t n = 0; n < k.count; ++n)
      if (st.node_names[node_at(k, n).name] == node_id)
        return true;
    return false;
  };
  auto listed = [&](const std::string& node_id) {
    for (auto& n : observed.nodes)
      if (n.node_id == node_id)
        return true;
    auto& pending = observed.pending;
    return std::find(pending.begin(), pending.end(), node_id) != pending.end();
  };
  for (size_t n = 0; n < k.count; ++n)
    if (!listed(st.node_names[node_at(k, n).name]))
      return false;
  for (auto& n : observed.nodes)
    if (!n.detaching && !has(n.node_id))
      return false;
  return true;
}

/// A followed change that changes nothing of a dormant volume (as the volume actor follows one):
/// the attach of a node it has (the attacher's status write, a metadata change), a deletion
/// being started (the node stays until it is gone), or a node it does not have going away.
bool changes_nothing(const volume_supervisor_state& st, const known_state& k,
                     const attachment_change& change) {
  auto has = false;
  for (size_t n = 0; n < k.count && !has; ++n)
    has = st.node_names[node_at(k, n).name] == change.node_id;
  switch (change.phase) {
  case attachment_phase::attached:
    return has;
  case attachment_phase::gone:
    return !has;
  default:
    return true;
  }
}

/// A later list (after a 410 or a broken watch): every volume follows it, including volumes the
/// list no longer shows.
void resync(self_pointer self, const cluster_inventory& inventory,
            const volume_supervisor_config& config, const metrics_actor& metrics) {
  std::unordered_set<std::string> listed;
  for (auto observed : inventory.volumes) {
    listed.insert(observed.volume_id);
    observed.listed_at = inventory.listed_at;
    // A node unpublished since the list was taken is not attached again by it.
    auto& nodes = observed.nodes;
    nodes.erase(std::remove_if(nodes.begin(), nodes.end(),
                               [&](const observed_attachment& n) {
                                 return unpublished_since(self, observed.volume_id, n.node_id,
                                                          n.since, config);
                               }),
                nodes.end());
    auto entry = self->state.volumes.find(observed.volume_id);
    auto known = entry != self->state.volumes.end();
    if (!known && observed.nodes.empty())
      continue;
    if (known && entry->second.dormant()
        && changes_nothing(self->state, entry->second.last_known, observed))
      continue;
    follow(self, entry_for(self, observed.volume_id, config, metrics), observed, config, metrics);
  }
  for (auto& [volume_id, entry] : self->state.volumes)
    if (listed.count(volume_id) == 0 && entry.last_known.attached()) {
      observed_volume gone;
      gone.volume_id = volume_id;
      gone.unlisted = true;
      gone.listed_at = inventory.listed_at;
      follow(self, entry, gone, config, metrics);
    }
}

void count_anomalies(self_pointer self, const cluster_inventory& inventory,
                     const metrics_actor& metrics) {
  for (auto& volume : inventory.anomalies) {
    if (!self->state.anomalies.insert(volume).second)
      continue;
    self->send(metrics, anomaly_atom_v);
    log::warning(log::volume(volume),
                 "attached to more than two nodes in Kubernetes; kept "
                 "as the truth, further publishes are refused until it resolves");
  }
}

/// The key of a volume in known_volumes.
uint64_t known_volume_key(const std::string& volume_id) {
  return std::hash<std::string>{}(volume_id);
}

/// Runs `work` now, or once the rebuild is done; false (and nothing runs) when too many
/// requests wait already.
template <class Work>
bool when_ready(self_pointer self, const volume_supervisor_config& config, Work&& work) {
  if (ready(self, config))
    work();
  else if (self->state.deferred.size() >= config.max_deferred)
    return false;
  else
    self->state.deferred.emplace_back(std::forward<Work>(work));
  return true;
}

outcome still_rebuilding() {
  return outcome::failure(ec::unavailable,
                          "the driver is still rebuilding its attachment state from Kubernetes; "
                          "retry");
}

/// The time left until a request's deadline; none left: false, and the caller is told.
template <class Promise>
bool time_remains(self_pointer self, request_deadline deadline,
                  const volume_supervisor_config& config, Promise& rp, caf::timespan& left) {
  left = time_left(self->clock(), deadline, config.undated_bound);
  if (left > caf::timespan{0})
    return true;
  rp.deliver(caf::make_error(caf::sec::request_timeout));
  return false;
}

/// Runs `go` when the volume may be used: the catalog knows it (at once if it told so already),
/// or cannot tell (the RDS is down or slow: attaching needs only the driver's own state, and a
/// live migration must not wait for the RDS's REST API). NOT_FOUND only when the RDS says so.
/// The question gets at most half of the time left, so that the rest remains for the work
/// itself: the catalog answers from what it knows at once, else by that deadline from its own
/// request to the rds actor (so no CAF timeout here, which would wake the clock thread on every
/// publish).
template <class Promise, class Go>
void when_volume_exists(self_pointer self, const volume_catalog_actor& catalog,
                        std::string volume_id, request_deadline deadline,
                        const volume_supervisor_config& config, Promise rp, Go go) {
  caf::timespan left;
  if (!time_remains(self, deadline, config, rp, left))
    return;
  if (self->state.known_volumes.count(known_volume_key(volume_id)) != 0) {
    go();
    return;
  }
  auto slice = left / 2;
  // One copy of what the answer needs, shared by its two handlers (each would copy the rest).
  struct waiting {
    std::string volume_id;
    Promise rp;
    Go go;
    void cannot_tell(const std::string& why) {
      log::warning(log::volume(volume_id),
                   "going on without knowing that the volume exists: ", why);
    }
  };
  auto w = std::make_shared<waiting>(waiting{std::move(volume_id), std::move(rp), std::move(go)});
  self
    ->request(catalog, caf::infinite, find_atom_v,
              volume_id_request{w->volume_id, deadline_after(self->clock(), slice)})
    .then(
      [w](const outcome& exists) {
        if (!exists.ok() && exists.code != ec::unavailable) {
          w->rp.deliver(exists);
          return;
        }
        if (!exists.ok())
          w->cannot_tell(exists.message);
        w->go();
      },
      [w](caf::error& failure) {
        w->cannot_tell("the volume catalog did not answer (" + to_string(failure) + ")");
        w->go();
      });
}

bool is_crash(const caf::error& reason) {
  return reason && reason != caf::exit_reason::normal && reason != caf::exit_reason::user_shutdown;
}

/// Attached to more nodes than its access mode allows (found so in Kubernetes).
bool anomalous(const attachment_state& state) {
  auto allowed = state.access == access_kind::multi_node_block ? 2u : 1u;
  return state.nodes.size() > allowed;
}

/// `node`: the index of req.node_id among the node names, if any.
bool wanted(const volume_page_request& req, const known_state& state,
            const std::optional<uint32_t>& node) {
  if (req.migrating_only && !state.migrating)
    return false;
  if (req.timed_out_only && !(state.migrating && state.migration.timed_out))
    return false;
  if (req.anomaly_only && !anomalous(state))
    return false;
  if (req.node_id.empty())
    return true;
  if (!node)
    return false;
  for (size_t n = 0; n < state.count; ++n)
    if (node_at(state, n).name == *node)
      return true;
  return false;
}

volume_summary summary_of(const volume_supervisor_state& st, const std::string& volume_id,
                          const volume_entry& entry) {
  return {expand(st, volume_id, entry.last_known), anomalous(entry.last_known), entry.restarts};
}

/// A page from the supervisor's own records, in id order: no volume actor is asked. A filter
/// on migrations or anomalies reads its index; any page looks at no more than the scan budget
/// of volumes (then it ends early, with a continue after the last one it looked at).
volume_page page_of(self_pointer self, const volume_page_request& req,
                    const volume_supervisor_config& config) {
  volume_page page;
  page.now = clock_now(self);
  page.wall_now = caf::make_timestamp();
  auto limit = std::clamp<uint32_t>(req.limit, 1, std::max<uint32_t>(config.max_page, 1));
  auto budget = std::max(config.page_scan_budget, limit + 1);
  auto& st = self->state;
  std::optional<uint32_t> node;
  if (auto n = st.node_index.find(req.node_id); n != st.node_index.end())
    node = n->second;
  uint32_t examined = 0;
  const std::string* last = nullptr;
  // Looks at one volume; false when the page is complete.
  auto take = [&](const std::string& id, const volume_entry& entry) {
    if (examined == budget) {
      page.next_after = *last;
      return false;
    }
    ++examined;
    last = &id;
    if (!wanted(req, entry.last_known, node))
      return true;
    if (page.volumes.size() == limit) {
      // One more matches: there is a next page.
      page.next_after = page.volumes.back().state.volume_id;
      return false;
    }
    page.volumes.push_back(summary_of(st, id, entry));
    return true;
  };
  std::string_view after{req.after};
  auto over_index = [&](const std::set<std::string_view>& ids) {
    for (auto i = after.empty() ? ids.begin() : ids.upper_bound(after); i != ids.end(); ++i) {
      auto entry = st.volumes.find(*i);
      if (entry != st.volumes.end() && !take(entry->first, entry->second))
        return;
    }
  };
  if (req.timed_out_only) {
    over_index(st.timed_out);
  } else if (req.migrating_only) {
    over_index(st.migrating);
  } else if (req.anomaly_only) {
    over_index(st.anomalous);
  } else {
    auto& ordered = st.volumes;
    for (auto i = after.empty() ? ordered.begin() : ordered.upper_bound(after); i != ordered.end();
         ++i)
      if (!take(i->first, i->second))
        break;
  }
  return page;
}

/// A page of the migrating volumes, soonest timer first (a timed-out one's deadline has
/// passed), read from the deadline index: the migrations shown and no more.
volume_page migrations_of(self_pointer self, const migrations_page_request& req,
                          const volume_supervisor_config& config) {
  volume_page page;
  page.now = clock_now(self);
  page.wall_now = caf::make_timestamp();
  auto limit = std::clamp<uint32_t>(req.limit, 1, std::max<uint32_t>(config.max_page, 1));
  auto& st = self->state;
  auto& by_deadline = st.migrations_by_deadline;
  page.total = by_deadline.size();
  auto i = req.has_after ? by_deadline.upper_bound({req.after_deadline_ns, req.after_id})
                         : by_deadline.begin();
  for (; i != by_deadline.end(); ++i) {
    if (page.volumes.size() == limit) {
      page.next_after = page.volumes.back().state.volume_id;
      break;
    }
    auto entry = st.volumes.find(i->second);
    if (entry != st.volumes.end())
      page.volumes.push_back(summary_of(st, entry->first, entry->second));
  }
  return page;
}

/// One volume: its actor's own answer, asked with a bounded deadline, and the supervisor's
/// counts. Without an actor: not_found. No answer in time: unavailable, with the last state the
/// supervisor knows.
void inspect_volume(self_pointer self, const std::string& volume_id,
                    const volume_supervisor_config& config,
                    caf::typed_response_promise<outcome, volume_inspection> rp) {
  auto& st = self->state;
  auto i = st.volumes.find(volume_id);
  if (i != st.volumes.end() && i->second.dormant()) {
    // Read from the record the actor handed over: inspecting does not wake the volume.
    auto& entry = i->second;
    volume_inspection x;
    x.state = expand(st, volume_id, entry.last_known);
    if (x.state.migrating && !x.state.migration.timed_out)
      x.timer_deadline = x.state.migration.started_at + x.state.migration.timeout;
    x.now = clock_now(self);
    x.wall_now = caf::make_timestamp();
    if (entry.operations)
      x.recent = entry.operations->recent();
    x.in_flight = entry.in_flight;
    x.restarts = entry.restarts;
    x.anomaly = anomalous(x.state);
    x.dormant = true;
    rp.deliver(outcome::success(), std::move(x));
    return;
  }
  if (i == st.volumes.end()) {
    volume_inspection none;
    none.state.volume_id = volume_id;
    none.now = clock_now(self);
    none.wall_now = caf::make_timestamp();
    rp.deliver(outcome::failure(ec::not_found, "volume " + volume_id
                                                 + " has no volume actor (it is attached to no "
                                                   "node)"),
               std::move(none));
    return;
  }
  // Counted as forwarded, so that the actor is not retired while it answers.
  ++i->second.in_flight;
  ++st.in_flight;
  auto add_counts = [self, volume_id](volume_inspection& x) {
    auto j = self->state.volumes.find(volume_id);
    if (j == self->state.volumes.end())
      return;
    x.in_flight = j->second.in_flight - 1; // not this inspection
    x.restarts = j->second.restarts;
    x.anomaly = anomalous(x.state);
  };
  auto bound = config.inspect_bound;
  self->request(i->second.handle, bound, inspect_atom_v)
    .then(
      [=](volume_inspection& x) mutable {
        add_counts(x);
        settle(self, volume_id, false);
        rp.deliver(outcome::success(), std::move(x));
      },
      [=](caf::error& failure) mutable {
        volume_inspection x;
        x.now = clock_now(self);
        x.wall_now = caf::make_timestamp();
        auto j = self->state.volumes.find(volume_id);
        if (j != self->state.volumes.end()) {
          x.state = expand(self->state, volume_id, j->second.last_known);
          if (x.state.migrating && !x.state.migration.timed_out)
            x.timer_deadline = x.state.migration.started_at + x.state.migration.timeout;
        } else {
          x.state.volume_id = volume_id;
        }
        add_counts(x);
        settle(self, volume_id, false, /*reusable=*/false);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(bound).count();
        rp.deliver(outcome::failure(ec::unavailable, "the volume actor did not answer within "
                                                       + std::to_string(ms) + " ms ("
                                                       + to_string(failure)
                                                       + "); its last known state is shown"),
                   std::move(x));
      });
}

/// Answers with what `make` builds: at once, or (test fault slow-status) after the delay, by a
/// delayed message to itself; no thread waits meanwhile.
template <class T, class Make>
caf::result<T> answer(self_pointer self, const volume_supervisor_config& config, Make make) {
  if (config.faults.slow_answers <= caf::timespan{0})
    return make();
  auto rp = self->make_response_promise<T>();
  auto id = ++self->state.next_delayed_answer;
  self->state.delayed_answers.emplace(id, [rp, make]() mutable { rp.deliver(make()); });
  self->delayed_send(self, config.faults.slow_answers, answer_due_atom_v, id);
  return rp;
}

/// Runs `work` at once, or (test fault slow-status) after the delay.
template <class Work>
void later_if_slow(self_pointer self, const volume_supervisor_config& config, Work work) {
  if (config.faults.slow_answers <= caf::timespan{0}) {
    work();
    return;
  }
  auto id = ++self->state.next_delayed_answer;
  self->state.delayed_answers.emplace(id, std::move(work));
  self->delayed_send(self, config.faults.slow_answers, answer_due_atom_v, id);
}

} // namespace

volume_supervisor_actor::behavior_type
volume_supervisor(volume_supervisor_actor::stateful_pointer<volume_supervisor_state> self,
                  volume_supervisor_config config, metrics_actor metrics, events_actor events,
                  volume_catalog_actor catalog, state_feed_actor feed) {
  self->state.config = std::move(config);
  // The handlers reach the configuration through this pointer: a lambda capturing the value by
  // copy ([=]) would copy its strings and vectors for every request.
  const volume_supervisor_config* cfg = &self->state.config;
  self->state.events = std::move(events);
  self->state.feed = std::move(feed);
  self->state.hibernation = cfg->hibernation;
  if (!cfg->follow_cluster) {
    log::info("no Kubernetes API configured: attachment state is kept in memory only and is not "
              "durable across restarts");
  }
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    // The catalog ended: what it told may go stale, so every publish asks (and learns that it
    // does not answer) from now on.
    if (catalog && msg.source == catalog.address()) {
      log::warning("the volume catalog ended (", to_string(msg.reason),
                   "); publishes ask it about every volume from now on");
      st.known_volumes = {};
      return;
    }
    // A volume actor that ended: its entry is looked for among all (no map from actor to
    // volume: 32 bytes a volume for a rare event), then among the spares. Retired ones are no
    // longer watched, and on its own exit the supervisor quits at once, so a down message is
    // never a retirement.
    auto entry = std::find_if(st.volumes.begin(), st.volumes.end(), [&](const auto& v) {
      return v.second.handle.address() == msg.source;
    });
    if (entry == st.volumes.end()) {
      // A spare that ended (killed: it never fails on its own while it waits).
      st.spare.erase(std::remove_if(st.spare.begin(), st.spare.end(),
                                    [&](const auto& h) { return h.address() == msg.source; }),
                     st.spare.end());
      return;
    }
    auto volume_id = entry->first;
    if (!is_crash(msg.reason)) {
      remove_entry(self, entry);
      return;
    }
    ++st.restarts;
    ++entry->second.restarts;
    if (volume_id == cfg->faults.crash_volume)
      st.crash_volume_crashed = true;
    self->send(metrics, volume_restarted_atom_v);
    log::warning(log::volume(volume_id), "volume actor crashed (", to_string(msg.reason),
                 "); restarting it from its last known state");
    state_change change;
    change.at = caf::make_timestamp();
    change.kind = "actor_restarted";
    change.volume_id = volume_id;
    auto last_known = expand(st, volume_id, entry->second.last_known);
    for (auto& n : last_known.nodes)
      change.nodes.push_back(n.node_id);
    change.detail = "volume actor crashed (" + to_string(msg.reason)
                    + "); restarted from its last known state, restart "
                    + std::to_string(entry->second.restarts);
    st.notes.changes.push_back(std::move(change));
    notes_changed(self, metrics);
    entry->second.handle = spawn_volume(self, last_known, *cfg, metrics, /*restarted=*/true);
  });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    // What waits for the next pass is not lost.
    pass_on_notes(self, metrics);
    retire_now(self);
    for (auto& handle : self->state.spare)
      self->send_exit(handle, msg.reason);
    for (auto& [id, entry] : self->state.volumes)
      if (!entry.dormant())
        self->send_exit(entry.handle, msg.reason);
    self->quit(msg.reason);
  });
  // What the catalog knows, and from then on what it learns (see known_volumes); watched, so
  // that a catalog that ends leaves no copy that nobody keeps up to date.
  if (catalog) {
    self->monitor(catalog);
    self->send(catalog, known_atom_v, caf::actor_cast<catalog_listener>(self));
  }
  return {
    // A mutable reference, so that the captured copy below is not const and moves on.
    [=](publish_atom atom, publish_request& req) -> caf::result<outcome> {
      auto rp = self->make_response_promise<outcome>();
      auto publish = [=]() mutable {
        if (cfg->follow_cluster && self->state.nodes.count(req.node_id) == 0) {
          rp.deliver(outcome::failure(ec::not_found,
                                      "node " + req.node_id + " does not exist in Kubernetes"));
          return;
        }
        auto& served = cfg->served_nodes;
        if (!cfg->follow_cluster && !served.empty()
            && std::find(served.begin(), served.end(), req.node_id) == served.end()) {
          rp.deliver(outcome::failure(ec::not_found,
                                      "node " + req.node_id
                                        + " does not exist: without a cluster, the only node is "
                                          "the one this plugin serves ("
                                        + served.front() + ")"));
          return;
        }
        auto volume_id = req.volume_id;
        auto deadline = req.deadline;
        // `publish` runs once: its copy of the request moves on to the volume actor.
        when_volume_exists(self, catalog, std::move(volume_id), deadline, *cfg, rp,
                           [self, cfg, metrics, atom, rp, req = std::move(req)]() mutable {
                             caf::timespan left;
                             if (!time_remains(self, req.deadline, *cfg, rp, left))
                               return;
                             auto& entry = entry_for(self, req.volume_id, *cfg, metrics);
                             forward(self, entry, atom, std::move(req), rp, *cfg, metrics);
                           });
      };
      if (!when_ready(self, *cfg, std::move(publish)))
        rp.deliver(still_rebuilding());
      return rp;
    },
    // A mutable reference, as for publish: the request moves on to the volume actor.
    [=](unpublish_atom atom, unpublish_request& req) -> caf::result<outcome> {
      auto rp = self->make_response_promise<outcome>();
      auto unpublish = [self, cfg, metrics, atom, rp, req = std::move(req)]() mutable {
        remember_unpublish(self, req, *cfg);
        auto i = self->state.volumes.find(req.volume_id);
        caf::timespan left;
        if (i == self->state.volumes.end())
          rp.deliver(outcome::success());
        else if (time_remains(self, req.deadline, *cfg, rp, left))
          forward(self, i->second, atom, std::move(req), rp, *cfg, metrics);
      };
      if (!when_ready(self, *cfg, std::move(unpublish)))
        rp.deliver(still_rebuilding());
      return rp;
    },
    [=](find_atom, const volume_id_request& req) -> caf::result<outcome> {
      auto rp = self->make_response_promise<outcome>();
      when_volume_exists(self, catalog, req.volume_id, req.deadline, *cfg, rp,
                         [rp]() mutable { rp.deliver(outcome::success()); });
      return rp;
    },
    [=](describe_atom,
        const volume_id_request& req) -> caf::result<outcome, volume_info, attachment_state> {
      auto rp = self->make_response_promise<outcome, volume_info, attachment_state>();
      auto describe = [=]() mutable {
        caf::timespan left;
        if (!time_remains(self, req.deadline, *cfg, rp, left))
          return;
        self->request(catalog, left, describe_atom_v, req)
          .then(
            [=](const outcome& result, const volume_info& info) mutable {
              attachment_state detached;
              detached.volume_id = req.volume_id;
              auto i = self->state.volumes.find(req.volume_id);
              if (!result.ok() || i == self->state.volumes.end()) {
                rp.deliver(result, info, detached);
                return;
              }
              if (i->second.dormant()) {
                rp.deliver(result, info, expand(self->state, req.volume_id, i->second.last_known));
                return;
              }
              caf::timespan remaining;
              if (!time_remains(self, req.deadline, *cfg, rp, remaining))
                return;
              // Counted as forwarded, so the actor is not retired while it answers.
              ++i->second.in_flight;
              ++self->state.in_flight;
              self->request(i->second.handle, remaining, status_atom_v)
                .then(
                  [=](const attachment_state& state) mutable {
                    settle(self, req.volume_id, false);
                    rp.deliver(result, info, state);
                  },
                  [=](caf::error& failure) mutable {
                    settle(self, req.volume_id, false, /*reusable=*/false);
                    rp.deliver(std::move(failure));
                  });
            },
            [rp](caf::error& failure) mutable { rp.deliver(std::move(failure)); });
      };
      if (!when_ready(self, *cfg, std::move(describe)))
        rp.deliver(still_rebuilding(), volume_info{}, attachment_state{});
      return rp;
    },
    [=](volume_state_atom, const attachment_state& state, volume_notes& notes) {
      gather(self, notes);
      record_state(self, state, metrics);
    },
    [=](known_atom, const known_volumes_change& change) {
      auto& known = self->state.known_volumes;
      if (change.everything) {
        known = {};
        known.reserve(change.known.size());
      }
      for (auto& id : change.known)
        known.insert(known_volume_key(id));
      for (auto& id : change.forgotten)
        known.erase(known_volume_key(id));
    },
    [=](notes_atom) {
      self->state.notes_pending = false;
      pass_on_notes(self, metrics);
    },
    [=](sync_atom, const cluster_inventory& inventory) {
      if (!self->state.attachments_synced)
        rebuild(self, inventory, *cfg, metrics);
      else
        resync(self, inventory, *cfg, metrics);
      count_anomalies(self, inventory, metrics);
      self->state.attachments_synced = true;
      resume_deferred(self, *cfg);
    },
    [=](sync_atom, const attachment_change& change) {
      if (stale_attach(self, change, *cfg))
        return;
      auto& st = self->state;
      auto i = st.volumes.find(change.volume_id);
      auto known = i != st.volumes.end();
      if (!known && change.phase != attachment_phase::attached)
        return;
      if (known && i->second.dormant() && changes_nothing(st, i->second.last_known, change))
        return;
      follow(self, entry_for(self, change.volume_id, *cfg, metrics), change, *cfg, metrics);
    },
    [=](nodes_atom, const std::vector<std::string>& names) {
      self->state.nodes = std::unordered_set<std::string>(names.begin(), names.end());
      self->state.nodes_synced = true;
      resume_deferred(self, *cfg);
    },
    [=](nodes_atom, const std::string& name, bool exists) {
      if (exists)
        self->state.nodes.insert(name);
      else
        self->state.nodes.erase(name);
    },
    [=](status_atom) -> caf::result<supervisor_status> {
      return answer<supervisor_status>(self, *cfg, [self, cfg] {
        auto& st = self->state;
        supervisor_status s{st.volumes.size() - st.dormant,
                            st.attached,
                            st.migrating.size(),
                            st.restarts,
                            st.in_flight,
                            ready(self, *cfg),
                            st.deferred.size(),
                            st.stale_ignored,
                            own_mailbox(self)};
        s.volumes = st.volumes.size();
        s.dormant = st.dormant;
        s.hibernations = st.hibernations;
        s.revivals = st.revivals;
        s.hibernations_abandoned = st.hibernations_abandoned;
        s.retiring = st.retiring.size();
        s.spare = st.spare.size();
        return s;
      });
    },
    [=](status_atom, const std::string& volume_id) -> caf::result<attachment_state> {
      auto i = self->state.volumes.find(volume_id);
      if (i == self->state.volumes.end()) {
        attachment_state detached;
        detached.volume_id = volume_id;
        return detached;
      }
      if (i->second.dormant())
        return expand(self->state, volume_id, i->second.last_known);
      // Counted as forwarded, so that the actor is neither retired nor hibernated while it
      // answers.
      ++i->second.in_flight;
      ++self->state.in_flight;
      auto rp = self->make_response_promise<attachment_state>();
      self->request(i->second.handle, caf::infinite, status_atom_v)
        .then(
          [=](const attachment_state& state) mutable {
            settle(self, volume_id, false);
            rp.deliver(state);
          },
          [=](caf::error& failure) mutable {
            settle(self, volume_id, false, /*reusable=*/false);
            rp.deliver(std::move(failure));
          });
      return rp;
    },
    [=](lookup_atom, const std::string& volume_id) {
      // A dormant volume has none (invalid handle); looking does not wake it.
      auto i = self->state.volumes.find(volume_id);
      return i == self->state.volumes.end() ? volume_actor{} : i->second.handle;
    },
    [=](inspect_atom, const volume_page_request& req) -> caf::result<volume_page> {
      return answer<volume_page>(self, *cfg, [=] { return page_of(self, req, *cfg); });
    },
    [=](inspect_atom, const migrations_page_request& req) -> caf::result<volume_page> {
      return answer<volume_page>(self, *cfg, [=] { return migrations_of(self, req, *cfg); });
    },
    [=](inspect_atom, const std::string& volume_id) -> caf::result<outcome, volume_inspection> {
      auto rp = self->make_response_promise<outcome, volume_inspection>();
      later_if_slow(self, *cfg, [=] { inspect_volume(self, volume_id, *cfg, rp); });
      return rp;
    },
    [=](answer_due_atom, uint64_t id) {
      auto i = self->state.delayed_answers.find(id);
      if (i == self->state.delayed_answers.end())
        return;
      auto work = std::move(i->second);
      self->state.delayed_answers.erase(i);
      work();
    },
    [=](idle_atom) { hibernate_idle(self, *cfg, metrics); },
    [=](trim_atom) { trim_heap(self); },
    [=](retire_atom) {
      self->state.retire_pending = false;
      retire_now(self);
    },
    [=](expire_atom) {
      self->state.expiry_pending = false;
      forget_old_unpublishes(self, *cfg);
      expire_later(self, *cfg);
    },
  };
}

} // namespace rds::actors
