// The state feed: sequence numbers, the bounded ring, and long polls answered by the next
// change or by their wait running out (virtual time).
#include <doctest/doctest.h>

#include "actors/state_feed.hpp"
#include "unit/actor_fixture.hpp"

namespace rds {
namespace {

state_change change_of(const std::string& kind, const std::string& volume) {
  state_change c;
  c.kind = kind;
  c.volume_id = volume;
  return c;
}

TEST_CASE("changes are numbered in order and a reader gets what came after its number") {
  test::actor_fixture fx;
  fx.self->send(fx.feed, state_change_batch{{change_of("attach", "v1")}});
  fx.self->send(fx.feed, state_change_batch{{change_of("migration_started", "v1")}});
  fx.self->send(fx.feed, state_change_batch{{change_of("detach", "v2")}});
  fx.sched.run();
  auto all = fx.ask<state_changes>(fx.feed, feed_atom_v, uint64_t{0}, caf::timespan{0});
  REQUIRE(all);
  REQUIRE(all->changes.size() == 3);
  CHECK(all->changes[0].sequence == 1);
  CHECK(all->changes[0].kind == "attach");
  CHECK(all->changes[1].kind == "migration_started");
  CHECK(all->changes[2].volume_id == "v2");
  CHECK(all->changes[2].at != caf::timestamp{});
  CHECK(all->dropped == 0);
  CHECK(all->last_sequence == 3);
  auto rest = fx.ask<state_changes>(fx.feed, feed_atom_v, uint64_t{2}, caf::timespan{0});
  REQUIRE(rest);
  REQUIRE(rest->changes.size() == 1);
  CHECK(rest->changes[0].sequence == 3);
}

TEST_CASE("a reader slower than the ring is told how many changes it missed") {
  test::actor_fixture fx;
  auto small = fx.sys.spawn(actors::state_feed, actors::state_feed_config{4});
  for (int i = 0; i < 10; ++i)
    fx.self->send(small, state_change_batch{{change_of("attach", "v" + std::to_string(i))}});
  fx.sched.run();
  auto seen = fx.ask<state_changes>(small, feed_atom_v, uint64_t{3}, caf::timespan{0});
  REQUIRE(seen);
  CHECK(seen->dropped == 3); // 4, 5 and 6 left the ring
  REQUIRE(seen->changes.size() == 4);
  CHECK(seen->changes.front().sequence == 7);
  CHECK(seen->changes.back().sequence == 10);
  CHECK(seen->last_sequence == 10);
  fx.self->send_exit(small, caf::exit_reason::user_shutdown);
}

TEST_CASE("a poll with nothing new waits for the next change") {
  test::actor_fixture fx;
  fx.self->send(fx.feed, feed_atom_v, uint64_t{0}, caf::timespan{std::chrono::seconds{10}});
  fx.sched.run();
  bool answered = false;
  fx.self->receive([&](state_changes&) { answered = true; },
                   caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK_FALSE(answered);
  fx.self->send(fx.feed, state_change_batch{{change_of("timer_fired", "v9")}});
  fx.sched.run();
  fx.self->receive(
    [&](state_changes& c) {
      answered = true;
      REQUIRE(c.changes.size() == 1);
      CHECK(c.changes[0].kind == "timer_fired");
      CHECK(c.changes[0].volume_id == "v9");
    },
    caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(answered);
}

TEST_CASE("a poll with nothing new is answered empty when its wait runs out") {
  test::actor_fixture fx;
  fx.self->send(fx.feed, feed_atom_v, uint64_t{0}, caf::timespan{std::chrono::seconds{2}});
  fx.sched.run();
  fx.advance(std::chrono::seconds{2});
  bool answered = false;
  fx.self->receive(
    [&](state_changes& c) {
      answered = true;
      CHECK(c.changes.empty());
      CHECK(c.last_sequence == 0);
    },
    caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK(answered);
  // The stale timer of an answered poll does nothing.
  fx.self->send(fx.feed, feed_atom_v, uint64_t{0}, caf::timespan{std::chrono::seconds{2}});
  fx.sched.run();
  fx.self->send(fx.feed, state_change_batch{{change_of("attach", "v1")}});
  fx.sched.run();
  fx.self->receive([](state_changes&) {}, caf::after(std::chrono::seconds{0}) >> [] {});
  fx.advance(std::chrono::seconds{2});
  bool again = false;
  fx.self->receive([&](state_changes&) { again = true; },
                   caf::after(std::chrono::seconds{0}) >> [] {});
  CHECK_FALSE(again);
}

} // namespace
} // namespace rds
