// The volume actor's state machine as a table of transitions, driven through the supervisor
// (the real path) on the test coordinator: publishes, unpublishes and migration timers; the
// ring of its last operations and the state changes it tells the feed.
#include <map>
#include <vector>

#include "actors/volume.hpp"
#include "actors/volume_supervisor.hpp"
#include "unit/actor_fixture.hpp"
#include "unit/fake_rds.hpp"

using namespace rds;
using namespace std::chrono_literals;

namespace {

enum class act { publish_rwo, publish_rwo_readonly, publish_rwx, unpublish, unpublish_all, wait };

struct step {
  act action;
  std::string node; // for wait: ignored
  ec expect = ec::none;
  std::vector<std::string> nodes_after;
  bool migrating_after = false;
  bool timed_out_after = false;
  int wait_seconds = 0;
};

struct scenario {
  const char* name;
  std::vector<step> steps;
  std::map<std::string, double> metrics_after;
  /// Events recorded by reason (a reason not listed: none).
  std::map<std::string, uint64_t> events_after;
};

const std::vector<std::string> event_reasons{
  "VolumeAttached",     "VolumeDetached",  "AttachmentConflict", "MigrationStarted",
  "MigrationCompleted", "MigrationFailed", "MigrationTimedOut"};

publish_capability rwo(bool readonly = false) {
  return {access_kind::single_node, 1, false, readonly};
}

publish_capability rwx_block() {
  return {access_kind::multi_node_block, 5, true, false};
}

const std::string attach = "rds_csi_attachment_attach_total{status=\"success\"}";
const std::string detach = "rds_csi_attachment_detach_total{status=\"success\"}";
const std::string conflicts = "rds_csi_attachment_conflicts_total";
const std::string started = "rds_csi_migration_started_total";
const std::string success = "rds_csi_migration_migrations_total{result=\"success\"}";
const std::string failed = "rds_csi_migration_migrations_total{result=\"failed\"}";
const std::string timeout = "rds_csi_migration_migrations_total{result=\"timeout\"}";
const std::string active = "rds_csi_migration_active_migrations";
const std::string attached = "rds_csi_attachment_attached_volumes";
const std::string durations = "rds_csi_migration_duration_seconds_count";

const std::vector<scenario> scenarios = {
  {"RWO: publish, repeat, conflict, unknown node, detach",
   {{act::publish_rwo, "a", ec::none, {"a"}},
    {act::publish_rwo, "a", ec::none, {"a"}},
    {act::publish_rwo, "b", ec::attached_elsewhere, {"a"}},
    {act::unpublish, "b", ec::none, {"a"}},
    {act::unpublish, "a", ec::none, {}},
    {act::unpublish, "a", ec::none, {}}},
   {{attach, 1}, {detach, 1}, {conflicts, 1}, {started, 0}, {attached, 0}},
   {{"VolumeAttached", 1}, {"VolumeDetached", 1}, {"AttachmentConflict", 1}}},
  {"RWO: same node with another capability",
   {{act::publish_rwo, "a", ec::none, {"a"}},
    {act::publish_rwo_readonly, "a", ec::incompatible_attachment, {"a"}}},
   {{attach, 1}, {conflicts, 0}, {attached, 1}},
   {{"VolumeAttached", 1}}},
  {"RWO attached, RWX block asked on another node",
   {{act::publish_rwo, "a", ec::none, {"a"}},
    {act::publish_rwx, "b", ec::attached_elsewhere, {"a"}}},
   {{conflicts, 1}, {started, 0}},
   {{"VolumeAttached", 1}, {"AttachmentConflict", 1}}},
  {"RWX attached, RWO asked on another node",
   {{act::publish_rwx, "a", ec::none, {"a"}},
    {act::publish_rwo, "b", ec::attached_elsewhere, {"a"}}},
   {{conflicts, 1}, {started, 0}},
   {{"VolumeAttached", 1}, {"AttachmentConflict", 1}}},
  {"RWX: migration succeeds when the source detaches",
   {{act::publish_rwx, "a", ec::none, {"a"}},
    {act::publish_rwx, "b", ec::none, {"a", "b"}, true},
    {act::publish_rwx, "b", ec::none, {"a", "b"}, true},
    {act::publish_rwx, "a", ec::none, {"a", "b"}, true},
    {act::wait, "", ec::none, {"a", "b"}, true, false, 42},
    {act::unpublish, "a", ec::none, {"b"}},
    {act::unpublish, "b", ec::none, {}}},
   {{attach, 1},
    {detach, 1},
    {started, 1},
    {success, 1},
    {failed, 0},
    {timeout, 0},
    {active, 0},
    {durations, 1},
    {"rds_csi_migration_duration_seconds_sum", 42},
    {"rds_csi_migration_duration_seconds_bucket{le=\"60\"}", 1},
    {"rds_csi_migration_duration_seconds_bucket{le=\"30\"}", 0}},
   {{"VolumeAttached", 1},
    {"MigrationStarted", 1},
    {"MigrationCompleted", 1},
    {"VolumeDetached", 1}}},
  {"RWX: migration rolls back when the target detaches",
   {{act::publish_rwx, "a", ec::none, {"a"}},
    {act::publish_rwx, "b", ec::none, {"a", "b"}, true},
    {act::unpublish, "b", ec::none, {"a"}},
    {act::unpublish, "b", ec::none, {"a"}}},
   {{started, 1}, {success, 0}, {failed, 1}, {active, 0}, {attached, 1}, {durations, 1}},
   {{"VolumeAttached", 1}, {"MigrationStarted", 1}, {"MigrationFailed", 1}}},
  {"RWX: a third node is refused",
   {{act::publish_rwx, "a", ec::none, {"a"}},
    {act::publish_rwx, "b", ec::none, {"a", "b"}, true},
    {act::publish_rwx, "c", ec::attached_elsewhere, {"a", "b"}, true}},
   {{conflicts, 1}, {started, 1}, {active, 1}, {attached, 1}},
   {{"VolumeAttached", 1}, {"MigrationStarted", 1}, {"AttachmentConflict", 1}}},
  {"RWX: the timer records a timeout once and detaches nothing",
   {{act::publish_rwx, "a", ec::none, {"a"}},
    {act::publish_rwx, "b", ec::none, {"a", "b"}, true},
    {act::wait, "", ec::none, {"a", "b"}, true, false, 299},
    {act::wait, "", ec::none, {"a", "b"}, true, true, 1},
    {act::wait, "", ec::none, {"a", "b"}, true, true, 600},
    {act::unpublish, "a", ec::none, {"b"}}},
   {{timeout, 1}, {success, 0}, {failed, 0}, {active, 0}, {durations, 1}},
   {{"VolumeAttached", 1},
    {"MigrationStarted", 1},
    {"MigrationTimedOut", 1},
    {"MigrationCompleted", 1}}},
  {"RWX: a timer of an earlier migration is ignored",
   {{act::publish_rwx, "a", ec::none, {"a"}},
    {act::publish_rwx, "b", ec::none, {"a", "b"}, true},
    {act::unpublish, "b", ec::none, {"a"}},
    {act::wait, "", ec::none, {"a"}, false, false, 100},
    {act::publish_rwx, "b", ec::none, {"a", "b"}, true},
    {act::wait, "", ec::none, {"a", "b"}, true, false, 250},
    {act::wait, "", ec::none, {"a", "b"}, true, true, 50}},
   {{started, 2}, {failed, 1}, {timeout, 1}, {active, 1}},
   {{"VolumeAttached", 1},
    {"MigrationStarted", 2},
    {"MigrationFailed", 1},
    {"MigrationTimedOut", 1}}},
  {"RWX: unpublish from every node during a migration",
   {{act::publish_rwx, "a", ec::none, {"a"}},
    {act::publish_rwx, "b", ec::none, {"a", "b"}, true},
    {act::unpublish_all, "", ec::none, {}}},
   {{failed, 1}, {detach, 1}, {active, 0}, {attached, 0}},
   {{"VolumeAttached", 1}, {"MigrationStarted", 1}, {"MigrationFailed", 1}, {"VolumeDetached", 1}}},
  {"unknown volume and node: unpublish succeeds",
   {{act::unpublish, "a", ec::none, {}}, {act::unpublish_all, "", ec::none, {}}},
   {{attach, 0}, {detach, 0}},
   {}},
};

} // namespace

TEST_CASE("volume state machine") {
  for (auto& sc : scenarios) {
    SUBCASE(sc.name) {
      test::actor_fixture fx;
      auto supervisor =
        fx.sys.spawn(actors::volume_supervisor, actors::volume_supervisor_config{}, fx.metrics,
                     fx.events, test::catalog_of_every_volume(fx.sys, fx.metrics), fx.feed);
      fx.sched.run();
      size_t index = 0;
      for (auto& s : sc.steps) {
        CAPTURE(index);
        publish_request pub{"vol-1", s.node, rwo(), 300s};
        if (s.action == act::publish_rwo_readonly)
          pub.capability = rwo(true);
        else if (s.action == act::publish_rwx)
          pub.capability = rwx_block();
        switch (s.action) {
        case act::publish_rwo:
        case act::publish_rwo_readonly:
        case act::publish_rwx: {
          auto result = fx.ask<outcome>(supervisor, publish_atom_v, pub);
          REQUIRE(result);
          CHECK(result->code == s.expect);
          if (s.expect == ec::attached_elsewhere)
            for (auto& n : s.nodes_after)
              CHECK(result->message.find(n) != std::string::npos);
          break;
        }
        case act::unpublish:
        case act::unpublish_all: {
          unpublish_request req{"vol-1", s.action == act::unpublish ? s.node : ""};
          auto result = fx.ask<outcome>(supervisor, unpublish_atom_v, req);
          REQUIRE(result);
          CHECK(result->code == s.expect);
          break;
        }
        case act::wait:
          fx.advance(std::chrono::seconds{s.wait_seconds});
          break;
        }
        auto state = fx.ask<attachment_state>(supervisor, status_atom_v, std::string{"vol-1"});
        REQUIRE(state);
        std::vector<std::string> nodes;
        for (auto& n : state->nodes)
          nodes.push_back(n.node_id);
        CHECK(nodes == s.nodes_after);
        CHECK(state->migrating == s.migrating_after);
        if (state->migrating)
          CHECK(state->migration.timed_out == s.timed_out_after);
        ++index;
      }
      // The last answers' notes wait for the interval (see volume_supervisor_config).
      fx.advance(actors::volume_supervisor_config{}.notes_interval);
      for (auto& [series, value] : sc.metrics_after) {
        CAPTURE(series);
        CHECK(fx.metric(series) == doctest::Approx(value));
      }
      for (auto& reason : event_reasons) {
        CAPTURE(reason);
        auto expected = sc.events_after.count(reason) ? sc.events_after.at(reason) : 0;
        CHECK(fx.recorded_events(reason) == expected);
      }
      fx.self->send_exit(supervisor, caf::exit_reason::user_shutdown);
      fx.sched.run();
    }
  }
}

TEST_CASE("the operation ring keeps the last 32 operations, oldest first") {
  actors::operation_ring ring;
  auto t0 = caf::make_timestamp();
  // 33 operations, each on its own node: the first is dropped, and its node name too.
  for (int i = 0; i < 33; ++i)
    ring.record(i % 2 ? actors::operation_kind::unpublish : actors::operation_kind::publish,
                "node-with-a-long-kubernetes-name-" + std::to_string(i),
                i == 32 ? ec::attached_elsewhere : ec::none, std::chrono::microseconds{i},
                t0 + std::chrono::seconds{i});
  auto recent = ring.recent();
  REQUIRE(recent.size() == volume_operation_ring);
  CHECK(recent.front().node_id == "node-with-a-long-kubernetes-name-1");
  CHECK(recent.front().kind == "unpublish");
  CHECK(recent.front().at == t0 + std::chrono::seconds{1});
  CHECK(recent.front().duration == std::chrono::microseconds{1});
  CHECK(recent.back().node_id == "node-with-a-long-kubernetes-name-32");
  CHECK(recent.back().kind == "publish");
  CHECK(recent.back().result == "attached_elsewhere");
  for (size_t i = 1; i < recent.size(); ++i)
    CHECK(recent[i - 1].at < recent[i].at);
  // A hundred more, over five nodes: names are reused, the ring stays at 32.
  for (int i = 0; i < 100; ++i)
    ring.record(actors::operation_kind::timer, i % 7 == 0 ? "" : "n" + std::to_string(i % 5),
                ec::none, {}, t0 + std::chrono::seconds{100 + i});
  recent = ring.recent();
  REQUIRE(recent.size() == volume_operation_ring);
  CHECK(recent.back().node_id == "n4"); // i = 99
  CHECK(recent.back().kind == "timer");
  CHECK(recent[recent.size() - 2].node_id.empty()); // i = 98
  CHECK(recent.front().at == t0 + std::chrono::seconds{168});
  // 16 bytes a record, plus the names it still keeps (32 at most).
  CHECK(ring.heap_bytes() <= volume_operation_ring * 16 + volume_operation_ring * 80);
  // A fresh volume's ring holds little.
  actors::operation_ring small;
  small.record(actors::operation_kind::publish, "node-a", ec::none, {}, t0);
  // One record, and a short name inside the string itself.
  CHECK(small.heap_bytes() == 16);
}

TEST_CASE("migrations within one timeout leave one timer pending; each times out at its deadline") {
  test::actor_fixture fx;
  auto supervisor =
    fx.sys.spawn(actors::volume_supervisor, actors::volume_supervisor_config{}, fx.metrics,
                 fx.events, test::catalog_of_every_volume(fx.sys, fx.metrics), fx.feed);
  fx.sched.run();
  auto pending = [&] { return fx.sched.clock().schedule().size(); };
  auto base = pending();
  auto call = [&](auto atom, auto req) {
    auto r = fx.ask<outcome>(supervisor, atom, req);
    REQUIRE(r);
    CHECK(r->ok());
  };
  call(publish_atom_v, publish_request{"vol-1", "a", rwx_block(), 300s});
  // Ten migrations, one every ten seconds, each to a new node: a new timer each time before.
  std::string source = "a";
  for (int i = 0; i < 10; ++i) {
    auto target = "n" + std::to_string(i);
    call(publish_atom_v, publish_request{"vol-1", target, rwx_block(), 300s});
    call(unpublish_atom_v, unpublish_request{"vol-1", source});
    source = target;
    fx.advance(10s);
  }
  // The supervisor's expiry of remembered unpublishes is one more delayed message.
  CHECK(pending() <= base + 2);
  // An eleventh migration at t = 100 s: its deadline is t = 400 s, after the pending timer's
  // (t = 300 s, of the first migration), which re-arms itself when it fires.
  call(publish_atom_v, publish_request{"vol-1", "z", rwx_block(), 300s});
  fx.advance(290s); // t = 390 s
  auto state = fx.ask<attachment_state>(supervisor, status_atom_v, std::string{"vol-1"});
  REQUIRE(state);
  CHECK(state->migrating);
  CHECK_FALSE(state->migration.timed_out);
  CHECK(fx.metric(timeout) == 0);
  fx.advance(10s); // t = 400 s
  state = fx.ask<attachment_state>(supervisor, status_atom_v, std::string{"vol-1"});
  REQUIRE(state);
  CHECK(state->migration.timed_out);
  CHECK(fx.metric(timeout) == 1);
  CHECK(fx.metric(success) == 10);
  // Nothing is left pending: no timer, and the unpublishes were forgotten after the window.
  fx.advance(3600s);
  CHECK(pending() == base);
  fx.self->send_exit(supervisor, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

TEST_CASE("the volume actor records its operations: 33 publishes keep the last 32") {
  test::actor_fixture fx;
  auto supervisor =
    fx.sys.spawn(actors::volume_supervisor, actors::volume_supervisor_config{}, fx.metrics,
                 fx.events, test::catalog_of_every_volume(fx.sys, fx.metrics), fx.feed);
  fx.sched.run();
  for (int i = 0; i < 33; ++i) {
    auto pub = publish_request{"vol-1", i == 32 ? "b" : "a", rwo(), 300s};
    REQUIRE(fx.ask<outcome>(supervisor, publish_atom_v, pub));
  }
  fx.self->send(supervisor, inspect_atom_v, std::string{"vol-1"});
  fx.sched.run();
  volume_inspection got;
  outcome result = outcome::failure(ec::internal, "no answer");
  fx.self->receive(
    [&](outcome& o, volume_inspection& x) {
      result = o;
      got = std::move(x);
    },
    caf::after(0s) >> [] {});
  CHECK(result.ok());
  REQUIRE(got.recent.size() == volume_operation_ring);
  for (auto& op : got.recent)
    CHECK(op.kind == "publish");
  CHECK(got.recent.front().node_id == "a");
  CHECK(got.recent.back().node_id == "b");
  CHECK(got.recent.back().result == "attached_elsewhere");
  CHECK(got.recent.front().result == "none");
  fx.self->send_exit(supervisor, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

TEST_CASE("the state feed shows a migration storyline in order") {
  test::actor_fixture fx;
  auto supervisor =
    fx.sys.spawn(actors::volume_supervisor, actors::volume_supervisor_config{}, fx.metrics,
                 fx.events, test::catalog_of_every_volume(fx.sys, fx.metrics), fx.feed);
  fx.sched.run();
  auto publish = [&](const std::string& node) {
    auto r = fx.ask<outcome>(supervisor, publish_atom_v,
                             publish_request{"vol-1", node, rwx_block(), 300s});
    REQUIRE(r);
    return *r;
  };
  auto unpublish = [&](const std::string& node) {
    auto r = fx.ask<outcome>(supervisor, unpublish_atom_v, unpublish_request{"vol-1", node});
    REQUIRE(r);
    return *r;
  };
  CHECK(publish("a").ok());
  CHECK(publish("b").ok());
  CHECK(publish("b").ok()); // idempotent: no change
  CHECK(publish("c").code == ec::attached_elsewhere);
  fx.advance(300s);
  CHECK(unpublish("a").ok());
  CHECK(publish("a").ok()); // a second migration, rolled back
  CHECK(unpublish("a").ok());
  CHECK(unpublish("b").ok());
  fx.advance(actors::volume_supervisor_config{}.notes_interval);
  auto feed = fx.ask<state_changes>(fx.feed, feed_atom_v, uint64_t{0}, caf::timespan{0});
  REQUIRE(feed);
  struct expected {
    std::string kind;
    std::vector<std::string> nodes;
    std::string result;
  };
  std::vector<expected> want = {
    {"attach", {"a"}, ""},
    {"attach", {"b"}, ""},
    {"migration_started", {"a", "b"}, ""},
    {"conflict_refused", {"a", "b", "c"}, ""},
    {"timer_fired", {"a", "b"}, "timeout"},
    {"migration_ended", {"a", "b"}, "success"},
    {"detach", {"a"}, ""},
    {"attach", {"a"}, ""},
    {"migration_started", {"b", "a"}, ""},
    {"migration_ended", {"b", "a"}, "failed"},
    {"detach", {"a"}, ""},
    {"detach", {"b"}, ""},
  };
  REQUIRE(feed->changes.size() == want.size());
  CHECK(feed->dropped == 0);
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    auto& c = feed->changes[i];
    CHECK(c.kind == want[i].kind);
    CHECK(c.nodes == want[i].nodes);
    CHECK(c.result == want[i].result);
    CHECK(c.volume_id == "vol-1");
    CHECK(c.sequence == i + 1);
  }
  CHECK(feed->changes[3].detail.find("third node") != std::string::npos);
  fx.self->send_exit(supervisor, caf::exit_reason::user_shutdown);
  fx.sched.run();
}
