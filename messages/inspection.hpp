// The vocabulary of the inspection port (issue 11): what the actors tell the inspector about
// themselves, and the live feed of state changes. Read-only by construction: no message here
// changes an actor's state.
#pragma once

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "messages/attachment.hpp"

namespace rds {

using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
constexpr inspect_atom inspect_atom_v{};
using feed_atom = caf::atom_constant<caf::atom("feed")>;
constexpr feed_atom feed_atom_v{};
using feed_timeout_atom = caf::atom_constant<caf::atom("feed_to")>;
constexpr feed_timeout_atom feed_timeout_atom_v{};
/// A delayed answer is due (the test fault that makes an actor slow to answer).
using answer_due_atom = caf::atom_constant<caf::atom("answer_due")>;
constexpr answer_due_atom answer_due_atom_v{};

/// One thing that happened to a volume, kept in the volume actor's ring of its last operations.
struct volume_operation {
  /// "publish", "unpublish", "follow-attach", "follow-detach", "follow-list", "timer".
  std::string kind;
  /// The node it concerned (empty: every node, or none).
  std::string node_id;
  /// The result as an `ec` name ("none" for success).
  std::string result;
  /// How long the volume actor took to handle it.
  caf::timespan duration{0};
  /// When it was handled (wall clock).
  caf::timestamp at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_operation& x) {
  return f(caf::meta::type_name("rds.volume_operation"), x.kind, x.node_id, x.result, x.duration,
           x.at);
}

/// How many operations a volume actor remembers.
constexpr size_t volume_operation_ring = 32;

/// The whole state of one volume actor, as /debug/volumes/{id} shows it.
struct volume_inspection {
  attachment_state state;
  /// When the migration timer fires, on the actor clock (zero: no timer armed).
  clock_offset timer_deadline{0};
  /// The actor clock's "now" when the answer was made, so the reader can compute time left
  /// and turn actor-clock offsets into wall-clock times.
  clock_offset now{0};
  /// Wall clock at the same moment as `now`.
  caf::timestamp wall_now;
  /// The last operations, oldest first (at most volume_operation_ring).
  std::vector<volume_operation> recent;
  /// Filled by the supervisor: requests forwarded to this actor and not answered yet.
  uint32_t in_flight = 0;
  /// Filled by the supervisor: how often this volume's actor was restarted after a crash.
  uint32_t restarts = 0;
  /// Filled by the supervisor: the volume was seen attached to more than two nodes.
  bool anomaly = false;
  /// Filled by the supervisor: the volume's actor is retired while idle and this answer comes
  /// from the supervisor's record (its state and ring, kept exactly), not from an actor.
  bool dormant = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_inspection& x) {
  return f(caf::meta::type_name("rds.volume_inspection"), x.state, x.timer_deadline, x.now,
           x.wall_now, x.recent, x.in_flight, x.restarts, x.anomaly, x.dormant);
}

/// A page of /debug/volumes: volumes in id order after `after`, filtered.
struct volume_page_request {
  /// Only volumes attached to this node (empty: any).
  std::string node_id;
  bool migrating_only = false;
  bool timed_out_only = false;
  bool anomaly_only = false;
  /// At most this many volumes (the inspector bounds it).
  uint32_t limit = 500;
  /// Start after this volume id (empty: from the first).
  std::string after;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_page_request& x) {
  return f(caf::meta::type_name("rds.volume_page_request"), x.node_id, x.migrating_only,
           x.timed_out_only, x.anomaly_only, x.limit, x.after);
}

/// A page of the migrations in flight, soonest timer first.
struct migrations_page_request {
  /// At most this many migrations (the inspector bounds it).
  uint32_t limit = 500;
  /// Start after this position (a timer deadline on the actor clock, then a volume id: the
  /// last one of the previous page); from the first when false.
  bool has_after = false;
  int64_t after_deadline_ns = 0;
  std::string after_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, migrations_page_request& x) {
  return f(caf::meta::type_name("rds.migrations_page_request"), x.limit, x.has_after,
           x.after_deadline_ns, x.after_id);
}

/// One volume in a page: its state as the supervisor last knew it.
struct volume_summary {
  attachment_state state;
  bool anomaly = false;
  uint32_t restarts = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_summary& x) {
  return f(caf::meta::type_name("rds.volume_summary"), x.state, x.anomaly, x.restarts);
}

struct volume_page {
  std::vector<volume_summary> volumes;
  /// The id to pass as `after` for the next page; empty when this is the last.
  std::string next_after;
  /// Migrations: how many are in flight in all (0 for a page of volumes).
  uint64_t total = 0;
  /// The actor clock's "now" and the wall clock at the same moment (see volume_inspection).
  clock_offset now{0};
  caf::timestamp wall_now;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_page& x) {
  return f(caf::meta::type_name("rds.volume_page"), x.volumes, x.next_after, x.total, x.now,
           x.wall_now);
}

/// One state change of the live feed (/debug/stream).
struct state_change {
  /// Assigned by the feed: increases by one per change.
  uint64_t sequence = 0;
  caf::timestamp at;
  /// "attach", "detach", "migration_started", "migration_ended", "timer_fired",
  /// "conflict_refused", "actor_restarted".
  std::string kind;
  std::string volume_id;
  /// The nodes concerned (attach/detach: the node; migration: source and target; conflict: the
  /// attached nodes and then the refused one).
  std::vector<std::string> nodes;
  /// migration_ended: "success", "failed"; timer_fired: "timeout"; else empty.
  std::string result;
  /// A human sentence; never a secret.
  std::string detail;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, state_change& x) {
  return f(caf::meta::type_name("rds.state_change"), x.sequence, x.at, x.kind, x.volume_id, x.nodes,
           x.result, x.detail);
}

/// Several changes at once, in the order they happened (the volume supervisor passes its volume
/// actors' changes on so).
struct state_change_batch {
  std::vector<state_change> changes;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_change_batch& x) {
  return f(caf::meta::type_name("rds.state_change_batch"), x.changes);
}

/// The answer to a feed poll: the changes after the asked sequence number, and the number of
/// changes that were dropped before the reader saw them (the feed keeps a bounded ring).
struct state_changes {
  std::vector<state_change> changes;
  uint64_t dropped = 0;
  /// The sequence number to ask after next time.
  uint64_t last_sequence = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, state_changes& x) {
  return f(caf::meta::type_name("rds.state_changes"), x.changes, x.dropped, x.last_sequence);
}

/// state_feed: a bounded ring of the latest state changes, filled by the volume supervisor (its
/// own changes and its volume actors') with plain sends (never waits), read by the inspector's
/// stream readers.
using state_feed_actor = caf::typed_actor<
  // Record changes, in order (their sequence, and their time if unset, are assigned here).
  caf::reacts_to<state_change_batch>,
  // The changes after the given sequence number; answered at once if there are any, else when
  // the next one arrives or after the given wait (then with none, as a heartbeat).
  caf::replies_to<feed_atom, uint64_t, caf::timespan>::with<state_changes>,
  // The feed's own timer: the wait of the reader with this number is over.
  caf::reacts_to<feed_timeout_atom, uint64_t>>;

} // namespace rds
