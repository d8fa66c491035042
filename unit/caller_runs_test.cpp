// The caller-runs execution unit on a real scheduler: what a scope wakes runs on the scope's
// thread before the scope ends, within its budget, and nothing is left behind or lost.
#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "services/csi/caller_runs.hpp"

namespace {

using rds::services::csi::caller_runs_scope;
using rds::services::csi::caller_runs_unit;

/// Sends `x` to `to` with `unit` as the sender's execution unit, as the CSI edge does.
void send_with(caf::execution_unit* unit, const caf::actor& to, caf::message x) {
  caf::actor_cast<caf::abstract_actor*>(to)->enqueue(nullptr, caf::make_message_id(), std::move(x),
                                                     unit);
}

/// Actors are spawned lazily: one spawned eagerly is first run by a worker (its start-up), so a
/// message sent at once may find it busy there, and then it is not woken by the message.
/// The scope's default time bound could pass on a loaded machine before the second turn starts,
/// and then the rest rightly goes to a worker: these tests are about where work runs, not time.
constexpr std::chrono::microseconds no_time_limit = std::chrono::seconds{60};

/// A job left on a list nobody runs would hang a receive: fail instead.
auto wait_limit() {
  return caf::after(std::chrono::seconds{30}) >> [] { FAIL("the actor never ran"); };
}

struct real_system {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg.set("scheduler.max-threads", size_t{2})};
};

} // namespace

TEST_CASE("caller runs: an idle actor woken in a scope runs on the scope's thread, and the one "
          "it wakes in turn too") {
  real_system fixture;
  auto& unit = caller_runs_unit::of(fixture.sys);
  std::atomic<std::thread::id> first_ran{};
  std::atomic<std::thread::id> second_ran{};
  auto second = fixture.sys.spawn<caf::lazy_init>([&](caf::event_based_actor*) -> caf::behavior {
    return {[&](int) { second_ran = std::this_thread::get_id(); }};
  });
  auto first =
    fixture.sys.spawn<caf::lazy_init>([&](caf::event_based_actor* self) -> caf::behavior {
      return {[&, self](int x) {
        first_ran = std::this_thread::get_id();
        self->send(second, x);
      }};
    });
  {
    caller_runs_scope scope{unit, no_time_limit};
    send_with(scope.unit(), first, caf::make_message(1));
    // Nothing runs before the scope ends: the sender finishes its own work first.
    CHECK(first_ran.load() == std::thread::id{});
  }
  CHECK(first_ran.load() == std::this_thread::get_id());
  CHECK(second_ran.load() == std::this_thread::get_id());
  CHECK(&caller_runs_unit::of(fixture.sys) == &unit);
}

TEST_CASE("caller runs: past its budget a scope hands the rest to the workers, and nothing is "
          "lost") {
  real_system fixture;
  auto& unit = caller_runs_unit::of(fixture.sys);
  caf::scoped_actor waiter{fixture.sys};
  // Two actors passing a counter back and forth: far more turns than one scope runs.
  constexpr int hops = 10'000;
  std::atomic<int> hops_here{0};
  auto caller = std::this_thread::get_id();
  auto ping_pong = [&](caf::event_based_actor* self) -> caf::behavior {
    return {[&, self](int left, caf::actor& other) {
      if (std::this_thread::get_id() == caller)
        ++hops_here;
      if (left == 0)
        self->send(waiter, left);
      else
        self->send(other, left - 1, caf::actor_cast<caf::actor>(self));
    }};
  };
  auto a = fixture.sys.spawn<caf::lazy_init>(ping_pong);
  auto b = fixture.sys.spawn<caf::lazy_init>(ping_pong);
  {
    caller_runs_scope scope{unit};
    send_with(scope.unit(), a, caf::make_message(hops, b));
  }
  auto ran_here = hops_here.load();
  CHECK(ran_here > 0);
  CHECK(ran_here <= static_cast<int>(caller_runs_scope::max_resumes));
  // The workers finish the exchange.
  waiter->receive([](int left) { CHECK(left == 0); }, wait_limit());
  CHECK(hops_here.load() == ran_here);
}

TEST_CASE("caller runs: the unit outside its thread's scope gives the actor to the scheduler") {
  real_system fixture;
  auto& unit = caller_runs_unit::of(fixture.sys);
  caf::scoped_actor waiter{fixture.sys};
  auto caller = std::this_thread::get_id();
  auto echo = fixture.sys.spawn<caf::lazy_init>([&](caf::event_based_actor* self) -> caf::behavior {
    return {
      [&, self, caller](int x) { self->send(waiter, x, std::this_thread::get_id() != caller); }};
  });
  // An actor that last ran here keeps a pointer to the unit; a wake-up through it from a thread
  // with no open scope (this one, now; or any other) must still reach a worker.
  send_with(&unit, echo, caf::make_message(7));
  std::thread other{[&] { send_with(&unit, echo, caf::make_message(8)); }};
  other.join();
  int seen = 0;
  for (int i = 0; i < 2; ++i)
    waiter->receive(
      [&](int x, bool on_a_worker) {
        seen += x;
        CHECK(on_a_worker);
      },
      wait_limit());
  CHECK(seen == 15);
}

TEST_CASE("caller runs: a scope opened inside another leaves the work to the outer one") {
  real_system fixture;
  auto& unit = caller_runs_unit::of(fixture.sys);
  std::atomic<int> ran{0};
  auto counter = fixture.sys.spawn<caf::lazy_init>(
    [&](caf::event_based_actor*) -> caf::behavior { return {[&](int) { ++ran; }}; });
  {
    caller_runs_scope outer{unit, no_time_limit};
    {
      caller_runs_scope inner{unit};
      send_with(inner.unit(), counter, caf::make_message(1));
    }
    CHECK(ran.load() == 0);
  }
  CHECK(ran.load() == 1);
}

TEST_CASE("caller runs: more actors woken than the list holds: the rest go to the workers, none "
          "is lost") {
  real_system fixture;
  auto& unit = caller_runs_unit::of(fixture.sys);
  caf::scoped_actor waiter{fixture.sys};
  constexpr int fan_out = 200;
  std::vector<caf::actor> leaves;
  for (int i = 0; i < fan_out; ++i)
    leaves.push_back(
      fixture.sys.spawn<caf::lazy_init>([&](caf::event_based_actor* self) -> caf::behavior {
        return {[&, self](int x) { self->send(waiter, x); }};
      }));
  auto root = fixture.sys.spawn<caf::lazy_init>([&](caf::event_based_actor* self) -> caf::behavior {
    return {[&, self](int) {
      for (auto& leaf : leaves)
        self->send(leaf, 1);
    }};
  });
  {
    caller_runs_scope scope{unit};
    send_with(scope.unit(), root, caf::make_message(0));
  }
  int seen = 0;
  for (int i = 0; i < fan_out; ++i)
    waiter->receive([&](int x) { seen += x; }, wait_limit());
  CHECK(seen == fan_out);
}
