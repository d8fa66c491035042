// The supervisor: spawning on demand, retiring detached volumes, restarting a crashed volume
// actor from its last known state (timer included), many volumes at once; the volume exists
// before it is published (the catalog, over a fake RDS); the CO's deadline bounds every inner
// request. And the catalog: what it learns from creates, deletes and lookups.
#include "actors/volume_catalog.hpp"
#include "actors/volume_supervisor.hpp"
#include "unit/actor_fixture.hpp"
#include "unit/fake_rds.hpp"

#include <optional>
#include <set>
#include <tuple>
#include <variant>

using namespace rds;
using namespace std::chrono_literals;

namespace {

test::fake_rds_world_ptr world_of_every_volume() {
  auto world = std::make_shared<test::fake_rds_world>();
  world->every_volume_exists = true;
  return world;
}

/// The scheduler job of an actor, to run every actor but it (or only it).
template <class Handle> caf::resumable* job_of(const Handle& actor) {
  return dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(actor));
}

struct supervisor_fixture : test::actor_fixture {
  test::fake_rds_world_ptr world = world_of_every_volume();
  rds_actor rds = sys.spawn(test::fake_rds, world);
  volume_catalog_actor catalog = sys.spawn(actors::volume_catalog, rds, 15000ms);
  volume_supervisor_actor supervisor = sys.spawn(
    actors::volume_supervisor, actors::volume_supervisor_config{}, metrics, events, catalog);

  supervisor_fixture() {
    // The catalog's first list.
    sched.run();
  }

  ~supervisor_fixture() {
    self->send_exit(supervisor, caf::exit_reason::user_shutdown);
    self->send_exit(catalog, caf::exit_reason::user_shutdown);
    self->send_exit(rds, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Only these volumes exist on the RDS from now on.
  void rds_has(std::set<std::string> volumes) {
    world->every_volume_exists = false;
    world->volumes = std::move(volumes);
  }

  request_deadline in(caf::timespan t) { return deadline_after(sys.clock(), t); }

  /// Runs every actor that has work except `stuck`.
  void run_all_but(caf::resumable* stuck) {
    sched.run_jobs_filtered([stuck](caf::resumable* job) { return job != stuck; });
  }

  /// The answer waiting in the test's mailbox, if any: an outcome or an error.
  std::optional<std::variant<outcome, caf::error>> answer() {
    std::optional<std::variant<outcome, caf::error>> got;
    self->receive([&](outcome& o) { got = o; }, [&](caf::error& e) { got = e; },
                  caf::after(0s) >> [] {});
    return got;
  }

  std::tuple<outcome, volume_info, attachment_state> describe(const std::string& id) {
    self->send(supervisor, describe_atom_v, volume_id_request{id, in(10s)});
    sched.run();
    std::tuple<outcome, volume_info, attachment_state> got;
    bool answered = false;
    self->receive(
      [&](outcome& o, volume_info& info, attachment_state& state) {
        got = {o, info, state};
        answered = true;
      },
      [&](caf::error& e) { FAIL("unexpected error: ", to_string(e)); }, caf::after(0s) >> [] {});
    REQUIRE(answered);
    return got;
  }

  template <class... Ts> outcome ask_catalog(Ts... xs) {
    auto r = ask<outcome>(catalog, xs...);
    REQUIRE(r);
    return *r;
  }

  outcome create(const std::string& name) {
    create_volume_request req;
    req.name = name;
    req.size_bytes = uint64_t{1} << 30;
    req.deadline = in(10s);
    self->send(catalog, create_atom_v, req);
    sched.run();
    outcome got = outcome::failure(ec::internal, "no answer");
    self->receive([&](outcome& o, volume_info&) { got = o; },
                  [&](caf::error& e) { FAIL("unexpected error: ", to_string(e)); },
                  caf::after(0s) >> [] {});
    return got;
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
  auto supervisor = fx.sys.spawn(actors::volume_supervisor, cfg, fx.metrics, fx.events,
                                 test::catalog_of_every_volume(fx.sys, fx.metrics));
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

TEST_CASE_FIXTURE(supervisor_fixture, "a publish of a volume the RDS does not have is NOT_FOUND "
                                      "and changes nothing") {
  rds_has({"vol-1"});
  auto refused = publish("vol-2", "a", false);
  CHECK(refused.code == ec::not_found);
  CHECK(refused.message.find("vol-2") != std::string::npos);
  auto s = status();
  CHECK(s.volume_actors == 0);
  CHECK(s.attached == 0);
  CHECK(s.in_flight == 0);
  CHECK(metric("rds_csi_attachment_attach_total{status=\"success\"}") <= 0);
  CHECK(recorded_events("VolumeAttached") == 0);
  // The RDS was asked once; a volume that exists is published.
  CHECK(world->finds == 1);
  CHECK(publish("vol-1", "a", false).ok());
  CHECK(status().attached == 1);
  // Known from then on: no second question to the RDS.
  CHECK(publish("vol-1", "a", false).ok());
  CHECK(world->finds == 2);
}

TEST_CASE_FIXTURE(supervisor_fixture, "when the RDS cannot tell whether a volume exists, the "
                                      "publish goes on") {
  rds_has({});
  world->unavailable = true;
  CHECK(publish("vol-1", "a", false).ok());
  CHECK(volume("vol-1").nodes.size() == 1);
  // Not learned: once the RDS answers again, it decides.
  world->unavailable = false;
  CHECK(publish("vol-2", "a", false).code == ec::not_found);
}

TEST_CASE_FIXTURE(supervisor_fixture, "an RDS that does not answer delays a publish by at most "
                                      "half of the time left, then it goes on") {
  rds_has({});
  world->silent = true;
  publish_capability cap{access_kind::single_node, 1, false, false};
  self->send(supervisor, publish_atom_v, publish_request{"vol-1", "a", cap, 300s, in(10s)});
  sched.run();
  CHECK_FALSE(answer());
  advance(4999ms);
  CHECK_FALSE(answer());
  advance(1ms);
  auto got = answer();
  REQUIRE(got);
  REQUIRE(std::holds_alternative<outcome>(*got));
  CHECK(std::get<outcome>(*got).ok());
  CHECK(volume("vol-1").nodes.size() == 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a volume actor that does not answer: the publish fails at "
                                      "the deadline the CO gave, not later") {
  REQUIRE(publish("vol-1", "a", false).ok());
  auto actor = lookup("vol-1");
  REQUIRE(actor);
  auto* stuck = job_of(actor);
  REQUIRE(stuck != nullptr);
  publish_capability cap{access_kind::single_node, 1, false, false};
  self->send(supervisor, publish_atom_v, publish_request{"vol-1", "a", cap, 300s, in(3s)});
  run_all_but(stuck);
  CHECK_FALSE(answer());
  sched.advance_time(2999ms);
  run_all_but(stuck);
  CHECK_FALSE(answer());
  sched.advance_time(1ms);
  run_all_but(stuck);
  auto got = answer();
  REQUIRE(got);
  REQUIRE(std::holds_alternative<caf::error>(*got));
  CHECK(std::get<caf::error>(*got) == caf::sec::request_timeout);
  // The same for ControllerGetVolume, which asks the volume actor for its nodes.
  self->send(supervisor, describe_atom_v, volume_id_request{"vol-1", in(2s)});
  run_all_but(stuck);
  sched.advance_time(1999ms);
  run_all_but(stuck);
  CHECK_FALSE(answer());
  sched.advance_time(1ms);
  run_all_but(stuck);
  got = answer();
  REQUIRE(got);
  REQUIRE(std::holds_alternative<caf::error>(*got));
  CHECK(std::get<caf::error>(*got) == caf::sec::request_timeout);
  // The actor answers late: nobody waits, and the supervisor's books stay right.
  sched.run();
  CHECK(status().in_flight == 0);
  CHECK(volume("vol-1").nodes.size() == 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a request whose deadline has passed is refused at once") {
  publish_capability cap{access_kind::single_node, 1, false, false};
  auto deadline = in(1s);
  advance(2s);
  self->send(supervisor, publish_atom_v, publish_request{"vol-1", "a", cap, 300s, deadline});
  sched.run();
  auto got = answer();
  REQUIRE(got);
  REQUIRE(std::holds_alternative<caf::error>(*got));
  CHECK(std::get<caf::error>(*got) == caf::sec::request_timeout);
  CHECK(status().volume_actors == 0);
}

TEST_CASE_FIXTURE(supervisor_fixture, "get volume: the RDS's view and the nodes it is published "
                                      "to, in one request") {
  rds_has({"vol-1", "vol-3"});
  REQUIRE(publish("vol-1", "a", true).ok());
  REQUIRE(publish("vol-1", "b", true).ok());
  auto [result, info, state] = describe("vol-1");
  CHECK(result.ok());
  CHECK(info.volume_id == "vol-1");
  CHECK(info.capacity_bytes == uint64_t{1} << 30);
  REQUIRE(state.nodes.size() == 2);
  CHECK(state.nodes[0].node_id == "a");
  CHECK(state.nodes[1].node_id == "b");
  // A volume with no actor is published nowhere, and asking does not spawn one.
  auto [result3, info3, state3] = describe("vol-3");
  CHECK(result3.ok());
  CHECK(state3.nodes.empty());
  CHECK(status().volume_actors == 1);
  auto [missing, info2, state2] = describe("vol-2");
  CHECK(missing.code == ec::not_found);
  world->unavailable = true;
  auto [unavailable, info4, state4] = describe("vol-1");
  CHECK(unavailable.code == ec::unavailable);
  CHECK(status().in_flight == 0);
}

TEST_CASE_FIXTURE(supervisor_fixture, "does a volume exist: NOT_FOUND only when the RDS says so") {
  rds_has({"vol-1"});
  auto exists = [&](const std::string& id) {
    auto r = ask<outcome>(supervisor, find_atom_v, volume_id_request{id, in(10s)});
    REQUIRE(r);
    return *r;
  };
  CHECK(exists("vol-1").ok());
  CHECK(exists("vol-2").code == ec::not_found);
  world->unavailable = true;
  CHECK(exists("vol-2").ok());
}

TEST_CASE_FIXTURE(supervisor_fixture, "the catalog learns from creates and forgets a deleted "
                                      "volume before the RDS deletes it") {
  rds_has({});
  CHECK(create("vol-new").ok());
  auto finds = world->finds;
  // Known from the create: the publish needs no question to the RDS.
  CHECK(publish("vol-new", "a", false).ok());
  CHECK(world->finds == finds);
  CHECK(unpublish("vol-new", "a").ok());
  CHECK(ask_catalog(delete_atom_v, volume_id_request{"vol-new", in(10s)}).ok());
  CHECK(world->deletes == 1);
  // Forgotten: the publish asks the RDS, which no longer has it.
  CHECK(publish("vol-new", "a", false).code == ec::not_found);
  CHECK(world->finds == finds + 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "the catalog does not learn an answer older than a delete") {
  rds_has({"vol-1"});
  auto* catalog_job = job_of(catalog);
  auto run_catalog = [&] {
    sched.run_jobs_filtered([catalog_job](caf::resumable* job) { return job == catalog_job; });
  };
  // The catalog asks the RDS about vol-1; before the RDS answers, the volume is deleted.
  self->send(catalog, find_atom_v, volume_id_request{"vol-1", in(10s)});
  run_catalog();
  self->send(catalog, delete_atom_v, volume_id_request{"vol-1", in(10s)});
  run_catalog();
  sched.run();
  // The RDS answered in order: it existed, then it was deleted.
  auto first = answer();
  auto second = answer();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(std::get<outcome>(*first).ok());
  CHECK(std::get<outcome>(*second).ok());
  auto known = ask<uint64_t>(catalog, status_atom_v);
  REQUIRE(known);
  CHECK(*known == 0);
  CHECK(publish("vol-1", "a", false).code == ec::not_found);
}
