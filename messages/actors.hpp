// Every typed actor interface of the driver, with the atoms they speak. Implementations include
// this header and never redeclare a signature.
#pragma once

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/timestamp.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "messages/attachment.hpp"
#include "messages/cluster_state.hpp"
#include "messages/error_code.hpp"
#include "messages/inspection.hpp"
#include "messages/kube_objects.hpp"
#include "messages/metric_events.hpp"
#include "messages/node.hpp"
#include "messages/volume.hpp"

namespace rds::actors {
/// A volume's last operations, compact (actors/volume.hpp).
class operation_ring;
} // namespace rds::actors

namespace rds {

using publish_atom = caf::atom_constant<caf::atom("publish")>;
constexpr publish_atom publish_atom_v{};
using unpublish_atom = caf::atom_constant<caf::atom("unpublish")>;
constexpr unpublish_atom unpublish_atom_v{};
using status_atom = caf::atom_constant<caf::atom("status")>;
constexpr status_atom status_atom_v{};
using migration_timer_atom = caf::atom_constant<caf::atom("mig_timer")>;
constexpr migration_timer_atom migration_timer_atom_v{};
/// Records kept for a while are due to be forgotten (a delayed message to oneself).
using expire_atom = caf::atom_constant<caf::atom("expire")>;
constexpr expire_atom expire_atom_v{};
using volume_state_atom = caf::atom_constant<caf::atom("vol_state")>;
constexpr volume_state_atom volume_state_atom_v{};
using conflict_atom = caf::atom_constant<caf::atom("conflict")>;
constexpr conflict_atom conflict_atom_v{};
using migration_started_atom = caf::atom_constant<caf::atom("mig_start")>;
constexpr migration_started_atom migration_started_atom_v{};
using volume_restarted_atom = caf::atom_constant<caf::atom("vol_restrt")>;
constexpr volume_restarted_atom volume_restarted_atom_v{};
using scrape_atom = caf::atom_constant<caf::atom("scrape")>;
constexpr scrape_atom scrape_atom_v{};
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
constexpr lookup_atom lookup_atom_v{};
using sync_atom = caf::atom_constant<caf::atom("sync")>;
constexpr sync_atom sync_atom_v{};
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;
constexpr nodes_atom nodes_atom_v{};
using watch_atom = caf::atom_constant<caf::atom("watch")>;
constexpr watch_atom watch_atom_v{};
using claims_atom = caf::atom_constant<caf::atom("claims")>;
constexpr claims_atom claims_atom_v{};
using create_atom = caf::atom_constant<caf::atom("create")>;
constexpr create_atom create_atom_v{};
using delete_atom = caf::atom_constant<caf::atom("delete")>;
constexpr delete_atom delete_atom_v{};
using capacity_atom = caf::atom_constant<caf::atom("capacity")>;
constexpr capacity_atom capacity_atom_v{};
using expand_atom = caf::atom_constant<caf::atom("expand")>;
constexpr expand_atom expand_atom_v{};
using list_atom = caf::atom_constant<caf::atom("list")>;
constexpr list_atom list_atom_v{};
using find_atom = caf::atom_constant<caf::atom("find")>;
constexpr find_atom find_atom_v{};
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
constexpr snapshot_atom snapshot_atom_v{};
using unsnapshot_atom = caf::atom_constant<caf::atom("unsnapshot")>;
constexpr unsnapshot_atom unsnapshot_atom_v{};
using snapshots_atom = caf::atom_constant<caf::atom("snapshots")>;
constexpr snapshots_atom snapshots_atom_v{};
using describe_atom = caf::atom_constant<caf::atom("describe")>;
constexpr describe_atom describe_atom_v{};
using stage_atom = caf::atom_constant<caf::atom("stage")>;
constexpr stage_atom stage_atom_v{};
using unstage_atom = caf::atom_constant<caf::atom("unstage")>;
constexpr unstage_atom unstage_atom_v{};
using stats_atom = caf::atom_constant<caf::atom("stats")>;
constexpr stats_atom stats_atom_v{};
using anomaly_atom = caf::atom_constant<caf::atom("anomaly")>;
constexpr anomaly_atom anomaly_atom_v{};
using post_atom = caf::atom_constant<caf::atom("post")>;
constexpr post_atom post_atom_v{};
/// The supervisor asks an idle volume actor to hand over what it keeps, before retiring it.
using hibernate_atom = caf::atom_constant<caf::atom("hibernate")>;
constexpr hibernate_atom hibernate_atom_v{};
/// The supervisor gives a retired volume actor a new volume to serve instead of spawning one.
using reuse_atom = caf::atom_constant<caf::atom("reuse")>;
constexpr reuse_atom reuse_atom_v{};
/// The supervisor's own delayed message: the idle volumes whose time has come may hibernate.
using idle_atom = caf::atom_constant<caf::atom("idle")>;
constexpr idle_atom idle_atom_v{};
/// The supervisor's own delayed message: the actors of detached or hibernated volumes waiting
/// to be retired go now.
using retire_atom = caf::atom_constant<caf::atom("retire")>;
constexpr retire_atom retire_atom_v{};
/// The supervisor's own delayed message: give the memory of retired actors back to the system.
using trim_atom = caf::atom_constant<caf::atom("trim")>;
constexpr trim_atom trim_atom_v{};
/// The supervisor's own message, behind those waiting when it was sent: pass on the volume
/// actors' notes gathered meanwhile.
using notes_atom = caf::atom_constant<caf::atom("notes")>;
constexpr notes_atom notes_atom_v{};

/// The volume catalog's listener (the volume supervisor) subscribes with it, and is told with it
/// what the catalog learned and forgot.
using known_atom = caf::atom_constant<caf::atom("known")>;
constexpr known_atom known_atom_v{};

/// The status answers below carry the answering actor's own mailbox depth: the messages waiting
/// in it as it answered. Only the actor itself may count its mailbox in CAF 0.17
/// (scheduled_actor::mailbox().size() moves messages from the shared inbox into the actor's own
/// queues), so each actor reports it in its answer; -1 where an actor does not.
template <class Self> int64_t own_mailbox(Self* self) {
  return static_cast<int64_t>(self->mailbox().size());
}

/// What the metrics actor reports about itself.
struct metrics_status {
  /// host:port the /metrics endpoint listens on (the real port when 0 was asked), or empty.
  std::string listen_address;
  /// Why the endpoint could not be served (e.g. the address is in use), or empty.
  std::string error;
  /// Its own mailbox depth as it answered (see own_mailbox); -1: not reported.
  int64_t mailbox = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, metrics_status& x) {
  return f(caf::meta::type_name("rds.metrics_status"), x.listen_address, x.error, x.mailbox);
}

/// What the volume supervisor reports about itself.
struct supervisor_status {
  /// Volume actors alive.
  uint64_t volume_actors = 0;
  /// Volumes attached to at least one node.
  uint64_t attached = 0;
  /// Volumes attached to two nodes.
  uint64_t migrating = 0;
  /// Volume actors restarted after a crash.
  uint64_t restarts = 0;
  /// Requests forwarded to volume actors and not answered yet.
  uint64_t in_flight = 0;
  /// The state has been rebuilt from Kubernetes (always true without a cluster).
  bool ready = false;
  /// CSI requests waiting for the rebuild.
  uint64_t deferred = 0;
  /// Followed attaches ignored because a CSI unpublish came after their VolumeAttachment.
  uint64_t stale_ignored = 0;
  /// Its own mailbox depth as it answered (see own_mailbox); -1: not reported.
  int64_t mailbox = -1;
  /// Volumes known (attached, or with a request in flight): volume_actors + dormant.
  uint64_t volumes = 0;
  /// Volumes whose actor was retired while idle (--volume-idle-seconds); the supervisor keeps
  /// their state and operation ring and revives the actor on the next message for it.
  uint64_t dormant = 0;
  /// Since start: actors retired while idle, and revived.
  uint64_t hibernations = 0;
  uint64_t revivals = 0;
  /// Since start: hibernations given up because a request for the volume came while its actor
  /// was asked (the actor stays; it is idle again after that request), or because the actor
  /// crashed meanwhile and was restarted.
  uint64_t hibernations_abandoned = 0;
  /// Actors of volumes that no longer need one (detached, or hibernated), not counted in
  /// volume_actors, waiting to exit together with others (at most 64, for at most 100 ms).
  uint64_t retiring = 0;
  /// Retired actors kept to serve the next new volumes instead of exiting (at most 64), not
  /// counted in volume_actors.
  uint64_t spare = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_status& x) {
  return f(caf::meta::type_name("rds.supervisor_status"), x.volume_actors, x.attached, x.migrating,
           x.restarts, x.in_flight, x.ready, x.deferred, x.stale_ignored, x.mailbox, x.volumes,
           x.dormant, x.hibernations, x.revivals, x.hibernations_abandoned, x.retiring, x.spare);
}

/// One RouterOS request of the rds actor that has not been answered yet.
struct rds_request_status {
  /// "create", "delete", "find", "expand", "capacity", "list", "snapshot", "unsnapshot",
  /// "snapshots".
  std::string operation;
  /// The volume or snapshot it concerns (empty for capacity and the lists).
  std::string target;
  /// When the rds actor took it (wall clock).
  caf::timestamp since;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rds_request_status& x) {
  return f(caf::meta::type_name("rds.rds_request_status"), x.operation, x.target, x.since);
}

/// What the rds actor reports about itself.
struct rds_status {
  /// The circuit breaker: "closed", "open" or "half-open".
  std::string breaker;
  /// Copies running in copy workers ("snapshot <name>", "volume <name>").
  std::vector<std::string> copying;
  /// When the breaker last changed (zero: it never did since the start).
  caf::timestamp breaker_since;
  /// Requests on the session, oldest first: the first one is running, the others wait for it.
  std::vector<rds_request_status> in_flight;
  /// The copies running in copy workers, with when each started.
  std::vector<rds_request_status> copies;
  /// Requests the session has answered since the start.
  uint64_t answered = 0;
  /// Its own mailbox depth as it answered (see own_mailbox); -1: not reported.
  int64_t mailbox = -1;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, rds_status& x) {
  return f(caf::meta::type_name("rds.rds_status"), x.breaker, x.copying, x.breaker_since,
           x.in_flight, x.copies, x.answered, x.mailbox);
}

/// The rds actor's session moved its circuit breaker (sent by the session worker).
struct rds_breaker_moved {
  /// "closed", "open" or "half-open".
  std::string state;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rds_breaker_moved& x) {
  return f(caf::meta::type_name("rds.rds_breaker_moved"), x.state);
}

/// What a cluster watch reports about itself. Its worker sends a fresh copy whenever it changes,
/// so the watch answers at once even while the worker is blocked in a list or a watch stream.
struct watch_status {
  /// The API path it lists and watches.
  std::string resource;
  uint64_t lists = 0;
  uint64_t events = 0;
  uint64_t relists = 0;
  uint64_t failures = 0;
  /// The resourceVersion the next watch starts from (the last list's, event's or bookmark's);
  /// empty before the first list.
  std::string resource_version;
  /// When the last change (not a bookmark) arrived (zero: none yet).
  caf::timestamp last_event;
  /// What the worker is doing: "starting", "listing", "watching", "backing off" or "stopped".
  std::string activity;
  /// Since when it does it.
  caf::timestamp activity_since;
  /// Objects in the last complete list.
  uint64_t listed_objects = 0;
  /// Why the last list or watch failed (empty: none failed).
  std::string last_failure;
  /// When it failed.
  caf::timestamp last_failure_at;
  /// Its own mailbox depth as it answered (see own_mailbox); -1: not reported.
  int64_t mailbox = -1;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, watch_status& x) {
  return f(caf::meta::type_name("rds.watch_status"), x.resource, x.lists, x.events, x.relists,
           x.failures, x.resource_version, x.last_event, x.activity, x.activity_since,
           x.listed_objects, x.last_failure, x.last_failure_at, x.mailbox);
}

/// A VolumeAttachment waiting for its PersistentVolume.
struct waiting_attachment {
  std::string name;
  std::string persistent_volume;
  std::string node;
  /// When Kubernetes created it.
  caf::timestamp created;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, waiting_attachment& x) {
  return f(caf::meta::type_name("rds.waiting_attachment"), x.name, x.persistent_volume, x.node,
           x.created);
}

/// What the attachment join reports about itself.
struct join_status {
  /// PersistentVolumes known (tombstones of deleted ones still named included).
  uint64_t persistent_volumes = 0;
  /// This driver's VolumeAttachments known.
  uint64_t attachments = 0;
  /// VolumeAttachments whose PersistentVolume has not been seen (yet).
  uint64_t waiting = 0;
  /// The PersistentVolumes they wait for (at most 100 names).
  std::vector<std::string> waiting_for;
  /// PersistentVolumes deleted while VolumeAttachments still name them (kept until those go).
  uint64_t deleted_while_attached = 0;
  /// Both lists arrived and the supervisor has its inventory.
  bool synced = false;
  /// The VolumeAttachments waiting (at most 100, by name).
  std::vector<waiting_attachment> waiting_attachments;
  /// Its own mailbox depth as it answered (see own_mailbox); -1: not reported.
  int64_t mailbox = -1;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, join_status& x) {
  return f(caf::meta::type_name("rds.join_status"), x.persistent_volumes, x.attachments, x.waiting,
           x.waiting_for, x.deleted_while_attached, x.synced, x.waiting_attachments, x.mailbox);
}

/// What the attachment join's last message changed, for the metrics actor.
struct join_recorded {
  /// VolumeAttachments waiting for their PersistentVolume now.
  uint64_t waiting = 0;
  /// VolumeAttachments that started waiting.
  uint64_t started_waiting = 0;
  /// PersistentVolumes deleted while VolumeAttachments still named them.
  uint64_t deleted_while_attached = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, join_recorded& x) {
  return f(caf::meta::type_name("rds.join_recorded"), x.waiting, x.started_waiting,
           x.deleted_while_attached);
}

/// A cluster watch had to list again (410 Gone or a broken stream), or a list or watch failed.
struct watch_trouble {
  /// "volumeattachments", "persistentvolumes" or "nodes".
  std::string resource;
  uint64_t relists = 0;
  uint64_t failures = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, watch_trouble& x) {
  return f(caf::meta::type_name("rds.watch_trouble"), x.resource, x.relists, x.failures);
}

struct event_posted {
  std::string reason;
  bool ok = true;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, event_posted& x) {
  return f(caf::meta::type_name("rds.event_posted"), x.reason, x.ok);
}

/// A change made to follow Kubernetes rather than a CSI call.
struct reconciled {
  /// "attach": Kubernetes shows a node the driver did not have; "detach": the reverse.
  std::string action;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, reconciled& x) {
  return f(caf::meta::type_name("rds.reconciled"), x.action);
}

/// Something that happened to a volume that its users should see: a Kubernetes Event on the
/// volume's PersistentVolumeClaim.
struct volume_event {
  std::string volume_id;
  /// VolumeAttached, VolumeDetached, AttachmentConflict, MigrationStarted, MigrationCompleted,
  /// MigrationFailed or MigrationTimedOut.
  std::string reason;
  bool warning = false;
  /// Names the nodes and durations; never a secret.
  std::string message;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_event& x) {
  return f(caf::meta::type_name("rds.volume_event"), x.volume_id, x.reason, x.warning, x.message);
}

/// Several events at once, in the order they happened (the volume supervisor passes its volume
/// actors' events on so).
struct volume_events {
  std::vector<volume_event> events;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_events& x) {
  return f(caf::meta::type_name("rds.volume_events"), x.events);
}

/// What a volume actor observed while it handled a request or its timer: the attach and detach
/// operations for the metrics, the Events for the volume's users and the changes for the live
/// feed. It hands them to its supervisor with its answer (or, for its timer, with its new
/// state), and the supervisor passes them on, those of many volumes in one message to each
/// receiver when requests come faster than it answers them. (Its rarer metrics, conflicts and
/// migrations, a volume actor sends itself: counters whose order does not matter.)
struct volume_notes {
  std::vector<attachment_recorded> recorded;
  std::vector<volume_event> events;
  std::vector<state_change> changes;

  bool empty() const { return recorded.empty() && events.empty() && changes.empty(); }
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_notes& x) {
  return f(caf::meta::type_name("rds.volume_notes"), x.recorded, x.events, x.changes);
}

/// Which PersistentVolumeClaim a volume belongs to (from its PV's claimRef).
struct volume_claim {
  std::string volume_id;
  std::string claim_namespace;
  std::string claim_name;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_claim& x) {
  return f(caf::meta::type_name("rds.volume_claim"), x.volume_id, x.claim_namespace, x.claim_name);
}

struct events_status {
  /// Events handed in, by reason (posted or not).
  std::map<std::string, uint64_t> recorded;
  uint64_t posted = 0;
  uint64_t failed = 0;
  /// Events of volumes whose claim is unknown (e.g. a volume with no PV): logged only.
  uint64_t without_claim = 0;
  /// Posts handed to the poster and not answered yet.
  uint64_t in_flight = 0;
  /// When the oldest of them was handed over (zero: none in flight).
  caf::timestamp oldest_in_flight_since;
  /// Why the last post failed (empty: none failed).
  std::string last_failure;
  /// Its own mailbox depth as it answered (see own_mailbox); -1: not reported.
  int64_t mailbox = -1;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, events_status& x) {
  return f(caf::meta::type_name("rds.events_status"), x.recorded, x.posted, x.failed,
           x.without_claim, x.in_flight, x.oldest_in_flight_since, x.last_failure, x.mailbox);
}

/// What a node_volume actor knows of its volume on this node: what its own operations did.
struct node_volume_status {
  std::string volume_id;
  /// The operation in flight ("stage", "unstage", "publish", "unpublish", "stats", "expand"),
  /// or empty.
  std::string operation;
  /// When it started (zero: none in flight).
  caf::timestamp operation_since;
  /// The block device the last operation found (e.g. /dev/nvme1n1), or empty.
  std::string device;
  /// Where it is staged (empty: not staged by this process).
  std::string staging_path;
  /// Where it is published.
  std::vector<std::string> targets;
  /// The last operation that ended, and its result as an ec name ("none": success).
  std::string last_operation;
  std::string last_result;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_volume_status& x) {
  return f(caf::meta::type_name("rds.node_volume_status"), x.volume_id, x.operation,
           x.operation_since, x.device, x.staging_path, x.targets, x.last_operation, x.last_result);
}

/// What the node supervisor reports about itself.
struct node_status {
  /// The volumes that have a node_volume actor.
  std::vector<std::string> volumes;
  /// Each of them as its node_volume last reported it, in volume id order.
  std::vector<node_volume_status> states;
  /// Its own mailbox depth as it answered (see own_mailbox); -1: not reported.
  int64_t mailbox = -1;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_status& x) {
  return f(caf::meta::type_name("rds.node_status"), x.volumes, x.states, x.mailbox);
}

/// The block device an nvme_io found for a volume (from a stage or a publish).
struct device_resolved {
  std::string device;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_resolved& x) {
  return f(caf::meta::type_name("rds.device_resolved"), x.device);
}

/// events: turns volume events into Kubernetes Events on the volume's PVC (posting on its own
/// thread, so a slow API server never slows a CSI call); without a cluster it only logs them.
using events_actor = caf::typed_actor<
  // Record events, in order.
  caf::reacts_to<volume_events>,
  // Volume -> PVC mappings, from the PersistentVolumes the attachment join follows; one with
  // neither namespace nor name: the volume's PV is gone, forget it.
  caf::reacts_to<claims_atom, std::vector<volume_claim>>,
  caf::replies_to<status_atom>::with<events_status>>;

/// events poster: the events actor's worker with a cluster (detached): posts one Event (path,
/// JSON body) at a time on its own client, so the events actor answers while a post is slow.
using events_poster_actor =
  caf::typed_actor<caf::replies_to<post_atom, std::string, std::string>::with<outcome>>;

/// metrics: owns the Prometheus registry and every metric family; serves /metrics.
using metrics_actor = caf::typed_actor<
  // Publishes and unpublishes changed volumes' attachments; the supervisor's counts now (see
  // attachment_activity).
  caf::reacts_to<attachment_activity>,
  // A publish was refused because the volume is attached elsewhere.
  caf::reacts_to<conflict_atom>,
  // A second node was attached to an RWX block volume.
  caf::reacts_to<migration_started_atom>,
  // A migration reached its result (success, failed or timeout).
  caf::reacts_to<migration_result_recorded>,
  // A migration ended after the given time.
  caf::reacts_to<migration_ended>,
  // A crashed volume actor was restarted.
  caf::reacts_to<volume_restarted_atom>,
  // A volume was found attached to more than two nodes.
  caf::reacts_to<anomaly_atom>,
  // A volume actor followed Kubernetes.
  caf::reacts_to<reconciled>,
  // A cluster watch relisted or failed.
  caf::reacts_to<watch_trouble>,
  // The attachment join's waiting VolumeAttachments and deleted PersistentVolumes.
  caf::reacts_to<join_recorded>,
  // A Kubernetes Event was posted (true) or could not be (false), with its reason.
  caf::reacts_to<event_posted>,
  // A volume operation on the RDS finished.
  caf::reacts_to<volume_operation_recorded>,
  // An HTTP request to the RDS finished.
  caf::reacts_to<rds_request_recorded>,
  // The RDS circuit breaker changed state.
  caf::reacts_to<rds_connection_changed>,
  // CSI RPCs finished.
  caf::reacts_to<rpcs_recorded>,
  // The inspection port answered a request.
  caf::reacts_to<debug_request_recorded>,
  // Node side: an NVMe connect, the count of this node's connections, a mount operation, a
  // stale mount found or recovered.
  caf::reacts_to<nvme_connect_recorded>, caf::reacts_to<nvme_connections_counted>,
  caf::reacts_to<mount_recorded>, caf::reacts_to<stale_mount_recorded>,
  // The Prometheus text exposition of every metric.
  caf::replies_to<scrape_atom>::with<std::string>,
  caf::replies_to<status_atom>::with<metrics_status>>;

/// Whoever wants to know the states a volume actor moves to by itself (its supervisor).
using volume_state_listener = caf::typed_actor<
  // The volume's state after its migration timer changed it, and what it observed then.
  caf::reacts_to<volume_state_atom, attachment_state, volume_notes>>;

/// A volume actor's answer to the supervisor's hibernate request. Local only (never serialised).
struct volume_hibernation {
  /// False while it migrates (its timer matters): it stays.
  bool accepted = false;
  /// A copy of its ring of operations (null when empty): the supervisor keeps it while the
  /// volume is dormant and gives it to the revived actor.
  std::shared_ptr<actors::operation_ring> ring;
};

/// volume: one per volume on the controller; owns its attachments and migration timer and
/// serialises everything that happens to that volume.
/// Every reply that may change the state carries the state after it, so whoever asked knows it
/// with the answer, not from a second message, and what the actor observed meanwhile (see
/// volume_notes).
using volume_actor = caf::typed_actor<
  // Attach the volume to a node (idempotent).
  caf::replies_to<publish_atom, publish_request>::with<outcome, attachment_state, volume_notes>,
  // Detach the volume from a node, or from every node (idempotent).
  caf::replies_to<unpublish_atom, unpublish_request>::with<outcome, attachment_state, volume_notes>,
  // The migration timer with this number fired (a new state goes to the listener); at most one
  // is pending per volume, see volume_state.
  caf::reacts_to<migration_timer_atom, uint64_t>,
  // Follow what Kubernetes says about every node of this volume (after a list).
  caf::replies_to<sync_atom, observed_volume>::with<outcome, attachment_state, volume_notes>,
  // Follow what Kubernetes says about one node of this volume (a watch event).
  caf::replies_to<sync_atom, attachment_change>::with<outcome, attachment_state, volume_notes>,
  caf::replies_to<status_atom>::with<attachment_state>,
  // The whole state: attachments, timer deadline, the ring of its last operations (for the
  // inspection port; changes nothing).
  caf::replies_to<inspect_atom>::with<volume_inspection>,
  // Idle: hand over the ring of operations (accepted unless migrating), and the state; the
  // supervisor then retires the actor, or gives up if anything was forwarded meanwhile.
  caf::replies_to<hibernate_atom>::with<volume_hibernation, attachment_state>,
  // Serve another, new volume from now on (the state given, an empty ring): the supervisor
  // keeps a few retired actors for this instead of ending them and spawning new ones.
  caf::reacts_to<reuse_atom, attachment_state>>;

/// rds: the RouterOS REST session of the controller. Its requests run one at a time in its
/// session worker (detached: they block the worker's thread, never the scheduler) and copies in
/// copy workers, so it answers status while any of them runs.
using rds_actor = caf::typed_actor<
  // Create (or find again, for the same name) a file-backed, exported disk, empty or with the
  // content of a snapshot or another volume.
  caf::replies_to<create_atom, create_volume_request>::with<outcome, volume_info>,
  // Unexport and remove a volume's disk and its backing file (unknown = done).
  caf::replies_to<delete_atom, std::string>::with<outcome>,
  // One volume (not_found unless it exists and is exported).
  caf::replies_to<find_atom, std::string>::with<outcome, volume_info>,
  // Copy a volume into a new snapshot disk (or find it again, for the same name).
  caf::replies_to<snapshot_atom, create_snapshot_request>::with<outcome, snapshot_info>,
  // Remove a snapshot's disk and its backing file (unknown = done).
  caf::replies_to<unsnapshot_atom, std::string>::with<outcome>,
  // Every snapshot of this driver (slot "snp-..."), ordered by id.
  caf::replies_to<snapshots_atom>::with<outcome, std::vector<snapshot_info>>,
  caf::replies_to<status_atom>::with<rds_status>,
  // Free bytes in the pool.
  caf::replies_to<capacity_atom>::with<outcome, uint64_t>,
  // Grow a volume to at least the given bytes; its capacity afterwards.
  caf::replies_to<expand_atom, std::string, uint64_t>::with<outcome, uint64_t>,
  // Every volume of this driver (slot "csi-..."), ordered by id.
  caf::replies_to<list_atom>::with<outcome, std::vector<volume_info>>>;

/// rds session: the rds actor's worker (detached), which owns the RouterOS session and its
/// circuit breaker and runs the requests one at a time; the breaker's moves go to the rds actor.
using rds_session_actor = caf::typed_actor<
  // The requests of rds_actor that copy no data, with the same meaning.
  caf::replies_to<create_atom, create_volume_request>::with<outcome, volume_info>,
  caf::replies_to<delete_atom, std::string>::with<outcome>,
  caf::replies_to<find_atom, std::string>::with<outcome, volume_info>,
  caf::replies_to<unsnapshot_atom, std::string>::with<outcome>,
  caf::replies_to<snapshots_atom>::with<outcome, std::vector<snapshot_info>>,
  caf::replies_to<capacity_atom>::with<outcome, uint64_t>,
  caf::replies_to<expand_atom, std::string, uint64_t>::with<outcome, uint64_t>,
  caf::replies_to<list_atom>::with<outcome, std::vector<volume_info>>>;

/// The rds actor as its session worker sees it: it also hears of the breaker's moves.
using rds_owner_actor = rds_actor::extend<caf::reacts_to<rds_breaker_moved>>;

/// rds copy worker: one snapshot, restore or clone (a copy that takes as long as the data), on
/// its own thread and RouterOS session, so the rds actor goes on serving everything else.
using rds_copy_actor = caf::typed_actor<
  caf::replies_to<create_atom, create_volume_request>::with<outcome, volume_info>,
  caf::replies_to<snapshot_atom, create_snapshot_request>::with<outcome, snapshot_info>>;

/// What the volume catalog reports about itself.
struct catalog_status {
  /// Volumes it knows to exist on the RDS.
  uint64_t volumes_known = 0;
  /// Its first list of the RDS's volumes is done (or failed): requests are served.
  bool warm = false;
  /// Requests held until then.
  uint64_t waiting = 0;
  /// Volumes it is asking the RDS about (each may have several finds in flight).
  uint64_t lookups_in_flight = 0;
  /// Its own mailbox depth as it answered (see own_mailbox).
  int64_t mailbox = -1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, catalog_status& x) {
  return f(caf::meta::type_name("rds.catalog_status"), x.volumes_known, x.warm, x.waiting,
           x.lookups_in_flight, x.mailbox);
}

/// What the volume catalog learned, for its listener: volumes it knows to exist from now on
/// (created, found, or listed: `everything` then, and they are all it knows), and volumes it
/// forgot (about to be deleted, or not found on the RDS).
struct known_volumes_change {
  std::vector<std::string> known;
  std::vector<std::string> forgotten;
  bool everything = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, known_volumes_change& x) {
  return f(caf::meta::type_name("rds.known_volumes_change"), x.known, x.forgotten, x.everything);
}

/// Whoever keeps a copy of which volumes the catalog knows (the volume supervisor, to let a
/// publish of a known volume go on without asking).
using catalog_listener = caf::typed_actor<caf::reacts_to<known_atom, known_volumes_change>>;

/// volume_catalog: owns which volumes exist on the RDS. Creates and deletes go through it, so it
/// learns from their answers; it answers "does it exist" from what it has seen created or found
/// and asks the rds actor only about a volume it does not know. Inner requests get the time left
/// until the request's deadline.
using volume_catalog_actor = caf::typed_actor<
  // Success if the volume exists, not_found if it does not, unavailable if the RDS cannot tell.
  caf::replies_to<find_atom, volume_id_request>::with<outcome>,
  // The volume as the RDS shows it now (always asked: its size may have grown).
  caf::replies_to<describe_atom, volume_id_request>::with<outcome, volume_info>,
  // Create (or find again, for the same name) a volume on the RDS; known from then on.
  caf::replies_to<create_atom, create_volume_request>::with<outcome, volume_info>,
  // Forget a volume (a publish meanwhile asks the RDS), then delete it on the RDS.
  caf::replies_to<delete_atom, volume_id_request>::with<outcome>,
  // What it knows and holds (see catalog_status).
  caf::replies_to<status_atom>::with<catalog_status>,
  // From now on, tell this listener what it knows (everything at once first) and each volume
  // it learns or forgets; there is one listener, a later subscription replaces it.
  caf::reacts_to<known_atom, catalog_listener>>;

/// cluster watch: follows one Kubernetes resource (VolumeAttachments, PersistentVolumes or Nodes)
/// by list + watch and hands each snapshot and change on as a message. Its calls run in its
/// watch worker (detached: they block the worker's thread, never the scheduler), which reports
/// its progress, so the watch answers status at once even mid-stream; it never asks the API for
/// anything else.
using cluster_watch_actor = caf::typed_actor<
  // The worker's status after a change (from the watch worker only).
  caf::reacts_to<watch_status>, caf::replies_to<status_atom>::with<watch_status>>;

/// watch worker: the blocking half of a cluster watch; one list + watch session.
using watch_worker_actor = caf::typed_actor<
  // Run one round: list if needed, then watch until the stream ends.
  caf::reacts_to<watch_atom>>;

/// attachment join: joins the followed VolumeAttachments with their PersistentVolumes (volume
/// handle, access mode, migration timeout, claim) and tells the supervisor what that means. A
/// VolumeAttachment whose PersistentVolume is not known yet waits for it; nothing is fetched.
using attachment_join_actor = caf::typed_actor<
  // Every VolumeAttachment of this driver: the first list, or a later one after a relist; and
  // when that list was taken.
  caf::reacts_to<sync_atom, std::vector<volume_attachment_object>, caf::timestamp>,
  // One VolumeAttachment of this driver added or changed (false) or deleted (true).
  caf::reacts_to<sync_atom, volume_attachment_object, bool>,
  // Every PersistentVolume: the first list, or a later one after a relist.
  caf::reacts_to<sync_atom, std::vector<persistent_volume_object>>,
  // One PersistentVolume added or changed (false) or deleted (true).
  caf::reacts_to<sync_atom, persistent_volume_object, bool>,
  caf::replies_to<status_atom>::with<join_status>>;

/// volume_supervisor: maps volume ids to volume actors, spawns them on demand, restarts crashed
/// ones from their last known state and retires detached ones; owns the rules that need more
/// than one volume's view (the node exists, the volume exists).
using volume_supervisor_actor = caf::typed_actor<
  // Publish a volume that exists (asking the catalog; when the RDS cannot tell, it goes on) to
  // a node that exists, through the volume's actor.
  caf::replies_to<publish_atom, publish_request>::with<outcome>,
  // Whether a volume exists: not_found only when the RDS says so (ValidateVolumeCapabilities).
  caf::replies_to<find_atom, volume_id_request>::with<outcome>,
  // A volume as the RDS shows it, and the nodes it is attached to (ControllerGetVolume).
  caf::replies_to<describe_atom, volume_id_request>::with<outcome, volume_info, attachment_state>,
  // Route an unpublish to the volume's actor; unknown volumes are already unpublished.
  caf::replies_to<unpublish_atom, unpublish_request>::with<outcome>,
  // A volume actor's state after its timer changed it, and what it observed then.
  caf::reacts_to<volume_state_atom, attachment_state, volume_notes>,
  // Its own: pass on what the volume actors observed (see volume_notes).
  caf::reacts_to<notes_atom>,
  // What the catalog learned (see catalog_listener).
  caf::reacts_to<known_atom, known_volumes_change>,
  // A full list of VolumeAttachments: the first one rebuilds every volume actor, later ones
  // (after a 410 or a broken watch) bring them back in line.
  caf::reacts_to<sync_atom, cluster_inventory>,
  // One VolumeAttachment changed.
  caf::reacts_to<sync_atom, attachment_change>,
  // The full list of Nodes, and one Node that appeared (true) or vanished (false).
  caf::reacts_to<nodes_atom, std::vector<std::string>>,
  caf::reacts_to<nodes_atom, std::string, bool>,
  caf::replies_to<status_atom>::with<supervisor_status>,
  // The state of one volume (detached and empty if it has no actor).
  caf::replies_to<status_atom, std::string>::with<attachment_state>,
  // The actor of one volume, or an invalid handle if it has none (for inspection and tests).
  caf::replies_to<lookup_atom, std::string>::with<volume_actor>,
  // Inspection (read-only): a page of volumes in id order, from the supervisor's own records
  // (no volume actor is asked).
  caf::replies_to<inspect_atom, volume_page_request>::with<volume_page>,
  // A page of the migrating volumes, soonest timer first (timed-out ones first of all), with
  // how many migrate in all; from an index, so a page costs its own size.
  caf::replies_to<inspect_atom, migrations_page_request>::with<volume_page>,
  // One volume, as its actor tells it (asked with a bounded deadline) plus the supervisor's
  // counts; not_found without an actor, unavailable (with the last known state) when the actor
  // does not answer in time.
  caf::replies_to<inspect_atom, std::string>::with<outcome, volume_inspection>,
  // Test fault --test-fault=slow-status: the delayed answer with this number is due.
  caf::reacts_to<answer_due_atom, uint64_t>,
  // Its own delayed message: the CSI unpublishes older than the stale window are forgotten.
  caf::reacts_to<expire_atom>,
  // Its own delayed message: volumes idle for --volume-idle-seconds may hibernate.
  caf::reacts_to<idle_atom>,
  // Its own delayed message: many actors were retired, their memory is given back.
  caf::reacts_to<trim_atom>,
  // Its own delayed message: the actors waiting to be retired go.
  caf::reacts_to<retire_atom>>;

/// The node operations on one volume, as nvme_io runs them, node_volume serialises them and the
/// node supervisor routes them.
using node_operations_actor = caf::typed_actor<
  // Connect the subsystem; for a filesystem, format it if (and only if) it has none, and mount
  // it at the staging path.
  caf::replies_to<stage_atom, stage_request>::with<outcome>,
  // Unmount the staging path; disconnect when nothing on the node uses the subsystem.
  caf::replies_to<unstage_atom, unstage_request>::with<outcome>,
  // Bind-mount the staging path at the target, or place the block device node there.
  caf::replies_to<publish_atom, node_publish_request>::with<outcome>,
  // Unmount and remove the target (rmdir or unlink, never recursive).
  caf::replies_to<unpublish_atom, node_unpublish_request>::with<outcome>,
  // Usage and condition of the volume at a path.
  caf::replies_to<stats_atom, volume_path_request>::with<outcome, volume_stats>,
  // Rescan the namespace and grow the filesystem; the device's bytes afterwards.
  caf::replies_to<expand_atom, volume_path_request>::with<outcome, uint64_t>>;

/// nvme_io: runs one blocking node operation on its own thread (spawned detached per
/// operation); every child process it starts has a deadline and is killed past it.
using nvme_io_actor = node_operations_actor;

/// node_volume: one per volume on a node. Serialises its volume's operations: a call while
/// another one is in flight is ABORTED at once.
using node_volume_actor = node_operations_actor::extend<
  // What it staged and published, and the operation in flight.
  caf::replies_to<status_atom>::with<node_volume_status>,
  // The device an operation found for the volume (from its nvme_io).
  caf::reacts_to<device_resolved>>;

/// Whoever keeps what a node_volume reports (its node supervisor).
using node_volume_listener = caf::typed_actor<caf::reacts_to<node_volume_status>>;

/// Whoever hears which device an nvme_io found (its node_volume).
using device_listener = caf::typed_actor<caf::reacts_to<device_resolved>>;

/// node supervisor: maps volume ids to node_volume actors, spawned on demand.
using node_supervisor_actor = node_operations_actor::extend<
  // The volumes that have a node_volume actor, and what each one staged and runs (as the
  // node_volume actors last reported it: nothing is asked of the system).
  caf::replies_to<status_atom>::with<node_status>,
  // A node_volume's state after a change.
  caf::reacts_to<node_volume_status>>;

} // namespace rds

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(rds::volume_hibernation)
