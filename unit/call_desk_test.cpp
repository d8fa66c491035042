// The call desk: a request's reply reaches its handler exactly once, on the replying actor's
// thread; a receiver that is gone or silent past the deadline is a failure; late replies and
// replies after the desk closed are dropped.
#include <doctest/doctest.h>

#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/sec.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "services/csi/call_desk.hpp"
#include "unit/actor_fixture.hpp"

namespace rds {
namespace {

using services::csi::call_desk;
using services::csi::deadline_sweep;
using services::csi::record_interval;
using hold_atom = caf::atom_constant<caf::atom("hold")>;
using release_atom = caf::atom_constant<caf::atom("release")>;

/// Doubles an int at once; a `hold` request is answered only when `release` comes.
caf::behavior doubler(caf::event_based_actor* self) {
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  return {
    [](int x) { return 2 * x; },
    [=](hold_atom) {
      held->push_back(self->make_response_promise());
      return held->back();
    },
    [=](release_atom) {
      for (auto& promise : *held)
        promise.deliver(std::string{"released"});
      held->clear();
    },
  };
}

/// What the handlers saw.
struct replies {
  std::vector<int> numbers;
  std::vector<std::string> texts;
  std::vector<caf::error> failures;
  int hosts = 0;

  call_desk::reply_handler handler() {
    return [this](caf::message& reply, caf::execution_unit* host) {
      if (host != nullptr)
        ++hosts;
      if (reply.match_elements<int>())
        numbers.push_back(reply.get_as<int>(0));
      else if (reply.match_elements<std::string>())
        texts.push_back(reply.get_as<std::string>(0));
      else if (reply.match_elements<caf::error>())
        failures.push_back(reply.get_as<caf::error>(0));
    };
  }
};

auto in(std::chrono::seconds s) {
  return call_desk::clock::now() + s;
}

/// A desk and a doubler on the deterministic actor system.
struct desk_fixture : test::actor_fixture {
  call_desk desk{sys, metrics};
  caf::actor actor = sys.spawn(doubler);

  desk_fixture() { sched.run(); }
  ~desk_fixture() {
    self->send_exit(actor, caf::exit_reason::user_shutdown);
    sched.run();
  }

  caf::abstract_actor* to() const { return caf::actor_cast<caf::abstract_actor*>(actor); }
};

TEST_CASE("call desk: each reply reaches its own handler once, with the replying actor's unit") {
  desk_fixture fx;
  replies first, second;
  fx.desk.ask(fx.to(), caf::make_message(21), in(std::chrono::seconds{30}), first.handler(),
              nullptr);
  fx.desk.ask(fx.to(), caf::make_message(5), in(std::chrono::seconds{30}), second.handler(),
              nullptr);
  CHECK(fx.desk.waiting() == 2);
  fx.sched.run();
  CHECK(first.numbers == std::vector<int>{42});
  CHECK(second.numbers == std::vector<int>{10});
  CHECK(first.hosts == 1);
  CHECK(second.hosts == 1);
  CHECK(fx.desk.waiting() == 0);
}

TEST_CASE("call desk: a handler may ask again, on the unit it runs on (as Probe does), and an "
          "exception in a handler ends there") {
  desk_fixture fx;
  replies second;
  std::vector<int> first;
  fx.desk.ask(
    fx.to(), caf::make_message(3), in(std::chrono::seconds{30}),
    [&](caf::message& reply, caf::execution_unit* host) {
      REQUIRE(reply.match_elements<int>());
      first.push_back(reply.get_as<int>(0));
      REQUIRE(host != nullptr);
      fx.desk.ask(fx.to(), caf::make_message(first.back()), in(std::chrono::seconds{30}),
                  second.handler(), host);
    },
    nullptr);
  fx.sched.run();
  CHECK(first == std::vector<int>{6});
  CHECK(second.numbers == std::vector<int>{12});
  fx.desk.ask(
    fx.to(), caf::make_message(1), in(std::chrono::seconds{30}),
    [](caf::message&, caf::execution_unit*) { throw std::runtime_error{"broken"}; }, nullptr);
  fx.sched.run();
  // The actor that replied goes on.
  replies after;
  fx.desk.ask(fx.to(), caf::make_message(4), in(std::chrono::seconds{30}), after.handler(),
              nullptr);
  fx.sched.run();
  CHECK(after.numbers == std::vector<int>{8});
  CHECK(fx.desk.waiting() == 0);
}

TEST_CASE("call desk: a request past its deadline fails with request_timeout, and the reply that "
          "comes later is dropped") {
  desk_fixture fx;
  replies late, on_time;
  // Already due: the first sweep fails it. The other has its whole time left.
  fx.desk.ask(fx.to(), caf::make_message(hold_atom::value), call_desk::clock::now(), late.handler(),
              nullptr);
  fx.desk.ask(fx.to(), caf::make_message(hold_atom::value), in(std::chrono::seconds{3600}),
              on_time.handler(), nullptr);
  fx.sched.run();
  CHECK(late.failures.empty());
  fx.advance(deadline_sweep);
  REQUIRE(late.failures.size() == 1);
  CHECK(late.failures[0] == caf::sec::request_timeout);
  CHECK(on_time.failures.empty());
  CHECK(fx.desk.waiting() == 1);
  // The actor answers both now: only the one still waiting gets its answer.
  fx.self->send(fx.actor, release_atom::value);
  fx.sched.run();
  CHECK(late.texts.empty());
  CHECK(late.failures.size() == 1);
  CHECK(on_time.texts == std::vector<std::string>{"released"});
  CHECK(fx.desk.waiting() == 0);
  // Nothing waits, so the sweeper stopped: no timer is left pending.
  fx.advance(deadline_sweep);
  CHECK_FALSE(fx.sched.has_pending_timeout());
}

TEST_CASE("call desk: a receiver that is gone or missing is a failure, not a wait") {
  test::actor_fixture fx;
  call_desk desk{fx.sys, fx.metrics};
  auto actor = fx.sys.spawn(doubler);
  fx.sched.run();
  fx.self->send_exit(actor, caf::exit_reason::user_shutdown);
  fx.sched.run();
  replies gone, missing;
  desk.ask(caf::actor_cast<caf::abstract_actor*>(actor), caf::make_message(1),
           in(std::chrono::seconds{30}), gone.handler(), nullptr);
  fx.sched.run();
  REQUIRE(gone.failures.size() == 1);
  CHECK(gone.failures[0] == caf::sec::request_receiver_down);
  desk.ask(nullptr, caf::make_message(1), in(std::chrono::seconds{30}), missing.handler(), nullptr);
  REQUIRE(missing.failures.size() == 1);
  CHECK(missing.failures[0] == caf::sec::invalid_argument);
  CHECK(desk.waiting() == 0);
}

TEST_CASE("call desk: requests still waiting when the desk closes never run their handler") {
  test::actor_fixture fx;
  auto actor = fx.sys.spawn(doubler);
  fx.sched.run();
  replies dropped;
  {
    call_desk desk{fx.sys, fx.metrics};
    desk.ask(caf::actor_cast<caf::abstract_actor*>(actor), caf::make_message(hold_atom::value),
             in(std::chrono::seconds{30}), dropped.handler(), nullptr);
    fx.sched.run();
  }
  fx.self->send(actor, release_atom::value);
  fx.sched.run();
  fx.advance(deadline_sweep);
  CHECK(dropped.texts.empty());
  CHECK(dropped.failures.empty());
  fx.self->send_exit(actor, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

} // namespace
} // namespace rds

namespace rds {
namespace {

const std::string probes = "csi_plugin_operations_seconds_count{driver_name=\"test.driver\","
                           "grpc_status_code=\"OK\",method_name=\"/csi.v1.Identity/Probe\"}";

rpc_recorded probe_finished() {
  return rpc_recorded{"/csi.v1.Identity/Probe", "OK", std::chrono::microseconds{50}};
}

TEST_CASE("call desk: a finished RPC is recorded at once after a quiet spell; later ones with "
          "the others once no request waits and the interval has passed, or at the next sweep") {
  desk_fixture fx;
  fx.desk.record(probe_finished(), nullptr);
  fx.sched.run();
  CHECK(fx.metric(probes) == 1);
  // Within the interval: kept, and the sweep armed for it takes it.
  fx.desk.record(probe_finished(), nullptr);
  fx.sched.run();
  CHECK(fx.metric(probes) == 1);
  fx.advance(deadline_sweep);
  CHECK(fx.metric(probes) == 2);
  // A request waits: what finishes meanwhile is gathered, even after the interval.
  fx.advance(record_interval);
  replies held;
  fx.desk.ask(fx.to(), caf::make_message(hold_atom::value), in(std::chrono::seconds{30}),
              held.handler(), nullptr);
  fx.sched.run();
  fx.desk.record(probe_finished(), nullptr);
  fx.desk.record(probe_finished(), nullptr);
  fx.sched.run();
  CHECK(fx.metric(probes) == 2);
  // The sweep passes them on.
  fx.advance(deadline_sweep);
  CHECK(fx.metric(probes) == 4);
  // Once the request is answered and the interval has passed, a record goes at once again.
  fx.self->send(fx.actor, release_atom::value);
  fx.sched.run();
  REQUIRE(held.texts.size() == 1);
  fx.advance(record_interval);
  fx.desk.record(probe_finished(), nullptr);
  fx.sched.run();
  CHECK(fx.metric(probes) == 5);
}

TEST_CASE("call desk: many finished RPCs go at once even while a request waits, and those left "
          "when it closes are not lost") {
  test::actor_fixture fx;
  auto actor = fx.sys.spawn(doubler);
  fx.sched.run();
  {
    call_desk desk{fx.sys, fx.metrics};
    replies held;
    desk.ask(caf::actor_cast<caf::abstract_actor*>(actor), caf::make_message(hold_atom::value),
             in(std::chrono::seconds{30}), held.handler(), nullptr);
    fx.sched.run();
    for (int i = 0; i < 64; ++i)
      desk.record(probe_finished(), nullptr);
    fx.sched.run();
    CHECK(fx.metric(probes) == 64);
    for (int i = 0; i < 3; ++i)
      desk.record(probe_finished(), nullptr);
    fx.sched.run();
    CHECK(fx.metric(probes) == 64);
  }
  fx.sched.run();
  CHECK(fx.metric(probes) == 67);
  fx.self->send_exit(actor, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

} // namespace
} // namespace rds
