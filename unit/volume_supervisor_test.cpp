// The supervisor: spawning on demand, retiring detached volumes, restarting a crashed volume
// actor from its last known state (timer included), and many volumes at once.
#include "actors/volume_supervisor.hpp"
#include "unit/actor_fixture.hpp"

using namespace rds;
using namespace std::chrono_literals;

namespace {

struct supervisor_fixture : test::actor_fixture {
  volume_supervisor_actor supervisor =
    sys.spawn(actors::volume_supervisor, actors::volume_supervisor_config{}, metrics, events);

  ~supervisor_fixture() {
    self->send_exit(supervisor, caf::exit_reason::user_shutdown);
    sched.run();
  }

  outcome publish(const std::string& volume, const std::string& node, bool rwx) {
    publish_capability cap{rwx ? access_kind::multi_node_block : access_kind::single_node,
                           rwx ? 5 : 1, rwx, false};
    auto r = ask<outcome>(supervisor, publish_atom_v, publish_request{volume, node, cap, 300s});
    REQUIRE(r);
    return *r;
  }

  outcome unpublish(const std::string& volume, const std::string& node) {
    auto r = ask<outcome>(supervisor, unpublish_atom_v, unpublish_request{volume, node});
    REQUIRE(r);
    return *r;
  }

  supervisor_status status() {
    auto s = ask<supervisor_status>(supervisor, status_atom_v);
    REQUIRE(s);
    return *s;
  }

  attachment_state volume(const std::string& id) {
    auto s = ask<attachment_state>(supervisor, status_atom_v, id);
    REQUIRE(s);
    return *s;
  }

  volume_actor lookup(const std::string& id) {
    auto h = ask<volume_actor>(supervisor, lookup_atom_v, id);
    REQUIRE(h);
    return *h;
  }
};

} // namespace

TEST_CASE_FIXTURE(supervisor_fixture, "volume actors are spawned on demand and retired") {
  CHECK(status().volume_actors == 0);
  CHECK(publish("vol-1", "a", false).ok());
  CHECK(publish("vol-2", "a", false).ok());
  CHECK(status().volume_actors == 2);
  CHECK(status().attached == 2);
  CHECK(unpublish("vol-1", "a").ok());
  CHECK(status().volume_actors == 1);
  CHECK(status().attached == 1);
  CHECK(!lookup("vol-1"));
  CHECK(lookup("vol-2"));
  // A refused publish on an unknown volume leaves no actor behind.
  CHECK(unpublish("vol-3", "a").ok());
  CHECK(status().volume_actors == 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a crashed volume actor restarts from its last state") {
  CHECK(publish("vol-1", "a", true).ok());
  CHECK(publish("vol-1", "b", true).ok());
  advance(100s);
  auto before = lookup("vol-1");
  REQUIRE(before);
  self->send_exit(before, caf::exit_reason::kill);
  sched.run();
  auto after = lookup("vol-1");
  REQUIRE(after);
  CHECK(after != before);
  CHECK(status().restarts == 1);
  CHECK(metric("rds_csi_volume_actor_restarts_total") == 1);
  auto st = volume("vol-1");
  REQUIRE(st.nodes.size() == 2);
  CHECK(st.nodes[0].node_id == "a");
  CHECK(st.nodes[1].node_id == "b");
  CHECK(st.migrating);
  CHECK(metric("rds_csi_migration_active_migrations") == 1);
  // The restarted actor re-armed the timer with the time that remained (200 s of 300 s).
  advance(199s);
  CHECK_FALSE(volume("vol-1").migration.timed_out);
  advance(1s);
  CHECK(volume("vol-1").migration.timed_out);
  CHECK(metric("rds_csi_migration_migrations_total{result=\"timeout\"}") == 1);
  // Decisions still hold after the restart: a third node is refused, the source confirms.
  CHECK(publish("vol-1", "c", true).code == ec::attached_elsewhere);
  CHECK(unpublish("vol-1", "a").ok());
  CHECK(volume("vol-1").nodes.size() == 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a thousand volumes at once keep exact state and metrics") {
  constexpr int volumes = 1000;
  publish_capability rwx{access_kind::multi_node_block, 5, true, false};
  auto id = [](int i) { return "vol-" + std::to_string(i); };
  // Every publish is in the mailboxes before any actor runs: the worst interleaving.
  for (int i = 0; i < volumes; ++i)
    self->send(supervisor, publish_atom_v, publish_request{id(i), "a", rwx, 300s});
  for (int i = 0; i < volumes; i += 2)
    self->send(supervisor, publish_atom_v, publish_request{id(i), "b", rwx, 300s});
  sched.run();
  int ok = 0;
  for (int i = 0; i < volumes + volumes / 2; ++i)
    self->receive([&](outcome& o) { ok += o.ok() ? 1 : 0; },
                  caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(ok == volumes + volumes / 2);
  CHECK(status().attached == volumes);
  CHECK(status().migrating == volumes / 2);
  CHECK(metric("rds_csi_migration_active_migrations") == volumes / 2);
  CHECK(metric("rds_csi_attachment_attached_volumes") == volumes);
  for (int i = 0; i < volumes; ++i)
    self->send(supervisor, unpublish_atom_v, unpublish_request{id(i), "a"});
  for (int i = 0; i < volumes; i += 2)
    self->send(supervisor, unpublish_atom_v, unpublish_request{id(i), "b"});
  sched.run();
  for (int i = 0; i < volumes + volumes / 2; ++i)
    self->receive([&](outcome&) {}, caf::after(std::chrono::seconds{0}) >> [] {});
  auto s = status();
  CHECK(s.volume_actors == 0);
  CHECK(s.attached == 0);
  CHECK(s.migrating == 0);
  CHECK(s.in_flight == 0);
  CHECK(metric("rds_csi_attachment_attach_total{status=\"success\"}") == volumes);
  CHECK(metric("rds_csi_attachment_detach_total{status=\"success\"}") == volumes);
  CHECK(metric("rds_csi_migration_migrations_total{result=\"success\"}") == volumes / 2);
  CHECK(metric("rds_csi_migration_active_migrations") == 0);
  CHECK(metric("rds_csi_attachment_attached_volumes") == 0);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a followed attach older than a CSI unpublish is stale") {
  CHECK(publish("vol-1", "a", false).ok());
  CHECK(unpublish("vol-1", "a").ok());
  REQUIRE(status().volume_actors == 0);
  auto change = [](caf::timestamp since) {
    attachment_change c;
    c.volume_id = "vol-1";
    c.node_id = "a";
    c.phase = attachment_phase::attached;
    c.since = since;
    c.capability = publish_capability{access_kind::single_node, 1, false, false};
    return c;
  };
  // The VolumeAttachment's "attached" arrives after the unpublish it preceded: ignored.
  self->send(supervisor, sync_atom_v, change(caf::make_timestamp() - 5s));
  sched.run();
  CHECK(status().volume_actors == 0);
  CHECK(status().stale_ignored == 1);
  // A VolumeAttachment created after the unpublish is a new attachment: followed.
  self->send(supervisor, sync_atom_v, change(caf::make_timestamp() + 2s));
  sched.run();
  CHECK(status().attached == 1);
  CHECK(volume("vol-1").nodes.size() == 1);
}

TEST_CASE("without a cluster, a publish to a node this process does not serve is NOT_FOUND") {
  test::actor_fixture fx;
  actors::volume_supervisor_config cfg;
  cfg.served_nodes = {"a"};
  auto supervisor = fx.sys.spawn(actors::volume_supervisor, cfg, fx.metrics, fx.events);
  publish_capability cap{access_kind::single_node, 1, false, false};
  auto refused =
    fx.ask<outcome>(supervisor, publish_atom_v, publish_request{"vol-1", "b", cap, 300s});
  REQUIRE(refused);
  CHECK(refused->code == ec::not_found);
  CHECK(refused->message.find("node b") != std::string::npos);
  auto served =
    fx.ask<outcome>(supervisor, publish_atom_v, publish_request{"vol-1", "a", cap, 300s});
  REQUIRE(served);
  CHECK(served->ok());
  fx.self->send_exit(supervisor, caf::exit_reason::user_shutdown);
  fx.sched.run();
}
