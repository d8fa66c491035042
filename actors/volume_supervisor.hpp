// The volume supervisor: maps volume ids to volume actors, spawns them on demand, restarts a
// crashed one from its last known state and retires one that no node uses any more. It owns the
// rules that need more than one volume's view: a publish goes to a node that exists and to a
// volume the catalog knows (or cannot tell about: then it goes on, with a warning).
//
// Hibernation (--volume-idle-seconds), as Orleans deactivates idle grains: the actor of an
// attached volume that does not migrate and had no request for the idle time is retired, and
// its entry keeps what brings it back exactly: the known state and the ring of operations the
// actor handed over. Any request for the volume (publish, unpublish, a followed change, a
// relist) revives the actor from that record first; reads (inspection, status, describe) answer
// from the record without waking it. The protocol cannot lose a request: the supervisor is the
// only one that sends to volume actors, the hibernate request counts in the entry's in_flight
// like any other, and on its answer the actor is retired only if it is the only one in flight
// (a request forwarded after it is answered after it, so it is still counted); otherwise this
// hibernation is given up and the volume is idle again once that request is answered. While a
// volume is dormant nothing happens to it, so one actor per volume still serialises everything
// that does: its state is kept once, in the supervisor, instead of twice.
#pragma once

#include <caf/actor_addr.hpp>

#include <caf/timestamp.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/volume.hpp"
#include "actors/volume_test_faults.hpp"
#include "messages/actors.hpp"

namespace rds::actors {

/// Hibernation (see above): the supervisor's state keeps these (its helpers run without the
/// config).
struct hibernation_settings {
  /// How long an attached, not migrating volume stays without a request before its actor is
  /// retired; zero: never. The plugin's --volume-idle-seconds.
  caf::timespan idle{0};
  /// After this many hibernations (0: never), the heap's free pages are given back to the
  /// system at once (services::memory::release_free_memory, in a thread of its own, at most
  /// every trim_interval): the retired actors' memory would otherwise stay resident until the
  /// allocator's own decay (jemalloc) or for good (glibc, where it lies between records that
  /// stay).
  uint32_t trim_after = 0;
  caf::timespan trim_interval = std::chrono::seconds{2};

  bool on() const { return idle > caf::timespan{0}; }
};

struct volume_supervisor_config {
  /// How long an inner request to the catalog may take when the request it serves carries no
  /// deadline. A CSI request carries the CO's
  /// deadline and its inner requests get the time left until it.
  caf::timespan undated_bound = std::chrono::seconds{60};
  /// Kubernetes is the source of truth: hold CSI requests until the first list of
  /// VolumeAttachments and of Nodes arrived, and refuse nodes that do not exist. False for the
  /// embedded default (no cluster): state in memory only.
  bool follow_cluster = false;
  /// Without a cluster, the nodes that exist: with --mode=all, the one node this process serves
  /// (a publish to any other is NOT_FOUND). Empty: not checked (--mode=controller, no cluster).
  std::vector<std::string> served_nodes;
  /// CSI requests held while the rebuild runs; more are refused as unavailable.
  size_t max_deferred = 10000;
  /// How long a CSI unpublish outweighs a followed "attached" of a VolumeAttachment created
  /// before it (a watch event that arrives after the unpublish it preceded).
  caf::timespan stale_window = std::chrono::seconds{30};
  /// How long the inspection of one volume waits for the volume's actor.
  caf::timespan inspect_bound = std::chrono::milliseconds{250};
  /// The most volumes one page of the inspection holds, whatever the request's limit.
  uint32_t max_page = 5000;
  /// The most volumes one page of the inspection looks at: a filter that few volumes match
  /// (a node with few volumes) ends its page there, with fewer volumes and a `continue`, so
  /// that no page holds the supervisor (and the CSI calls behind it) for a scan of them all.
  uint32_t page_scan_budget = 20000;
  /// The volume actors' notes (metrics, Kubernetes Events, the live feed) are passed on at most
  /// this often: the first after a quiet spell at once, the next ones gathered until this long
  /// after the last pass (or sooner when many are gathered). Each pass costs a message and a turn
  /// of each of three actors, which every publish paid before. 0: whenever the supervisor has no
  /// other message waiting.
  caf::timespan notes_interval = std::chrono::milliseconds{10};
  hibernation_settings hibernation;
  volume_test_faults faults;
};

/// One attached node as the supervisor keeps it: the node's name is an index into
/// volume_supervisor_state::node_names.
struct known_node {
  uint32_t name = 0;
  publish_capability capability;
  clock_offset attached_at{0};
};

/// What the supervisor keeps of a volume's attachment state: the volume actor's own state is
/// the truth, this is the compact record of its last report that the pages of the inspection and
/// a restart after a crash need. No heap for the usual one or two nodes; node names are
/// interned; the volume id is the key of the entry.
struct known_state {
  access_kind access = access_kind::single_node;
  bool migrating = false;
  uint8_t count = 0;
  known_node nodes[2];
  /// Nodes beyond the second (an anomaly found in Kubernetes), rare: on the heap.
  std::unique_ptr<std::vector<known_node>> more;
  migration_state migration;

  bool attached() const { return count > 0; }
};

/// A volume actor and what the supervisor knows of it.
struct volume_entry {
  /// Invalid while the volume is dormant (its actor retired while idle).
  volume_actor handle;
  /// The state the actor reported last: a crashed actor is restarted from it, a dormant one
  /// revived from it.
  known_state last_known;
  /// While dormant: the ring of operations its actor handed over (null when empty).
  std::unique_ptr<actors::operation_ring> operations;
  /// When its last forwarded request was answered (actor clock): idle since then.
  clock_offset idle_since{0};
  /// Requests forwarded and not answered; an actor is retired only when this is zero.
  uint32_t in_flight = 0;
  /// How often this volume's actor was restarted after a crash.
  uint32_t restarts = 0;
  /// It is in volume_supervisor_state::idle_queue.
  bool idle_queued = false;

  bool dormant() const { return !handle; }
};

struct volume_supervisor_state {
  static constexpr const char* name = "volume_supervisor";
  /// As spawned; never changes.
  volume_supervisor_config config;
  /// In volume id order, for paged inspection (std::less<> finds by string_view too).
  std::map<std::string, volume_entry, std::less<>> volumes;
  /// Node names of the known states, each once; never shrinks (nodes are few).
  std::vector<std::string> node_names;
  std::unordered_map<std::string, uint32_t> node_index;
  /// Volumes attached to at least one node (a count), and to two: the gauges, following the
  /// actors' own states so that they cannot drift.
  size_t attached = 0;
  /// Indexes over the keys of `volumes` (erased before their entry), so that the inspection's
  /// filtered pages and its migrations read only what they show: the migrating volumes by id
  /// and by timer deadline (actor clock, ns; then id), those timed out and the anomalous ones
  /// by id.
  std::set<std::string_view> migrating;
  std::set<std::pair<int64_t, std::string_view>> migrations_by_deadline;
  std::set<std::string_view> timed_out;
  std::set<std::string_view> anomalous;
  volume_counts reported;
  uint64_t restarts = 0;
  uint64_t in_flight = 0;
  /// The first list of VolumeAttachments (the rebuild) and of Nodes arrived.
  bool attachments_synced = false;
  bool nodes_synced = false;
  /// Node names that exist in Kubernetes.
  std::unordered_set<std::string> nodes;
  /// The volumes the catalog knows to exist, as it told (catalog_listener), by the 64-bit hash
  /// of their id (known_volume_key): a publish of one of them goes on without a question; for
  /// any other the catalog is asked, and its set is the truth. Behind it by the messages in
  /// flight, as an answer to a question would be. A hash is 24 bytes a volume where the id
  /// would be about 110 (every volume on the RDS, not only attached ones); two ids with the same
  /// hash (about one chance in 10^9 among 100,000 volumes) only let a publish of a volume the
  /// RDS does not have go on, as when the RDS cannot tell.
  std::unordered_set<uint64_t> known_volumes;
  /// Where the volume actors' notes go (with the supervisor's own feed changes).
  events_actor events;
  state_feed_actor feed;
  /// The notes of the volume actors' answers not passed on yet (passed on with `reported`, the
  /// counts the metrics actor has); `notes_pending`: a notes_atom message is on its way;
  /// `notes_next`: the next pass waits until then (volume_supervisor_config::notes_interval).
  volume_notes notes;
  bool notes_pending = false;
  clock_offset notes_next{0};
  /// Volumes already counted as attached to more than two nodes.
  std::unordered_set<std::string> anomalies;
  /// Requests that arrived before the rebuild, answered in order once it is done.
  std::vector<std::function<void()>> deferred;
  /// CSI unpublishes of the last `stale_window`, by volume and node ("volume\nnode"), oldest
  /// first in `unpublish_order`: a followed attach of a VolumeAttachment created before one of
  /// them is stale (Kubernetes detached it since) and ignored.
  std::unordered_map<std::string, caf::timestamp> unpublished;
  std::deque<std::pair<caf::timestamp, std::string>> unpublish_order;
  /// An expire_atom message is on its way (expire_later).
  bool expiry_pending = false;
  /// Followed attaches ignored as stale.
  uint64_t stale_ignored = 0;
  /// Volumes that may hibernate, by when (idle_since + hibernation.idle, actor clock): pushed when
  /// a volume becomes idle, at most once per volume (volume_entry::idle_queued), looked at by a
  /// delayed idle_atom message when the first is due, never by a scan of every volume. Nearly
  /// in order: an entry queued again after later activity may sit behind later ones.
  std::deque<std::pair<clock_offset, std::string>> idle_queue;
  bool idle_tick_pending = false;
  /// volume_supervisor_config::hibernation.
  hibernation_settings hibernation;
  /// Dormant volumes (their entry has no actor), and since start the hibernations and revivals.
  size_t dormant = 0;
  uint64_t hibernations = 0;
  uint64_t revivals = 0;
  /// Hibernations given up because a request came for the volume while it was asked, or its
  /// actor was restarted meanwhile.
  uint64_t hibernations_abandoned = 0;
  /// Actors of volumes that no longer need one (detached, or hibernated), not told to exit yet:
  /// they go together, at most retire_batch at a time or retire_delay after the first, because
  /// each actor's exit wakes CAF's clock thread (CAF 0.17 cancels the actor's timeouts on its
  /// thread), and exits in a burst wake it about once. No message reaches them meanwhile: their
  /// entry has no handle to them any more.
  std::vector<volume_actor> retiring;
  /// Retired actors kept to serve the next new volumes (reuse_atom) instead of being ended: a
  /// spawn and an exit less for each (at most spare_actors; still watched).
  std::vector<volume_actor> spare;
  bool retire_pending = false;
  /// Hibernations since the heap was last trimmed, and whether a trim_atom is on its way.
  uint64_t hibernated_since_trim = 0;
  bool trim_pending = false;
  /// Test faults: publishes forwarded to the crash volume, and whether it crashed already.
  uint32_t crash_volume_publishes = 0;
  bool crash_volume_crashed = false;
  /// Test fault slow-status: answers waiting for their delayed message, by number.
  std::unordered_map<uint64_t, std::function<void()>> delayed_answers;
  uint64_t next_delayed_answer = 0;
};

/// Following a cluster, the supervisor rebuilds every volume actor from the first list of
/// VolumeAttachments a cluster watch sends it, holding CSI requests until then; without one
/// (the embedded default) it starts empty and ready. `catalog` tells which volumes exist;
/// `feed` gets the state changes (the volume actors' and its own restarts).
volume_supervisor_actor::behavior_type
volume_supervisor(volume_supervisor_actor::stateful_pointer<volume_supervisor_state> self,
                  volume_supervisor_config config, metrics_actor metrics, events_actor events,
                  volume_catalog_actor catalog, state_feed_actor feed);

} // namespace rds::actors
