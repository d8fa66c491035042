// The supervisor: spawning on demand, retiring detached volumes, restarting a crashed volume
// actor from its last known state (timer included), many volumes at once; the volume exists
// before it is published (the catalog, over a fake RDS); the CO's deadline bounds every inner
// request. And the catalog: what it learns from creates, deletes and lookups. And inspection:
// one volume (asked of its actor, with a deadline), pages and filters from the supervisor's own
// records, migrations by deadline, restarts, and the test faults.
#include "actors/volume_catalog.hpp"
#include "actors/volume_supervisor.hpp"
#include "unit/actor_fixture.hpp"
#include "unit/fake_rds.hpp"

#include <optional>
#include <set>
#include <tuple>
#include <utility>
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

/// Publishes `volume_id` (single node, to node "a") while every actor but `catalog` runs: its
/// outcome, or none while it waits (for the catalog).
std::optional<outcome> publish_while_catalog_waits(test::actor_fixture& fx,
                                                   const volume_supervisor_actor& supervisor,
                                                   const volume_catalog_actor& catalog,
                                                   const std::string& volume_id) {
  publish_capability cap{access_kind::single_node, 1, false, false};
  fx.self->send(supervisor, publish_atom_v, publish_request{volume_id, "a", cap, 300s});
  auto stuck = job_of(catalog);
  fx.sched.run_jobs_filtered([stuck](caf::resumable* job) { return job != stuck; });
  std::optional<outcome> got;
  fx.self->receive([&](outcome& o) { got = std::move(o); },
                   [&](caf::error& e) { FAIL("unexpected error: ", to_string(e)); },
                   caf::after(0s) >> [] {});
  return got;
}

struct supervisor_fixture : test::actor_fixture {
  test::fake_rds_world_ptr world = world_of_every_volume();
  rds_actor rds = sys.spawn(test::fake_rds, world);
  volume_catalog_actor catalog = sys.spawn(actors::volume_catalog, rds, 15000ms);
  volume_supervisor_actor supervisor = sys.spawn(
    actors::volume_supervisor, actors::volume_supervisor_config{}, metrics, events, catalog, feed);

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

  /// Lets the notes gathered since the last pass go to the metrics, the events and the feed
  /// (volume_supervisor_config::notes_interval).
  void pass_notes() { advance(actors::volume_supervisor_config{}.notes_interval); }

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

  /// A supervisor with another configuration in place of the default one.
  void respawn(actors::volume_supervisor_config cfg) {
    self->send_exit(supervisor, caf::exit_reason::user_shutdown);
    sched.run();
    supervisor = sys.spawn(actors::volume_supervisor, cfg, metrics, events, catalog, feed);
    sched.run();
  }

  outcome publish_rwx(const std::string& volume, const std::string& node, caf::timespan timeout) {
    publish_capability cap{access_kind::multi_node_block, 5, true, false};
    auto r = ask<outcome>(supervisor, publish_atom_v, publish_request{volume, node, cap, timeout});
    REQUIRE(r);
    return *r;
  }

  /// The answer to an inspection of one volume that is waiting in the test's mailbox.
  std::optional<std::pair<outcome, volume_inspection>> inspection_answer() {
    std::optional<std::pair<outcome, volume_inspection>> got;
    self->receive([&](outcome& o, volume_inspection& x) { got.emplace(o, std::move(x)); },
                  [&](caf::error& e) { FAIL("unexpected error: ", to_string(e)); },
                  caf::after(0s) >> [] {});
    return got;
  }

  std::pair<outcome, volume_inspection> inspect(const std::string& id) {
    self->send(supervisor, inspect_atom_v, id);
    sched.run();
    auto got = inspection_answer();
    REQUIRE(got);
    return *got;
  }

  volume_page page(volume_page_request req) {
    auto p = ask<volume_page>(supervisor, inspect_atom_v, req);
    REQUIRE(p);
    return *p;
  }

  std::vector<std::string> ids_of(const volume_page& p) {
    std::vector<std::string> ids;
    for (auto& v : p.volumes)
      ids.push_back(v.state.volume_id);
    return ids;
  }

  std::vector<state_change> feed_changes() {
    auto c = ask<state_changes>(feed, feed_atom_v, uint64_t{0}, caf::timespan{0});
    REQUIRE(c);
    return c->changes;
  }
};

} // namespace

TEST_CASE_FIXTURE(supervisor_fixture, "volume actors are spawned on demand and retired") {
  CHECK(status().volume_actors == 0);
  CHECK(publish("vol-1", "a", false).ok());
  CHECK(publish("vol-2", "a", false).ok());
  CHECK(status().volume_actors == 2);
  CHECK(status().attached == 2);
  self->monitor(lookup("vol-1"));
  auto exited = [&] {
    bool down = false;
    self->receive(
      [&](const caf::down_msg& msg) { down = msg.reason == caf::exit_reason::user_shutdown; },
      caf::after(std::chrono::seconds{0}) >> [] {});
    return down;
  };
  CHECK(unpublish("vol-1", "a").ok());
  CHECK(status().volume_actors == 1);
  CHECK(status().attached == 1);
  CHECK(!lookup("vol-1"));
  CHECK(lookup("vol-2"));
  // A refused publish on an unknown volume leaves no actor behind.
  CHECK(unpublish("vol-3", "a").ok());
  CHECK(status().volume_actors == 1);
  // The detached volume's actor is kept as a spare: it does not exit...
  CHECK(status().spare == 1);
  CHECK(status().retiring == 0);
  advance(100ms);
  CHECK_FALSE(exited());
  // ... and serves the next new volume, from that volume's state and an empty ring.
  CHECK(publish("vol-4", "b", false).ok());
  CHECK(status().spare == 0);
  CHECK(status().volume_actors == 2);
  auto [result, x] = inspect("vol-4");
  CHECK(result.ok());
  CHECK(x.state.volume_id == "vol-4");
  REQUIRE(x.state.nodes.size() == 1);
  CHECK(x.state.nodes[0].node_id == "b");
  REQUIRE(x.recent.size() == 1);
  CHECK(x.recent[0].kind == "publish");
  CHECK(x.restarts == 0);
  CHECK(unpublish("vol-4", "b").ok());
  CHECK(unpublish("vol-2", "a").ok());
  CHECK(status().spare == 2);
  CHECK(status().volume_actors == 0);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a spare volume actor ignores the migration timer of the "
                                      "volume it served before") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  REQUIRE(publish_rwx("vol-1", "b", 300s).ok());
  REQUIRE(volume("vol-1").migrating);
  // The migration ends and the volume is detached: its actor, timer still pending, is a spare.
  REQUIRE(unpublish("vol-1", "a").ok());
  REQUIRE(unpublish("vol-1", "b").ok());
  REQUIRE(status().spare == 1);
  // It serves vol-2, which migrates too; vol-1's timer fires meanwhile and changes nothing.
  REQUIRE(publish_rwx("vol-2", "a", 300s).ok());
  advance(100s);
  REQUIRE(publish_rwx("vol-2", "b", 300s).ok());
  advance(200s);
  auto state = volume("vol-2");
  CHECK(state.migrating);
  CHECK_FALSE(state.migration.timed_out);
  pass_notes();
  CHECK(metric("rds_csi_migration_migrations_total{result=\"timeout\"}") == 0);
  // Its own timer, 300 s after its own migration started, still counts.
  advance(100s);
  CHECK(volume("vol-2").migration.timed_out);
  pass_notes();
  CHECK(metric("rds_csi_migration_migrations_total{result=\"timeout\"}") == 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a spare volume actor that ends is not used again, and "
                                      "spares end with the supervisor") {
  CHECK(publish("vol-1", "a", false).ok());
  auto first = lookup("vol-1");
  CHECK(publish("vol-2", "a", false).ok());
  auto second = lookup("vol-2");
  CHECK(unpublish("vol-1", "a").ok());
  CHECK(unpublish("vol-2", "a").ok());
  REQUIRE(status().spare == 2);
  // The spare that would serve next is killed: the supervisor drops it.
  self->send_exit(second, caf::exit_reason::kill);
  sched.run();
  CHECK(status().spare == 1);
  CHECK(publish("vol-3", "a", false).ok());
  CHECK(lookup("vol-3") == first);
  CHECK(status().spare == 0);
  CHECK(unpublish("vol-3", "a").ok());
  REQUIRE(status().spare == 1);
  self->monitor(first);
  self->send_exit(supervisor, caf::exit_reason::user_shutdown);
  sched.run();
  bool down = false;
  self->receive([&](const caf::down_msg& msg) { down = msg.source == first.address(); },
                caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(down);
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
  // 64 kept as spares, the others retired 64 at a time: what is left goes after a while.
  CHECK(s.spare == 64);
  CHECK(s.retiring == (volumes - 64) % 64);
  CHECK(s.attached == 0);
  CHECK(s.migrating == 0);
  CHECK(s.in_flight == 0);
  advance(100ms);
  CHECK(status().retiring == 0);
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
                                 test::catalog_of_every_volume(fx.sys, fx.metrics), fx.feed);
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

TEST_CASE_FIXTURE(supervisor_fixture, "a volume actor that does not answer holds up only its "
                                      "own volume, and its late answer settles the books") {
  REQUIRE(publish("vol-1", "a", false).ok());
  auto actor = lookup("vol-1");
  REQUIRE(actor);
  auto* stuck = job_of(actor);
  REQUIRE(stuck != nullptr);
  publish_capability cap{access_kind::single_node, 1, false, false};
  // Publishes are forwarded without a CAF timeout (each would wake CAF's clock thread on the
  // CSI path): the CSI edge ends the call at the CO's deadline (integration cluster_sync_test),
  // and the volume actor, which never blocks, answers eventually.
  self->send(supervisor, publish_atom_v, publish_request{"vol-1", "a", cap, 300s, in(3s)});
  run_all_but(stuck);
  CHECK_FALSE(answer());
  // Other volumes go on meanwhile.
  self->send(supervisor, publish_atom_v, publish_request{"vol-2", "a", cap, 300s, in(3s)});
  run_all_but(stuck);
  auto other = answer();
  REQUIRE(other);
  REQUIRE(std::holds_alternative<outcome>(*other));
  CHECK(std::get<outcome>(*other).ok());
  sched.advance_time(5s);
  run_all_but(stuck);
  CHECK_FALSE(answer());
  // The stuck actor runs at last and answers (as before, when a CAF timeout had already
  // answered the caller: a timeout never took the message back). The CO, told
  // DEADLINE_EXCEEDED by the edge, retries; the same publish is idempotent. Nothing is left in
  // flight and the volume is on its one node.
  sched.run();
  auto late = answer();
  REQUIRE(late);
  REQUIRE(std::holds_alternative<outcome>(*late));
  CHECK(std::get<outcome>(*late).ok());
  CHECK(status().in_flight == 0);
  CHECK(volume("vol-1").nodes.size() == 1);
  stuck = job_of(actor);
  REQUIRE(stuck != nullptr);
  // ControllerGetVolume, which asks the volume actor for its nodes, keeps its deadline.
  self->send(supervisor, describe_atom_v, volume_id_request{"vol-1", in(2s)});
  run_all_but(stuck);
  sched.advance_time(1999ms);
  run_all_but(stuck);
  CHECK_FALSE(answer());
  sched.advance_time(1ms);
  run_all_but(stuck);
  auto got = answer();
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
  // Its status shows the question in flight (and its own mailbox, empty again).
  self->send(catalog, status_atom_v);
  run_catalog();
  self->receive(
    [](const catalog_status& s) {
      CHECK(s.warm);
      CHECK(s.lookups_in_flight == 1);
      CHECK(s.waiting == 0);
      CHECK(s.mailbox == 0);
    },
    caf::after(0s) >> [] { FAIL("the catalog did not answer status"); });
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
  auto status = ask<catalog_status>(catalog, status_atom_v);
  REQUIRE(status);
  CHECK(status->volumes_known == 0);
  CHECK(status->lookups_in_flight == 0);
  CHECK(publish("vol-1", "a", false).code == ec::not_found);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a publish of a volume the catalog told of asks it nothing; "
                                      "once the catalog forgot it, the RDS is asked again") {
  rds_has({});
  CHECK(create("vol-new").ok());
  // The catalog told the supervisor what it learned: the publish goes on while the catalog does
  // not run at all.
  auto published = publish_while_catalog_waits(*this, supervisor, catalog, "vol-new");
  REQUIRE(published);
  CHECK(published->ok());
  CHECK(volume("vol-new").attached());
  CHECK(unpublish("vol-new", "a").ok());
  auto finds = world->finds;
  // A delete: the catalog tells the supervisor before it asks the RDS. While the RDS still holds
  // the delete, a publish already waits for the catalog (which does not run here).
  world->silent = true;
  self->send(catalog, delete_atom_v, volume_id_request{"vol-new", in(10s)});
  sched.run();
  CHECK(world->deletes == 1);
  CHECK(world->held.size() == 1);
  CHECK_FALSE(publish_while_catalog_waits(*this, supervisor, catalog, "vol-new"));
  // The RDS answers the delete, and the catalog asks it about the volume, which is gone.
  world->silent = false;
  for (auto& held : std::exchange(world->held, {}))
    held();
  sched.run();
  size_t deleted = 0, refused = 0;
  for (int i = 0; i < 2; ++i) {
    auto got = answer();
    REQUIRE(got);
    REQUIRE(std::holds_alternative<outcome>(*got));
    auto& o = std::get<outcome>(*got);
    deleted += o.ok() ? 1 : 0;
    refused += o.code == ec::not_found ? 1 : 0;
  }
  CHECK(deleted == 1);
  CHECK(refused == 1);
  CHECK(world->finds == finds + 1);
  // A lookup teaches it too: a volume the RDS has, asked about once, is known from then on, and
  // the next publish goes on while the catalog does not run.
  rds_has({"vol-found"});
  CHECK(publish("vol-found", "a", false).ok());
  CHECK(world->finds == finds + 2);
  CHECK(unpublish("vol-found", "a").ok());
  auto again = publish_while_catalog_waits(*this, supervisor, catalog, "vol-found");
  REQUIRE(again);
  CHECK(again->ok());
}

/// A catalog over a fake RDS that has vol-1 and vol-2, and a supervisor the test spawns when it
/// wants (before or after the catalog's first list).
struct listed_catalog_fixture : test::actor_fixture {
  test::fake_rds_world_ptr world = std::make_shared<test::fake_rds_world>();
  rds_actor rds = sys.spawn(test::fake_rds, world);
  volume_catalog_actor catalog = sys.spawn(actors::volume_catalog, rds, 15000ms);
  volume_supervisor_actor supervisor;

  listed_catalog_fixture() { world->volumes = {"vol-1", "vol-2"}; }

  ~listed_catalog_fixture() {
    for (auto h : {caf::actor_cast<caf::actor>(supervisor), caf::actor_cast<caf::actor>(catalog),
                   caf::actor_cast<caf::actor>(rds)})
      if (h)
        self->send_exit(h, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void spawn_supervisor() {
    supervisor = sys.spawn(actors::volume_supervisor, actors::volume_supervisor_config{}, metrics,
                           events, catalog, feed);
  }
};

TEST_CASE_FIXTURE(listed_catalog_fixture, "the catalog tells a supervisor that subscribed before "
                                          "its first list every volume listed, as the plugin "
                                          "starts them") {
  spawn_supervisor();
  // The supervisor's subscription reaches the catalog before the RDS answers its list.
  auto rds_job = job_of(rds);
  sched.run_jobs_filtered([rds_job](caf::resumable* job) { return job != rds_job; });
  CHECK(world->lists == 0);
  sched.run();
  CHECK(world->lists == 1);
  auto published = publish_while_catalog_waits(*this, supervisor, catalog, "vol-2");
  REQUIRE(published);
  CHECK(published->ok());
}

TEST_CASE_FIXTURE(listed_catalog_fixture, "a supervisor spawned after the catalog's first list "
                                          "is told every volume listed") {
  sched.run();
  auto finds = world->finds;
  spawn_supervisor();
  sched.run();
  for (auto id : {"vol-1", "vol-2"}) {
    auto published = publish_while_catalog_waits(*this, supervisor, catalog, id);
    REQUIRE_MESSAGE(published, id);
    CHECK_MESSAGE(published->ok(), id);
  }
  publish_capability cap{access_kind::single_node, 1, false, false};
  auto refused = ask<outcome>(supervisor, publish_atom_v, publish_request{"vol-3", "a", cap, 300s});
  REQUIRE(refused);
  CHECK(refused->code == ec::not_found);
  CHECK(world->finds == finds + 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "inspect a volume during a migration and after its timer") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  advance(10s);
  REQUIRE(publish_rwx("vol-1", "b", 300s).ok());
  advance(100s);
  auto [result, x] = inspect("vol-1");
  CHECK(result.ok());
  REQUIRE(x.state.nodes.size() == 2);
  CHECK(x.state.volume_id == "vol-1");
  CHECK(x.state.nodes[0].node_id == "a");
  CHECK(x.state.nodes[1].node_id == "b");
  CHECK(x.state.nodes[1].attached_at - x.state.nodes[0].attached_at == 10s);
  CHECK(x.state.migrating);
  CHECK(x.state.migration.generation == 1);
  CHECK(x.state.migration.started_at == x.state.nodes[1].attached_at);
  CHECK(x.timer_deadline == x.state.migration.started_at + 300s);
  CHECK(x.timer_deadline - x.now == 200s);
  CHECK_FALSE(x.state.migration.timed_out);
  CHECK(x.restarts == 0);
  CHECK(x.in_flight == 0);
  CHECK_FALSE(x.anomaly);
  REQUIRE(x.recent.size() == 2);
  CHECK(x.recent[0].kind == "publish");
  CHECK(x.recent[0].node_id == "a");
  CHECK(x.recent[1].node_id == "b");
  CHECK(x.recent[1].result == "none");
  CHECK(x.wall_now.time_since_epoch().count() > 0);
  // The timer fires: timed out, no timer armed any more, both nodes still attached.
  advance(200s);
  auto [result2, y] = inspect("vol-1");
  CHECK(result2.ok());
  CHECK(y.state.migrating);
  CHECK(y.state.migration.timed_out);
  CHECK(y.timer_deadline == caf::timespan{0});
  CHECK(y.state.nodes.size() == 2);
  REQUIRE(y.recent.size() == 3);
  CHECK(y.recent[2].kind == "timer");
  // The supervisor's records follow the timer: the page shows it timed out.
  volume_page_request timed_out;
  timed_out.timed_out_only = true;
  auto p = page(timed_out);
  REQUIRE(p.volumes.size() == 1);
  CHECK(p.volumes[0].state.migration.timed_out);
  // A volume without an actor.
  auto [missing, z] = inspect("vol-2");
  CHECK(missing.code == ec::not_found);
  CHECK(z.state.volume_id == "vol-2");
  CHECK(z.state.nodes.empty());
  CHECK(status().volume_actors == 1);
  CHECK(status().in_flight == 0);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a volume actor that does not answer an inspection: "
                                      "unavailable at the bound, with the last known state") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  REQUIRE(publish_rwx("vol-1", "b", 300s).ok());
  auto* stuck = job_of(lookup("vol-1"));
  REQUIRE(stuck != nullptr);
  self->send(supervisor, inspect_atom_v, std::string{"vol-1"});
  run_all_but(stuck);
  CHECK_FALSE(inspection_answer());
  sched.advance_time(249ms);
  run_all_but(stuck);
  CHECK_FALSE(inspection_answer());
  sched.advance_time(1ms);
  run_all_but(stuck);
  auto got = inspection_answer();
  REQUIRE(got);
  CHECK(got->first.code == ec::unavailable);
  CHECK(got->first.message.find("250 ms") != std::string::npos);
  CHECK(got->second.state.nodes.size() == 2);
  CHECK(got->second.timer_deadline - got->second.now == 300s - 250ms);
  sched.run();
  CHECK(status().in_flight == 0);
}

TEST_CASE_FIXTURE(supervisor_fixture, "volume pages: id order, filters, continue") {
  // vol-00 .. vol-11; even ones migrate from a to b, every third one is on c.
  auto id = [](int i) { return std::string{"vol-"} + (i < 10 ? "0" : "") + std::to_string(i); };
  for (int i = 11; i >= 0; --i) {
    REQUIRE(publish_rwx(id(i), i % 3 == 0 ? "c" : "a", 300s).ok());
    if (i % 2 == 0)
      REQUIRE(publish_rwx(id(i), "b", 300s).ok());
  }
  // Every page, by continuing.
  std::vector<std::string> all;
  volume_page_request req;
  req.limit = 5;
  int pages = 0;
  do {
    auto p = page(req);
    CHECK(p.volumes.size() <= 5);
    for (auto& v : ids_of(p))
      all.push_back(v);
    req.after = p.next_after;
    ++pages;
  } while (!req.after.empty() && pages < 10);
  CHECK(pages == 3);
  REQUIRE(all.size() == 12);
  for (int i = 0; i < 12; ++i)
    CHECK(all[static_cast<size_t>(i)] == id(i));
  // A page that ends exactly at the last match says so.
  volume_page_request exact;
  exact.limit = 12;
  CHECK(page(exact).next_after.empty());
  exact.limit = 11;
  CHECK(page(exact).next_after == id(10));
  // Filters.
  volume_page_request on_c;
  on_c.node_id = "c";
  CHECK(ids_of(page(on_c)) == std::vector<std::string>{id(0), id(3), id(6), id(9)});
  volume_page_request migrating;
  migrating.migrating_only = true;
  migrating.limit = 2;
  auto first = page(migrating);
  CHECK(ids_of(first) == std::vector<std::string>{id(0), id(2)});
  CHECK(first.next_after == id(2));
  migrating.after = first.next_after;
  CHECK(ids_of(page(migrating)) == std::vector<std::string>{id(4), id(6)});
  migrating.node_id = "c";
  migrating.after.clear();
  migrating.limit = 500;
  CHECK(ids_of(page(migrating)) == std::vector<std::string>{id(0), id(6)});
  volume_page_request timed_out;
  timed_out.timed_out_only = true;
  CHECK(page(timed_out).volumes.empty());
  // An anomaly: Kubernetes shows a third node.
  attachment_change third;
  third.volume_id = id(4);
  third.node_id = "d";
  third.phase = attachment_phase::attached;
  third.since = caf::make_timestamp();
  third.capability = publish_capability{access_kind::multi_node_block, 5, true, false};
  third.migration_timeout = 300s;
  self->send(supervisor, sync_atom_v, third);
  sched.run();
  volume_page_request anomalies;
  anomalies.anomaly_only = true;
  auto a = page(anomalies);
  REQUIRE(a.volumes.size() == 1);
  CHECK(a.volumes[0].state.volume_id == id(4));
  CHECK(a.volumes[0].anomaly);
  CHECK(a.volumes[0].state.nodes.size() == 3);
  auto [result, x] = inspect(id(4));
  CHECK(x.anomaly);
  // Retired volumes leave the index.
  for (int i = 0; i < 12; ++i)
    for (auto node : {"a", "b", "c", "d"})
      unpublish(id(i), node);
  CHECK(status().volume_actors == 0);
  CHECK(page(volume_page_request{}).volumes.empty());
}

TEST_CASE_FIXTURE(supervisor_fixture, "a filter few volumes match ends its page at the scan "
                                      "budget, with a continue, and misses none") {
  actors::volume_supervisor_config cfg;
  cfg.page_scan_budget = 4;
  respawn(cfg);
  // vol-00 .. vol-09 on a; only vol-02 and vol-08 also on b.
  for (int i = 0; i < 10; ++i) {
    auto id = "vol-0" + std::to_string(i);
    REQUIRE(publish_rwx(id, "a", 300s).ok());
    if (i == 2 || i == 8)
      REQUIRE(publish_rwx(id, "b", 300s).ok());
  }
  volume_page_request on_b;
  on_b.node_id = "b";
  on_b.limit = 2; // the budget is never below limit + 1: 4 here
  std::vector<std::vector<std::string>> pages;
  for (int n = 0; n < 10; ++n) {
    auto p = page(on_b);
    pages.push_back(ids_of(p));
    if (p.next_after.empty())
      break;
    on_b.after = p.next_after;
  }
  // 4 volumes looked at a page: vol-00..03 (vol-02), vol-04..07 (none, continue after vol-07),
  // vol-08..09 (vol-08, the last page).
  CHECK(pages == std::vector<std::vector<std::string>>{{"vol-02"}, {}, {"vol-08"}});
  // The migrating filter reads its index: both in one page whatever the budget.
  volume_page_request migrating;
  migrating.migrating_only = true;
  auto p = page(migrating);
  CHECK(ids_of(p) == std::vector<std::string>{"vol-02", "vol-08"});
  CHECK(p.next_after.empty());
}

TEST_CASE_FIXTURE(supervisor_fixture, "migrations: every migrating volume, soonest timer first") {
  REQUIRE(publish_rwx("vol-a", "n1", 300s).ok());
  REQUIRE(publish_rwx("vol-a", "n2", 300s).ok()); // deadline 300
  advance(10s);
  REQUIRE(publish_rwx("vol-b", "n1", 100s).ok());
  REQUIRE(publish_rwx("vol-b", "n2", 100s).ok()); // deadline 110
  REQUIRE(publish_rwx("vol-c", "n1", 200s).ok());
  REQUIRE(publish_rwx("vol-c", "n2", 200s).ok()); // deadline 210
  REQUIRE(publish_rwx("vol-d", "n1", 30s).ok());  // not migrating
  REQUIRE(publish_rwx("vol-e", "n3", 30s).ok());
  REQUIRE(publish_rwx("vol-e", "n4", 30s).ok()); // deadline 40: times out
  advance(60s);
  auto m = ask<volume_page>(supervisor, inspect_atom_v, migrations_page_request{});
  REQUIRE(m);
  CHECK(ids_of(*m) == std::vector<std::string>{"vol-e", "vol-b", "vol-c", "vol-a"});
  CHECK(m->volumes[0].state.migration.timed_out);
  auto& b = m->volumes[1].state.migration;
  CHECK(b.started_at + b.timeout - m->now == 40s);
  CHECK(m->next_after.empty());
  CHECK(m->total == 4);
  // The timed-out filter reads its own index, which the timer's firing put vol-e in.
  volume_page_request timed_out;
  timed_out.timed_out_only = true;
  CHECK(ids_of(page(timed_out)) == std::vector<std::string>{"vol-e"});
  // It leaves the index when its migration ends.
  REQUIRE(unpublish("vol-e", "n3").ok());
  CHECK(page(timed_out).volumes.empty());
}

TEST_CASE_FIXTURE(supervisor_fixture, "migrations in pages: every one exactly once, in order, "
                                      "equal deadlines by id, and the index follows their ends") {
  // Seven migrations, three of them with the same deadline; one volume not migrating.
  // Started at these seconds, in this order of time.
  int now = 0;
  for (auto [id, started] : std::vector<std::pair<std::string, int>>{
         {"g", 0}, {"b", 1}, {"d", 3}, {"c", 3}, {"f", 3}, {"e", 5}, {"a", 9}}) {
    advance(std::chrono::seconds{started - now});
    now = started;
    REQUIRE(publish_rwx(id, "n1", 60s).ok());
    REQUIRE(publish_rwx(id, "n2", 60s).ok());
  }
  REQUIRE(publish_rwx("idle", "n1", 60s).ok());
  auto read_all = [&](uint32_t limit) {
    std::vector<std::string> seen;
    migrations_page_request req;
    req.limit = limit;
    for (int pages = 0; pages < 20; ++pages) {
      auto m = ask<volume_page>(supervisor, inspect_atom_v, req);
      REQUIRE(m);
      CHECK(m->total == 7);
      CHECK(m->volumes.size() <= limit);
      for (auto& v : m->volumes)
        seen.push_back(v.state.volume_id);
      if (m->next_after.empty())
        break;
      auto& last = m->volumes.back().state.migration;
      req.has_after = true;
      req.after_deadline_ns = (last.started_at + last.timeout).count();
      req.after_id = m->volumes.back().state.volume_id;
    }
    return seen;
  };
  CHECK(read_all(3) == std::vector<std::string>{"g", "b", "c", "d", "f", "e", "a"});
  CHECK(read_all(100) == std::vector<std::string>{"g", "b", "c", "d", "f", "e", "a"});
  // A position whose migration ended meanwhile still continues after it.
  auto all = ask<volume_page>(supervisor, inspect_atom_v, migrations_page_request{});
  REQUIRE(all);
  REQUIRE(all->volumes.size() == 7);
  auto& c = all->volumes[2].state;
  REQUIRE(c.volume_id == "c");
  migrations_page_request req;
  req.has_after = true;
  req.after_deadline_ns = (c.migration.started_at + c.migration.timeout).count();
  req.after_id = "c";
  REQUIRE(unpublish("c", "n1").ok());
  auto m = ask<volume_page>(supervisor, inspect_atom_v, req);
  REQUIRE(m);
  CHECK(ids_of(*m) == std::vector<std::string>{"d", "f", "e", "a"});
  CHECK(m->total == 6);
  // The migrating filter of the volume pages reads the same index.
  volume_page_request filtered;
  filtered.migrating_only = true;
  CHECK(ids_of(page(filtered)) == std::vector<std::string>{"a", "b", "d", "e", "f", "g"});
}

TEST_CASE_FIXTURE(supervisor_fixture, "a restarted volume actor shows its state, its timer and "
                                      "the restart count") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  REQUIRE(publish_rwx("vol-1", "b", 300s).ok());
  REQUIRE(publish_rwx("vol-2", "a", 300s).ok());
  advance(100s);
  self->send_exit(lookup("vol-1"), caf::exit_reason::kill);
  sched.run();
  auto [result, x] = inspect("vol-1");
  CHECK(result.ok());
  CHECK(x.restarts == 1);
  REQUIRE(x.state.nodes.size() == 2);
  CHECK(x.state.migrating);
  CHECK(x.state.migration.generation == 1);
  CHECK(x.timer_deadline - x.now == 200s);
  REQUIRE(x.recent.size() == 1);
  CHECK(x.recent[0].kind == "restart");
  self->send_exit(lookup("vol-1"), caf::exit_reason::kill);
  sched.run();
  CHECK(inspect("vol-1").second.restarts == 2);
  CHECK(inspect("vol-2").second.restarts == 0);
  auto p = page(volume_page_request{});
  REQUIRE(p.volumes.size() == 2);
  CHECK(p.volumes[0].restarts == 2);
  CHECK(p.volumes[1].restarts == 0);
  pass_notes();
  auto changes = feed_changes();
  REQUIRE(!changes.empty());
  CHECK(changes.back().kind == "actor_restarted");
  CHECK(changes.back().volume_id == "vol-1");
  CHECK(changes.back().nodes == std::vector<std::string>{"a", "b"});
  CHECK(status().restarts == 2);
}

TEST_CASE("test faults are parsed, and a bad one is refused") {
  actors::volume_test_faults f;
  CHECK(actors::add_test_fault("crash-volume:pvc-1", f).empty());
  CHECK(f.crash_volume == "pvc-1");
  CHECK(f.crash_on_publish == 1);
  CHECK(actors::add_test_fault("crash-volume:pvc-1:3", f).empty());
  CHECK(f.crash_on_publish == 3);
  CHECK(actors::add_test_fault("slow-status:supervisor:750", f).empty());
  CHECK(f.slow_answers == 750ms);
  CHECK_FALSE(actors::add_test_fault("crash-volume:", f).empty());
  CHECK_FALSE(actors::add_test_fault("crash-volume:v:0", f).empty());
  CHECK_FALSE(actors::add_test_fault("slow-status:supervisor:x", f).empty());
  CHECK_FALSE(actors::add_test_fault("slow-status:rds:10", f).empty());
  CHECK_FALSE(actors::add_test_fault("explode", f).empty());
}

TEST_CASE_FIXTURE(supervisor_fixture, "test fault crash-volume: the actor exits on its n-th "
                                      "publish before changing anything, once") {
  actors::volume_supervisor_config cfg;
  REQUIRE(actors::add_test_fault("crash-volume:vol-1:3", cfg.faults).empty());
  respawn(cfg);
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  REQUIRE(publish_rwx("vol-2", "a", 300s).ok());
  REQUIRE(publish_rwx("vol-1", "b", 300s).ok());
  publish_capability cap{access_kind::multi_node_block, 5, true, false};
  self->send(supervisor, publish_atom_v, publish_request{"vol-1", "c", cap, 300s});
  sched.run();
  auto got = answer();
  REQUIRE(got);
  CHECK(std::holds_alternative<caf::error>(*got));
  auto [result, x] = inspect("vol-1");
  CHECK(result.ok());
  CHECK(x.restarts == 1);
  REQUIRE(x.state.nodes.size() == 2); // c was never attached
  CHECK(x.state.migrating);
  // Once: the next publish goes through (and is refused on its merits).
  CHECK(publish_rwx("vol-1", "c", 300s).code == ec::attached_elsewhere);
  CHECK(publish_rwx("vol-1", "b", 300s).ok());
  CHECK(inspect("vol-1").second.restarts == 1);
  CHECK(status().restarts == 1);
}

TEST_CASE_FIXTURE(supervisor_fixture, "a volume actor whose request failed is never a spare") {
  // vol-1's actor exits on its first publish: a fresh volume, detached, with nothing in flight.
  actors::volume_supervisor_config cfg;
  REQUIRE(actors::add_test_fault("crash-volume:vol-1", cfg.faults).empty());
  respawn(cfg);
  publish_capability cap{access_kind::single_node, 1, false, false};
  // Its error answer comes before its down message; a new volume's publish that came between
  // the two (a narrow race the deterministic scheduler cannot stage) would have got the dead
  // actor as a spare. Here: the crash path leaves no spare and costs no restart.
  self->send(supervisor, publish_atom_v, publish_request{"vol-1", "a", cap, 300s});
  self->send(supervisor, publish_atom_v, publish_request{"vol-2", "a", cap, 300s});
  sched.run();
  auto first = answer();
  REQUIRE(first);
  CHECK(std::holds_alternative<caf::error>(*first));
  auto second = answer();
  REQUIRE(second);
  REQUIRE(std::holds_alternative<outcome>(*second));
  CHECK(std::get<outcome>(*second).ok());
  CHECK(status().spare == 0);
  CHECK(status().restarts == 0);
  CHECK(volume("vol-2").nodes.size() == 1);
  // vol-1 again: a new actor, and the fault happened once.
  CHECK(publish("vol-1", "a", false).ok());
}

TEST_CASE_FIXTURE(supervisor_fixture, "test fault slow-status: status and inspection answers "
                                      "come late, and nothing else waits") {
  actors::volume_supervisor_config cfg;
  REQUIRE(actors::add_test_fault("slow-status:supervisor:2000", cfg.faults).empty());
  respawn(cfg);
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok()); // CSI calls are not delayed
  self->send(supervisor, status_atom_v);
  self->send(supervisor, inspect_atom_v, volume_page_request{});
  self->send(supervisor, inspect_atom_v, std::string{"vol-1"});
  sched.run();
  CHECK_FALSE(inspection_answer());
  advance(1999ms);
  CHECK_FALSE(inspection_answer());
  advance(1ms);
  int answers = 0;
  for (int i = 0; i < 3; ++i)
    self->receive(
      [&](supervisor_status& s) { answers += s.attached == 1; },
      [&](volume_page& p) { answers += p.volumes.size() == 1; },
      [&](outcome& o, volume_inspection& x) { answers += o.ok() && x.state.nodes.size() == 1; },
      caf::after(0s) >> [] {});
  CHECK(answers == 3);
}

// Hibernation (--volume-idle-seconds): an idle attached volume's actor is retired and its
// record (known state, operation ring) kept by the supervisor; the next request revives it.
namespace {

struct hibernation_fixture : supervisor_fixture {
  publish_capability rwx{access_kind::multi_node_block, 5, true, false};

  hibernation_fixture() {
    actors::volume_supervisor_config cfg;
    cfg.hibernation.idle = 60s;
    respawn(cfg);
  }

  attachment_change change(const std::string& volume, const std::string& node,
                           attachment_phase phase) {
    attachment_change c;
    c.volume_id = volume;
    c.node_id = node;
    c.phase = phase;
    c.since = caf::make_timestamp();
    c.capability = rwx;
    c.migration_timeout = 300s;
    return c;
  }

  void follow(const attachment_change& c) {
    self->send(supervisor, sync_atom_v, c);
    sched.run();
  }

  bool dormant(const std::string& id) { return !lookup(id); }
};

} // namespace

TEST_CASE_FIXTURE(hibernation_fixture, "an idle attached volume hibernates after the idle time, "
                                       "not before; reads answer from its record") {
  REQUIRE(publish("vol-1", "a", false).ok());
  advance(59s);
  CHECK_FALSE(dormant("vol-1"));
  // Reads do not count as activity, and do not wake it.
  CHECK(inspect("vol-1").first.ok());
  CHECK(volume("vol-1").nodes.size() == 1);
  advance(2s);
  CHECK(dormant("vol-1"));
  auto s = status();
  CHECK(s.volumes == 1);
  CHECK(s.volume_actors == 0);
  CHECK(s.dormant == 1);
  CHECK(s.hibernations == 1);
  CHECK(s.revivals == 0);
  CHECK(s.attached == 1);
  CHECK(s.in_flight == 0);
  CHECK(s.restarts == 0);
  auto [result, x] = inspect("vol-1");
  CHECK(result.ok());
  CHECK(x.dormant);
  REQUIRE(x.state.nodes.size() == 1);
  CHECK(x.state.nodes[0].node_id == "a");
  REQUIRE(x.recent.size() == 1);
  CHECK(x.recent[0].kind == "publish");
  CHECK(x.recent[0].node_id == "a");
  CHECK(volume("vol-1").nodes.size() == 1);
  auto [described, info, state] = describe("vol-1");
  CHECK(described.ok());
  CHECK(state.nodes.size() == 1);
  CHECK(page(volume_page_request{}).volumes.size() == 1);
  CHECK(dormant("vol-1"));
  CHECK(status().revivals == 0);
  // A publish revives it from the record: the same state and ring, one more operation.
  CHECK(publish("vol-1", "a", false).ok());
  CHECK_FALSE(dormant("vol-1"));
  s = status();
  CHECK(s.dormant == 0);
  CHECK(s.volume_actors == 1);
  CHECK(s.revivals == 1);
  CHECK(s.restarts == 0);
  auto [result2, y] = inspect("vol-1");
  CHECK_FALSE(y.dormant);
  REQUIRE(y.recent.size() == 2);
  CHECK(y.recent[0].at == x.recent[0].at);
  CHECK(y.recent[0].kind == "publish");
  CHECK(y.recent[1].kind == "publish");
  CHECK(y.restarts == 0);
  // And it sleeps again after another idle time.
  advance(61s);
  CHECK(dormant("vol-1"));
  CHECK(status().hibernations == 2);
}

TEST_CASE_FIXTURE(hibernation_fixture, "a migrating volume never hibernates; after its migration "
                                       "it does, and keeps its generation") {
  REQUIRE(publish_rwx("vol-1", "a", 3600s).ok());
  REQUIRE(publish_rwx("vol-1", "b", 3600s).ok());
  advance(600s);
  CHECK_FALSE(dormant("vol-1"));
  CHECK(status().migrating == 1);
  CHECK(unpublish("vol-1", "a").ok()); // success: b is the volume's node now
  advance(59s);
  CHECK_FALSE(dormant("vol-1"));
  advance(2s);
  REQUIRE(dormant("vol-1"));
  auto [result, x] = inspect("vol-1");
  CHECK(x.dormant);
  CHECK_FALSE(x.state.migrating);
  CHECK(x.state.migration.generation == 1);
  REQUIRE(x.state.nodes.size() == 1);
  CHECK(x.state.nodes[0].node_id == "b");
  REQUIRE(x.recent.size() == 3);
  CHECK(x.recent[2].kind == "unpublish");
  // A followed attach of another node revives it: a new migration, generation 2.
  follow(change("vol-1", "c", attachment_phase::attached));
  CHECK_FALSE(dormant("vol-1"));
  auto [result2, y] = inspect("vol-1");
  CHECK(y.state.migrating);
  CHECK(y.state.migration.generation == 2);
  REQUIRE(y.recent.size() == 4);
  CHECK(y.recent[3].kind == "follow-attach");
  CHECK(status().revivals == 1);
  CHECK(metric("rds_csi_migration_active_migrations") == 1);
  // Migrating again: it stays awake past the idle time.
  advance(120s);
  CHECK_FALSE(dormant("vol-1"));
}

TEST_CASE_FIXTURE(hibernation_fixture, "an unpublish and a followed detach revive a dormant "
                                       "volume; detached, it is retired for good") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  REQUIRE(publish_rwx("vol-2", "a", 300s).ok());
  advance(61s);
  REQUIRE(dormant("vol-1"));
  REQUIRE(dormant("vol-2"));
  CHECK(metric("rds_csi_attachment_attached_volumes") == 2);
  CHECK(unpublish("vol-1", "a").ok());
  follow(change("vol-2", "a", attachment_phase::gone));
  auto s = status();
  CHECK(s.volumes == 0);
  CHECK(s.dormant == 0);
  CHECK(s.volume_actors == 0);
  CHECK(s.attached == 0);
  CHECK(s.revivals == 2);
  pass_notes();
  CHECK(metric("rds_csi_attachment_attached_volumes") == 0);
  CHECK(metric("rds_csi_attachment_detach_total{status=\"success\"}") == 1);
  CHECK(inspect("vol-1").first.code == ec::not_found);
}

TEST_CASE_FIXTURE(hibernation_fixture, "a followed change queued behind the hibernate request "
                                       "is not lost, however long the actor takes to run") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  auto actor = lookup("vol-1");
  REQUIRE(actor);
  // The idle time passes: the supervisor asks the actor, which does not run yet.
  sched.advance_time(61s);
  run_all_but(job_of(actor));
  // Kubernetes shows a second node; the change waits behind the hibernate request, and more
  // time passes than any bound on a request (a followed change has no deadline).
  self->send(supervisor, sync_atom_v, change("vol-1", "b", attachment_phase::attached));
  run_all_but(job_of(actor));
  sched.advance_time(120s);
  run_all_but(job_of(actor));
  sched.run();
  // The hibernation was given up; the change's answer reached the record.
  CHECK(lookup("vol-1") == actor);
  auto s = status();
  CHECK(s.hibernations == 0);
  CHECK(s.in_flight == 0);
  CHECK(volume("vol-1").nodes.size() == 2);
}

TEST_CASE_FIXTURE(hibernation_fixture, "a request that arrives while the hibernate request is in "
                                       "flight is not lost: the hibernation is given up") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  auto actor = lookup("vol-1");
  REQUIRE(actor);
  // The idle time passes: the supervisor asks the actor, which does not run yet.
  sched.advance_time(61s);
  run_all_but(job_of(actor));
  // A publish is forwarded behind the hibernate request.
  self->send(supervisor, publish_atom_v, publish_request{"vol-1", "b", rwx, 300s});
  run_all_but(job_of(actor));
  CHECK_FALSE(answer());
  sched.run();
  auto got = answer();
  REQUIRE(got);
  REQUIRE(std::holds_alternative<outcome>(*got));
  CHECK(std::get<outcome>(*got).ok());
  CHECK(lookup("vol-1") == actor);
  auto s = status();
  CHECK(s.dormant == 0);
  CHECK(s.hibernations == 0);
  CHECK(s.hibernations_abandoned == 1);
  CHECK(s.in_flight == 0);
  CHECK(s.migrating == 1);
  auto [result, x] = inspect("vol-1");
  CHECK_FALSE(x.dormant);
  CHECK(x.state.nodes.size() == 2);
  CHECK(x.recent.size() == 2);
  // The migration ends; then it hibernates as usual.
  CHECK(unpublish("vol-1", "a").ok());
  advance(61s);
  CHECK(dormant("vol-1"));
  CHECK(status().hibernations == 1);
}

TEST_CASE_FIXTURE(hibernation_fixture, "a revived actor that crashes restarts from the record") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  advance(61s);
  REQUIRE(dormant("vol-1"));
  REQUIRE(publish_rwx("vol-1", "b", 300s).ok()); // revives it; a migration starts
  advance(100s);
  auto actor = lookup("vol-1");
  REQUIRE(actor);
  self->send_exit(actor, caf::exit_reason::kill);
  sched.run();
  auto after = lookup("vol-1");
  REQUIRE(after);
  CHECK(after != actor);
  auto s = status();
  CHECK(s.restarts == 1);
  CHECK(s.revivals == 1);
  CHECK(s.dormant == 0);
  auto [result, x] = inspect("vol-1");
  CHECK(x.restarts == 1);
  REQUIRE(x.state.nodes.size() == 2);
  CHECK(x.state.migrating);
  CHECK(x.state.migration.generation == 1);
  CHECK(x.timer_deadline - x.now == 200s);
  advance(200s);
  CHECK(volume("vol-1").migration.timed_out);
  CHECK(metric("rds_csi_migration_migrations_total{result=\"timeout\"}") == 1);
}

TEST_CASE_FIXTURE(hibernation_fixture, "hibernation changes no count, gauge or page") {
  constexpr int volumes = 100;
  auto id = [](int i) { return "vol-" + std::to_string(100 + i); };
  for (int i = 0; i < volumes; ++i)
    REQUIRE(publish_rwx(id(i), "a", 3600s).ok());
  for (int i = 0; i < volumes; i += 4)
    REQUIRE(publish_rwx(id(i), "b", 3600s).ok());
  auto before = page(volume_page_request{});
  auto gauges = [&] {
    return std::make_pair(metric("rds_csi_attachment_attached_volumes"),
                          metric("rds_csi_migration_active_migrations"));
  };
  pass_notes();
  auto gauges_before = gauges();
  CHECK(gauges_before == std::make_pair(100.0, 25.0));
  advance(61s);
  auto s = status();
  CHECK(s.dormant == 75);
  CHECK(s.volume_actors == 25);
  CHECK(s.volumes == 100);
  CHECK(s.attached == 100);
  CHECK(s.migrating == 25);
  CHECK(gauges() == gauges_before);
  auto during = page(volume_page_request{});
  REQUIRE(during.volumes.size() == before.volumes.size());
  for (size_t i = 0; i < during.volumes.size(); ++i) {
    CHECK(during.volumes[i].state.volume_id == before.volumes[i].state.volume_id);
    CHECK(during.volumes[i].state.nodes.size() == before.volumes[i].state.nodes.size());
    CHECK(during.volumes[i].state.migrating == before.volumes[i].state.migrating);
  }
  // Everyone revived by an idempotent publish: the same again.
  for (int i = 0; i < volumes; ++i)
    REQUIRE(publish_rwx(id(i), "a", 3600s).ok());
  s = status();
  CHECK(s.dormant == 0);
  CHECK(s.volume_actors == 100);
  CHECK(s.revivals == 75);
  pass_notes();
  CHECK(gauges() == gauges_before);
  CHECK(metric("rds_csi_attachment_attach_total{status=\"success\"}") == volumes);
}

TEST_CASE_FIXTURE(hibernation_fixture, "rebuilt volumes that do not migrate start dormant") {
  actors::volume_supervisor_config cfg;
  cfg.hibernation.idle = 60s;
  cfg.follow_cluster = true;
  respawn(cfg);
  self->send(supervisor, nodes_atom_v, std::vector<std::string>{"a", "b"});
  cluster_inventory inventory;
  auto wall = caf::make_timestamp();
  for (int i = 0; i < 2; ++i) {
    observed_volume v;
    v.volume_id = "vol-" + std::to_string(i);
    v.capability = rwx;
    v.migration_timeout = 300s;
    v.nodes.push_back({"a", wall - 1h});
    if (i == 1)
      v.nodes.push_back({"b", wall - 100s});
    inventory.volumes.push_back(v);
  }
  inventory.listed_at = wall;
  self->send(supervisor, sync_atom_v, inventory);
  sched.run();
  auto s = status();
  CHECK(s.volumes == 2);
  CHECK(s.dormant == 1);
  CHECK(s.volume_actors == 1);
  CHECK(s.attached == 2);
  CHECK(s.migrating == 1);
  CHECK(dormant("vol-0"));
  auto [result, x] = inspect("vol-0");
  CHECK(x.dormant);
  CHECK(x.recent.empty());
  REQUIRE(x.state.nodes.size() == 1);
  // The migrating one has its actor and timer (200 s left); after the migration it sleeps.
  CHECK_FALSE(dormant("vol-1"));
  advance(201s);
  CHECK(volume("vol-1").migration.timed_out);
  CHECK_FALSE(dormant("vol-1"));
  CHECK(unpublish("vol-1", "a").ok());
  advance(61s);
  CHECK(dormant("vol-1"));
  // A publish wakes the rebuilt one.
  CHECK(publish_rwx("vol-0", "a", 300s).ok());
  CHECK_FALSE(dormant("vol-0"));
  CHECK(inspect("vol-0").second.recent.size() == 1);
}

TEST_CASE_FIXTURE(hibernation_fixture, "a later list wakes only the dormant volumes it changes") {
  actors::volume_supervisor_config cfg;
  cfg.hibernation.idle = 60s;
  cfg.follow_cluster = true;
  respawn(cfg);
  self->send(supervisor, nodes_atom_v, std::vector<std::string>{"a", "b"});
  auto wall = caf::make_timestamp();
  auto list = [&](bool second_node) {
    cluster_inventory inventory;
    for (int i = 0; i < 2; ++i) {
      observed_volume v;
      v.volume_id = "vol-" + std::to_string(i);
      v.capability = rwx;
      v.migration_timeout = 300s;
      v.nodes.push_back({"a", wall - 1h});
      if (i == 1 && second_node)
        v.nodes.push_back({"b", wall - 10s});
      inventory.volumes.push_back(v);
    }
    inventory.listed_at = caf::make_timestamp();
    self->send(supervisor, sync_atom_v, inventory);
    sched.run();
  };
  list(false);
  REQUIRE(status().dormant == 2);
  // The same list again (a relist after a 410): nothing changes, nobody wakes.
  list(false);
  auto s = status();
  CHECK(s.dormant == 2);
  CHECK(s.revivals == 0);
  CHECK(inspect("vol-0").second.recent.empty());
  // vol-1 gained a node: only it wakes, and migrates.
  list(true);
  s = status();
  CHECK(s.dormant == 1);
  CHECK(s.revivals == 1);
  CHECK(dormant("vol-0"));
  auto [result, x] = inspect("vol-1");
  CHECK_FALSE(x.dormant);
  CHECK(x.state.migrating);
  REQUIRE(x.recent.size() == 1);
  CHECK(x.recent[0].kind == "follow-list");
}

TEST_CASE_FIXTURE(hibernation_fixture, "test fault crash-volume counts the publishes of a "
                                       "dormant volume's earlier actors") {
  actors::volume_supervisor_config cfg;
  cfg.hibernation.idle = 60s;
  REQUIRE(actors::add_test_fault("crash-volume:vol-1:2", cfg.faults).empty());
  respawn(cfg);
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  advance(61s);
  REQUIRE(dormant("vol-1"));
  // The second publish revives the actor, which crashes on it: its first, the volume's second.
  self->send(supervisor, publish_atom_v, publish_request{"vol-1", "a", rwx, 300s});
  sched.run();
  auto got = answer();
  REQUIRE(got);
  CHECK(std::holds_alternative<caf::error>(*got));
  auto s = status();
  CHECK(s.revivals == 1);
  CHECK(s.restarts == 1);
  CHECK_FALSE(dormant("vol-1"));
  // Once: the next publish goes through.
  CHECK(publish_rwx("vol-1", "a", 300s).ok());
  CHECK(status().restarts == 1);
}

TEST_CASE_FIXTURE(hibernation_fixture, "a dormant volume whose only node goes away wakes, "
                                       "detaches and is retired; a node it lacks pending does "
                                       "not wake it") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  advance(61s);
  REQUIRE(dormant("vol-1"));
  follow(change("vol-1", "b", attachment_phase::pending));
  CHECK(dormant("vol-1"));
  CHECK(status().revivals == 0);
  follow(change("vol-1", "a", attachment_phase::gone));
  auto s = status();
  CHECK(s.revivals == 1);
  CHECK(s.volumes == 0);
  CHECK(s.dormant == 0);
  CHECK(s.attached == 0);
  CHECK(inspect("vol-1").first.code == ec::not_found);
}

TEST_CASE_FIXTURE(hibernation_fixture, "a followed change that changes nothing does not wake a "
                                       "dormant volume; one that does, does") {
  REQUIRE(publish_rwx("vol-1", "a", 300s).ok());
  advance(61s);
  REQUIRE(dormant("vol-1"));
  // The attacher's status write and later metadata changes of the VolumeAttachment of a node
  // the volume has, a deletion being started, a node it does not have going away.
  follow(change("vol-1", "a", attachment_phase::attached));
  follow(change("vol-1", "a", attachment_phase::pending));
  follow(change("vol-1", "z", attachment_phase::gone));
  auto s = status();
  CHECK(s.dormant == 1);
  CHECK(s.revivals == 0);
  CHECK(dormant("vol-1"));
  // A second node attached: it wakes and migrates.
  follow(change("vol-1", "b", attachment_phase::attached));
  CHECK_FALSE(dormant("vol-1"));
  s = status();
  CHECK(s.revivals == 1);
  CHECK(s.migrating == 1);
  auto [result, x] = inspect("vol-1");
  REQUIRE(x.state.nodes.size() == 2);
  CHECK(x.recent.back().kind == "follow-attach");
}

namespace {

struct feed_recorder_state {
  std::vector<state_change> changes;
  size_t messages = 0;
};

/// A live feed that counts the messages it gets and keeps every change.
state_feed_actor::behavior_type
feed_recorder(state_feed_actor::stateful_pointer<feed_recorder_state> self) {
  return {
    [self](state_change_batch& batch) {
      ++self->state.messages;
      for (auto& change : batch.changes)
        self->state.changes.push_back(std::move(change));
    },
    [self](feed_atom, uint64_t, caf::timespan) {
      state_changes all;
      all.changes = self->state.changes;
      all.last_sequence = self->state.messages;
      return all;
    },
    [](feed_timeout_atom, uint64_t) {},
  };
}

} // namespace

TEST_CASE("the notes of answers go out together: the first after a quiet spell at once, later "
          "ones once the interval has passed or when many are gathered, each volume's in order") {
  test::actor_fixture fx;
  auto feed = fx.sys.spawn(feed_recorder);
  auto catalog = test::catalog_of_every_volume(fx.sys, fx.metrics);
  actors::volume_supervisor_config cfg;
  auto supervisor =
    fx.sys.spawn(actors::volume_supervisor, cfg, fx.metrics, fx.events, catalog, feed);
  fx.sched.run();
  auto recorded = [&] {
    auto got = fx.ask<state_changes>(feed, feed_atom_v, uint64_t{0}, caf::timespan{0});
    REQUIRE(got);
    return *got;
  };
  publish_capability rwx{access_kind::multi_node_block, 5, true, false};
  // One request after a quiet spell: its notes go out when it is answered, in one message.
  auto one = fx.ask<outcome>(supervisor, publish_atom_v, publish_request{"solo", "a", rwx, 300s});
  REQUIRE(one);
  CHECK(one->ok());
  auto first = recorded();
  REQUIRE(first.changes.size() == 1);
  CHECK(first.changes[0].kind == "attach");
  CHECK(first.last_sequence == 1);
  CHECK(fx.metric("rds_csi_attachment_attach_total{status=\"success\"}") == 1);
  // The next one within the interval: gathered until it ends.
  auto two = fx.ask<outcome>(supervisor, publish_atom_v, publish_request{"duo", "a", rwx, 300s});
  REQUIRE(two);
  CHECK(recorded().changes.size() == 1);
  CHECK(fx.metric("rds_csi_attachment_attach_total{status=\"success\"}") == 1);
  fx.advance(cfg.notes_interval);
  CHECK(recorded().changes.size() == 2);
  CHECK(recorded().last_sequence == 2);
  CHECK(fx.metric("rds_csi_attachment_attach_total{status=\"success\"}") == 2);
  // Fifty volumes attached and migrated at once: a hundred answers, far fewer messages; the
  // notes of about eighty answers fill a batch, which goes at once, the rest when the interval
  // ends.
  constexpr int volumes = 50;
  auto id = [](int i) { return "vol-" + std::to_string(i); };
  for (int i = 0; i < volumes; ++i) {
    fx.self->send(supervisor, publish_atom_v, publish_request{id(i), "a", rwx, 300s});
    fx.self->send(supervisor, publish_atom_v, publish_request{id(i), "b", rwx, 300s});
  }
  fx.sched.run();
  for (int i = 0; i < 2 * volumes; ++i)
    fx.self->receive([](outcome& o) { CHECK(o.ok()); },
                     caf::after(std::chrono::seconds{0}) >> [] { FAIL("an answer is missing"); });
  auto batch = recorded();
  CHECK(batch.changes.size() > 2);
  CHECK(batch.changes.size() < 2 + 3 * volumes);
  fx.advance(cfg.notes_interval);
  auto all = recorded();
  // Per volume: attach (a), attach (b), migration_started, in that order.
  REQUIRE(all.changes.size() == 2 + 3 * volumes);
  for (int i = 0; i < volumes; ++i) {
    std::vector<std::string> kinds;
    for (auto& c : all.changes)
      if (c.volume_id == id(i))
        kinds.push_back(c.kind + (c.kind == "attach" ? ":" + c.nodes.at(0) : ""));
    CHECK(kinds == std::vector<std::string>{"attach:a", "attach:b", "migration_started"});
  }
  auto messages = all.last_sequence - first.last_sequence;
  CHECK(messages >= 2);
  CHECK(messages <= 4);
  CHECK(fx.recorded_events("MigrationStarted") == volumes);
  CHECK(fx.metric("rds_csi_attachment_attach_total{status=\"success\"}") == 2 + volumes);
  CHECK(
    fx.metric("rds_csi_attachment_operation_duration_seconds_count{operation=\"attach_secondary\"}")
    == volumes);
  CHECK(fx.metric("rds_csi_migration_active_migrations") == volumes);
  fx.self->send_exit(supervisor, caf::exit_reason::user_shutdown);
  fx.self->send_exit(catalog, caf::exit_reason::user_shutdown);
  fx.self->send_exit(feed, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

TEST_CASE("notes that wait for the interval are passed on when the supervisor ends") {
  test::actor_fixture fx;
  auto feed = fx.sys.spawn(feed_recorder);
  auto catalog = test::catalog_of_every_volume(fx.sys, fx.metrics);
  auto supervisor = fx.sys.spawn(actors::volume_supervisor, actors::volume_supervisor_config{},
                                 fx.metrics, fx.events, catalog, feed);
  fx.sched.run();
  publish_capability rwx{access_kind::multi_node_block, 5, true, false};
  for (auto node : {"a", "b"}) {
    auto r = fx.ask<outcome>(supervisor, publish_atom_v, publish_request{"vol", node, rwx, 300s});
    REQUIRE(r);
    CHECK(r->ok());
  }
  // The second publish's notes (an attach and a migration) wait for the interval.
  CHECK(fx.recorded_events("MigrationStarted") == 0);
  fx.self->send_exit(supervisor, caf::exit_reason::user_shutdown);
  fx.sched.run();
  CHECK(fx.recorded_events("MigrationStarted") == 1);
  CHECK(
    fx.metric("rds_csi_attachment_operation_duration_seconds_count{operation=\"attach_secondary\"}")
    == 1);
  CHECK(fx.metric("rds_csi_migration_active_migrations") == 1);
  auto got = fx.ask<state_changes>(feed, feed_atom_v, uint64_t{0}, caf::timespan{0});
  REQUIRE(got);
  CHECK(got->changes.size() == 3);
  fx.self->send_exit(catalog, caf::exit_reason::user_shutdown);
  fx.self->send_exit(feed, caf::exit_reason::user_shutdown);
  fx.sched.run();
}
