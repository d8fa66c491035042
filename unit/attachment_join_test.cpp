// The attachment join on CAF's test coordinator: VolumeAttachments and PersistentVolumes arrive
// in any order, as separate messages, and the supervisor ends up with what they say together.
#include "actors/attachment_join.hpp"
#include "actors/volume_supervisor.hpp"
#include "unit/actor_fixture.hpp"
#include "unit/fake_rds.hpp"

using namespace rds;
using namespace std::chrono_literals;

namespace {

const std::string driver = "rds.csi.srvlab.io";

/// Stands in for the events actor: keeps the claims it is told, records nothing else.
struct claim_recorder_state {
  static constexpr const char* name = "claim_recorder";
  std::map<std::string, volume_claim> claims;
};

events_actor::behavior_type
claim_recorder(events_actor::stateful_pointer<claim_recorder_state> self) {
  return {
    [](const volume_events&) {},
    [self](claims_atom, const std::vector<volume_claim>& claims) {
      for (auto& c : claims)
        self->state.claims[c.volume_id] = c;
    },
    [self](status_atom) {
      events_status status;
      // The claims, as "volume=namespace/name", so a test can read them back.
      for (auto& [volume, c] : self->state.claims)
        status.recorded[volume + "=" + c.claim_namespace + "/" + c.claim_name] = 1;
      return status;
    },
  };
}

persistent_volume_object pv(const std::string& name, const std::string& handle,
                            const std::string& claim = "") {
  persistent_volume_object p;
  p.name = name;
  p.driver = driver;
  p.volume_handle = handle;
  p.access_modes = {"ReadWriteMany"};
  p.volume_mode = "Block";
  p.volume_attributes = {{"migrationTimeoutSeconds", "600"}};
  if (!claim.empty()) {
    p.claim_namespace = "vms";
    p.claim_name = claim;
  }
  return p;
}

volume_attachment_object va(const std::string& pv_name, const std::string& node,
                            bool attached = true, int created_second = 0) {
  volume_attachment_object v;
  v.name = "csi-" + pv_name + "-" + node;
  v.attacher = driver;
  v.node_name = node;
  v.pv_name = pv_name;
  v.attached = attached;
  v.created = caf::make_timestamp() - std::chrono::seconds{100 - created_second};
  return v;
}

actors::volume_supervisor_config following() {
  actors::volume_supervisor_config cfg;
  cfg.follow_cluster = true;
  return cfg;
}

struct join_fixture : test::actor_fixture {
  events_actor claims = sys.spawn(claim_recorder);
  volume_supervisor_actor supervisor =
    sys.spawn(actors::volume_supervisor, following(), metrics, events,
              test::catalog_of_every_volume(sys, metrics), feed);
  attachment_join_actor join =
    sys.spawn(actors::attachment_join, actors::attachment_join_config{driver, {}}, supervisor,
              metrics, claims);

  join_fixture() {
    self->send(supervisor, nodes_atom_v, std::vector<std::string>{"a", "b", "c"});
    sched.run();
  }

  ~join_fixture() {
    for (auto handle : {caf::actor_cast<caf::actor>(join), caf::actor_cast<caf::actor>(supervisor),
                        caf::actor_cast<caf::actor>(claims)})
      self->send_exit(handle, caf::exit_reason::user_shutdown);
    sched.run();
  }

  template <class... Ts> void tell(Ts&&... xs) {
    self->send(join, sync_atom_v, std::forward<Ts>(xs)...);
    sched.run();
  }

  /// A list of VolumeAttachments, taken now.
  void tell(std::vector<volume_attachment_object> items) {
    self->send(join, sync_atom_v, std::move(items), caf::make_timestamp());
    sched.run();
  }

  join_status status() {
    auto s = ask<join_status>(join, status_atom_v);
    REQUIRE(s);
    return *s;
  }

  supervisor_status supervised() {
    auto s = ask<supervisor_status>(supervisor, status_atom_v);
    REQUIRE(s);
    return *s;
  }

  /// The nodes the volume's actor has, in order.
  std::vector<std::string> nodes_of(const std::string& volume_id) {
    auto s = ask<attachment_state>(supervisor, status_atom_v, volume_id);
    REQUIRE(s);
    std::vector<std::string> nodes;
    for (auto& n : s->nodes)
      nodes.push_back(n.node_id);
    return nodes;
  }

  bool has_claim(const std::string& entry) {
    auto s = ask<events_status>(claims, status_atom_v);
    REQUIRE(s);
    return s->recorded.count(entry) == 1;
  }
};

using names = std::vector<std::string>;

} // namespace

TEST_CASE_FIXTURE(join_fixture, "start-up waits for both lists, in either order") {
  tell(std::vector<volume_attachment_object>{va("pv-1", "a"), va("pv-2", "a", true, 1),
                                             va("pv-2", "b", true, 2)});
  CHECK_FALSE(supervised().ready);
  CHECK_FALSE(status().synced);
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1", "disk-1"), pv("pv-2", "vol-2")});
  CHECK(status().synced);
  CHECK(supervised().ready);
  CHECK(supervised().attached == 2);
  CHECK(supervised().migrating == 1);
  CHECK(nodes_of("vol-1") == names{"a"});
  CHECK(nodes_of("vol-2") == names{"a", "b"});
  CHECK(has_claim("vol-1=vms/disk-1"));
  CHECK(metric("rds_csi_kube_attachments_waiting_for_pv") == 0);
}

TEST_CASE_FIXTURE(join_fixture,
                  "a VolumeAttachment before its PersistentVolume waits, then applies") {
  tell(std::vector<volume_attachment_object>{});
  tell(std::vector<persistent_volume_object>{});
  REQUIRE(supervised().ready);
  tell(va("pv-1", "a"), false);
  CHECK(status().waiting == 1);
  CHECK(status().waiting_for == names{"pv-1"});
  {
    auto waiting = status().waiting_attachments;
    REQUIRE(waiting.size() == 1);
    CHECK(waiting[0].name == "csi-pv-1-a");
    CHECK(waiting[0].persistent_volume == "pv-1");
    CHECK(waiting[0].node == "a");
    CHECK(waiting[0].created != caf::timestamp{});
  }
  CHECK(supervised().attached == 0);
  CHECK(metric("rds_csi_kube_attachments_waiting_for_pv") == 1);
  CHECK(metric("rds_csi_kube_attachment_waits_total") == 1);
  // Another change for the same VolumeAttachment is still one waiting.
  tell(va("pv-1", "a"), false);
  CHECK(status().waiting == 1);
  CHECK(metric("rds_csi_kube_attachment_waits_total") == 1);
  // Waiting holds up nothing else.
  tell(pv("pv-2", "vol-2"), false);
  tell(va("pv-2", "b"), false);
  CHECK(nodes_of("vol-2") == names{"b"});
  // The PV arrives: the VolumeAttachment applies.
  tell(pv("pv-1", "vol-1", "disk-1"), false);
  CHECK(status().waiting == 0);
  CHECK(status().waiting_for.empty());
  CHECK(status().waiting_attachments.empty());
  CHECK(nodes_of("vol-1") == names{"a"});
  CHECK(has_claim("vol-1=vms/disk-1"));
  CHECK(metric("rds_csi_kube_attachments_waiting_for_pv") == 0);
  CHECK(metric("rds_csi_kube_attachment_waits_total") == 1);
}

TEST_CASE_FIXTURE(join_fixture, "a VolumeAttachment deleted while it waits stops waiting") {
  tell(std::vector<volume_attachment_object>{va("pv-9", "a")});
  tell(std::vector<persistent_volume_object>{});
  CHECK(status().waiting == 1);
  CHECK(metric("rds_csi_kube_attachment_waits_total") == 1);
  tell(va("pv-9", "a"), true);
  CHECK(status().waiting == 0);
  CHECK(status().attachments == 0);
  CHECK(metric("rds_csi_kube_attachments_waiting_for_pv") == 0);
}

TEST_CASE_FIXTURE(join_fixture, "a PersistentVolume deleted while attached is counted, and the "
                                "detach still reaches its volume") {
  tell(std::vector<volume_attachment_object>{va("pv-1", "a")});
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1")});
  REQUIRE(nodes_of("vol-1") == names{"a"});
  tell(pv("pv-1", "vol-1"), true);
  CHECK(status().deleted_while_attached == 1);
  CHECK(status().persistent_volumes == 1); // kept while a VolumeAttachment names it
  CHECK(metric("rds_csi_kube_pv_deleted_while_attached_total") == 1);
  // The VolumeAttachment is still the truth: a change to it is still applied.
  tell(va("pv-1", "b"), false);
  CHECK(nodes_of("vol-1") == names{"a", "b"});
  tell(va("pv-1", "b"), true);
  tell(va("pv-1", "a"), true);
  CHECK(nodes_of("vol-1").empty());
  CHECK(status().persistent_volumes == 0);
  CHECK(metric("rds_csi_kube_pv_deleted_while_attached_total") == 1);
}

TEST_CASE_FIXTURE(join_fixture, "a claim bound later reaches the events actor") {
  tell(std::vector<volume_attachment_object>{});
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1")});
  CHECK(has_claim("vol-1=/"));
  tell(pv("pv-1", "vol-1", "disk-1"), false);
  CHECK(has_claim("vol-1=vms/disk-1"));
}

TEST_CASE_FIXTURE(join_fixture, "relists: what a new list shows replaces what was known") {
  tell(std::vector<volume_attachment_object>{va("pv-1", "a"), va("pv-3", "a")});
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1"), pv("pv-2", "vol-2")});
  CHECK(status().waiting == 1);
  CHECK(nodes_of("vol-1") == names{"a"});
  // A PersistentVolume relist brings pv-3 (missed while the watch was broken): it applies.
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1"), pv("pv-3", "vol-3")});
  CHECK(status().waiting == 0);
  CHECK(nodes_of("vol-3") == names{"a"});
  CHECK(status().persistent_volumes == 2);
  // A VolumeAttachment relist: vol-1 moved from a to b while the watch was broken.
  tell(std::vector<volume_attachment_object>{va("pv-1", "b"), va("pv-3", "a")});
  CHECK(nodes_of("vol-1") == names{"b"});
  CHECK(nodes_of("vol-3") == names{"a"});
  // A PersistentVolume relist that lacks a PV still named: a tombstone, counted once.
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1")});
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1")});
  CHECK(status().deleted_while_attached == 1);
  CHECK(nodes_of("vol-3") == names{"a"});
  // The relist of VolumeAttachments without it drops the tombstone and detaches the volume.
  tell(std::vector<volume_attachment_object>{va("pv-1", "b")});
  CHECK(status().persistent_volumes == 1);
  CHECK(nodes_of("vol-3").empty());
}

TEST_CASE_FIXTURE(join_fixture, "other drivers' PersistentVolumes are never joined") {
  auto foreign = pv("pv-f", "vol-f");
  foreign.driver = "other.driver";
  tell(std::vector<volume_attachment_object>{va("pv-f", "a")});
  tell(std::vector<persistent_volume_object>{foreign});
  CHECK(status().waiting == 0);
  CHECK(supervised().attached == 0);
  CHECK_FALSE(has_claim("vol-f=/"));
}

TEST_CASE_FIXTURE(join_fixture, "a relist taken while a VolumeAttachment waits for its PV does "
                                "not undo the publish that followed it") {
  tell(std::vector<volume_attachment_object>{});
  tell(std::vector<persistent_volume_object>{});
  // The VolumeAttachment is seen, its PV not yet; the attacher publishes (it has the PV).
  tell(va("pv-1", "a", false), false);
  publish_capability cap{access_kind::multi_node_block, 5, true, false};
  auto published =
    ask<outcome>(supervisor, publish_atom_v, publish_request{"vol-1", "a", cap, 600s});
  REQUIRE(published);
  REQUIRE(published->ok());
  // A relist of VolumeAttachments before the PV arrives cannot show vol-1: it is kept.
  tell(std::vector<volume_attachment_object>{va("pv-1", "a", true)});
  CHECK(nodes_of("vol-1") == names{"a"});
  // The PV arrives: the join and the supervisor agree.
  tell(pv("pv-1", "vol-1"), false);
  CHECK(nodes_of("vol-1") == names{"a"});
  CHECK(status().waiting == 0);
  // Much later, a list without the volume (its VolumeAttachment went while the watch was
  // broken) detaches it.
  advance(60s);
  tell(std::vector<volume_attachment_object>{});
  CHECK(nodes_of("vol-1").empty());
}

TEST_CASE_FIXTURE(join_fixture, "a relist is a snapshot: CSI calls made after it was taken win") {
  tell(std::vector<volume_attachment_object>{va("pv-1", "a")});
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1")});
  REQUIRE(nodes_of("vol-1") == names{"a"});
  publish_capability cap{access_kind::multi_node_block, 5, true, false};
  auto taken_before = caf::make_timestamp() - 5s;
  // A migration to b is published; a list taken before it (without b) arrives afterwards.
  REQUIRE(ask<outcome>(supervisor, publish_atom_v, publish_request{"vol-1", "b", cap, 600s})->ok());
  self->send(join, sync_atom_v, std::vector<volume_attachment_object>{va("pv-1", "a")},
             taken_before);
  sched.run();
  CHECK(nodes_of("vol-1") == names{"a", "b"});
  CHECK(metric("rds_csi_migration_migrations_total{result=\"failed\"}") == 0);
  // The migration is rolled back (b unpublished); a list taken before that still shows b.
  REQUIRE(ask<outcome>(supervisor, unpublish_atom_v, unpublish_request{"vol-1", "b"})->ok());
  self->send(join, sync_atom_v,
             std::vector<volume_attachment_object>{va("pv-1", "a"), va("pv-1", "b")}, taken_before);
  sched.run();
  CHECK(nodes_of("vol-1") == names{"a"});
  CHECK(metric("rds_csi_migration_started_total") == 1);
  CHECK(metric("rds_csi_migration_migrations_total{result=\"failed\"}") == 1);
  CHECK(supervised().stale_ignored >= 1);
}

TEST_CASE_FIXTURE(join_fixture, "a VolumeAttachment being detached counts at start-up, and a "
                                "later list never attaches it again") {
  auto detaching = va("pv-1", "a");
  detaching.deleting = true;
  tell(std::vector<volume_attachment_object>{detaching});
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1")});
  // At start-up the node may still use the volume until its unpublish: it is attached.
  CHECK(nodes_of("vol-1") == names{"a"});
  REQUIRE(ask<outcome>(supervisor, unpublish_atom_v, unpublish_request{"vol-1", "a"})->ok());
  CHECK(nodes_of("vol-1").empty());
  // A later list still showing it (the finalizer not yet removed) does not bring it back, nor
  // does its event.
  advance(60s);
  tell(std::vector<volume_attachment_object>{detaching});
  tell(detaching, false);
  CHECK(nodes_of("vol-1").empty());
}

TEST_CASE_FIXTURE(join_fixture, "a PersistentVolume gone for good takes its claim with it") {
  tell(std::vector<volume_attachment_object>{});
  tell(std::vector<persistent_volume_object>{pv("pv-1", "vol-1", "disk-1")});
  REQUIRE(has_claim("vol-1=vms/disk-1"));
  tell(pv("pv-1", "vol-1", "disk-1"), true);
  CHECK_FALSE(has_claim("vol-1=vms/disk-1"));
  CHECK(has_claim("vol-1=/"));
}

TEST_CASE_FIXTURE(join_fixture, "two PersistentVolumes naming one volume: a node stays attached "
                                "while a VolumeAttachment of either attaches it") {
  tell(std::vector<volume_attachment_object>{va("pv-a", "a"), va("pv-b", "a", true, 1)});
  tell(std::vector<persistent_volume_object>{pv("pv-a", "vol-1"), pv("pv-b", "vol-1")});
  REQUIRE(nodes_of("vol-1") == names{"a"});
  // pv-b's VolumeAttachment goes: pv-a's still attaches node a.
  tell(va("pv-b", "a"), true);
  CHECK(nodes_of("vol-1") == names{"a"});
  // The same while a VolumeAttachment arrives, is detached and goes one event at a time.
  tell(va("pv-b", "b"), false);
  CHECK(nodes_of("vol-1") == names{"a", "b"});
  auto detaching = va("pv-b", "b", false);
  detaching.deleting = true;
  tell(detaching, false);
  tell(detaching, true);
  CHECK(nodes_of("vol-1") == names{"a"});
  // The last VolumeAttachment on node a goes: the volume is detached.
  tell(va("pv-a", "a"), true);
  CHECK(nodes_of("vol-1").empty());
}

TEST_CASE_FIXTURE(join_fixture, "two PersistentVolumes naming one volume: the smallest name gives "
                                "the access mode, whatever the order") {
  auto copy = pv("pv-b", "vol-1");
  copy.access_modes = {"ReadWriteOnce"};
  // pv-b's VolumeAttachment sorts first, and pv-b is listed first.
  auto first = va("pv-b", "a");
  first.name = "csi-0";
  tell(std::vector<volume_attachment_object>{first});
  tell(std::vector<persistent_volume_object>{copy, pv("pv-a", "vol-1")});
  auto state = ask<attachment_state>(supervisor, status_atom_v, std::string{"vol-1"});
  REQUIRE(state);
  CHECK(state->access == access_kind::multi_node_block);
  // An event of pv-b's VolumeAttachment carries pv-a's facts too: a second node is a migration.
  tell(va("pv-b", "b"), false);
  CHECK(nodes_of("vol-1") == names{"a", "b"});
  CHECK(supervised().migrating == 1);
}

TEST_CASE_FIXTURE(join_fixture, "two PersistentVolumes naming one volume: deleting one keeps the "
                                "claim of the other") {
  tell(std::vector<volume_attachment_object>{});
  tell(std::vector<persistent_volume_object>{pv("pv-a", "vol-1", "disk-1")});
  tell(pv("pv-b", "vol-1", "disk-1"), false);
  REQUIRE(has_claim("vol-1=vms/disk-1"));
  tell(pv("pv-b", "vol-1", "disk-1"), true);
  CHECK(has_claim("vol-1=vms/disk-1"));
  tell(pv("pv-a", "vol-1", "disk-1"), true);
  CHECK(has_claim("vol-1=/"));
  // Also through a relist that lacks both.
  tell(pv("pv-a", "vol-2", "disk-2"), false);
  tell(pv("pv-b", "vol-2", "disk-2"), false);
  REQUIRE(has_claim("vol-2=vms/disk-2"));
  tell(std::vector<persistent_volume_object>{});
  CHECK(has_claim("vol-2=/"));
  CHECK(status().persistent_volumes == 0);
}

TEST_CASE_FIXTURE(join_fixture, "two PersistentVolumes naming one volume: an unbound copy does not "
                                "erase the claim of the bound one") {
  tell(std::vector<volume_attachment_object>{});
  tell(std::vector<persistent_volume_object>{pv("pv-b", "vol-1"), pv("pv-a", "vol-1", "disk-1")});
  CHECK(has_claim("vol-1=vms/disk-1"));
  tell(std::vector<persistent_volume_object>{pv("pv-a", "vol-1", "disk-1"), pv("pv-b", "vol-1")});
  CHECK(has_claim("vol-1=vms/disk-1"));
  tell(pv("pv-b", "vol-1"), false);
  CHECK(has_claim("vol-1=vms/disk-1"));
  // Alone, an unbound PersistentVolume's empty claim is told as ever.
  tell(pv("pv-c", "vol-2", "disk-2"), false);
  tell(pv("pv-c", "vol-2"), false);
  CHECK(has_claim("vol-2=/"));
}

TEST_CASE_FIXTURE(join_fixture, "two PersistentVolumes naming one volume: a node being detached by "
                                "one is kept while the other's goes") {
  tell(std::vector<volume_attachment_object>{va("pv-a", "a"), va("pv-b", "a", true, 1)});
  tell(std::vector<persistent_volume_object>{pv("pv-a", "vol-1"), pv("pv-b", "vol-1")});
  REQUIRE(nodes_of("vol-1") == names{"a"});
  auto detaching = va("pv-a", "a");
  detaching.deleting = true;
  tell(detaching, false);
  tell(va("pv-b", "a"), true);
  CHECK(nodes_of("vol-1") == names{"a"});
  detaching.attached = false;
  tell(detaching, false);
  CHECK(nodes_of("vol-1").empty());
}

TEST_CASE_FIXTURE(join_fixture, "two PersistentVolumes naming one volume: a deleted one does not "
                                "speak for it") {
  auto single = pv("pv-a", "vol-1");
  single.access_modes = {"ReadWriteOnce"};
  // pv-a's VolumeAttachment is not attached yet: the volume has no actor.
  tell(std::vector<volume_attachment_object>{va("pv-a", "a", false)});
  tell(std::vector<persistent_volume_object>{single, pv("pv-b", "vol-1")});
  // pv-a is deleted but kept (its VolumeAttachment names it); pv-b, RWX block, now speaks.
  tell(single, true);
  REQUIRE(status().deleted_while_attached == 1);
  tell(va("pv-b", "b"), false);
  auto state = ask<attachment_state>(supervisor, status_atom_v, std::string{"vol-1"});
  REQUIRE(state);
  CHECK(state->access == access_kind::multi_node_block);
}
