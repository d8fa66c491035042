// The events actor's shutdown does not wait for its backlog: after a storm, thousands of Events
// may be queued at its poster, and posting them one by one made the plugin overrun its SIGTERM
// grace period. The poster is detached (a real thread making blocking HTTP calls), so this test
// runs on a real actor system against a loopback server that holds the first post until the test
// lets it go; every wait is on something that happens, never a sleep.
#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "actors/events.hpp"
#include "actors/metrics.hpp"
#include "messages/actors.hpp"
#include "services/http/http_server.hpp"
#include "services/log/log.hpp"

using namespace rds;
using namespace std::chrono_literals;

TEST_CASE("the events actor's end drops the Events queued at its poster") {
  log::set_threshold(log::level::error);
  std::atomic<int> calls{0};
  std::promise<void> first_arrived;
  std::promise<void> release;
  auto released = release.get_future().share();
  services::http::server api{"127.0.0.1:0", [&](const services::http::request&) {
                               if (calls++ == 0) {
                                 first_arrived.set_value();
                                 released.wait_for(30s);
                               }
                               services::http::response r;
                               r.status = 201;
                               r.body = "{}";
                               return r;
                             }};
  REQUIRE(api.error().empty());
  constexpr int queued = 200;
  std::chrono::steady_clock::duration stop_took{};
  {
    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};
    {
      caf::scoped_actor self{sys};
      auto metrics = sys.spawn(actors::metrics, actors::metrics_config{"", "test.driver"});
      actors::events_config config;
      services::kube::kube_config connection;
      connection.server = "http://127.0.0.1:" + std::to_string(api.port());
      connection.token = "test-token";
      config.connection = connection;
      config.instance = "test-host";
      auto events = sys.spawn(actors::events, config, metrics);
      self->send(events, claims_atom_v, std::vector<volume_claim>{{"vol-1", "ns", "claim-1"}});
      self->send(events, volume_events{
                           {volume_event{"vol-1", "VolumeAttached", false, "attached to node-a"}}});
      REQUIRE(first_arrived.get_future().wait_for(10s) == std::future_status::ready);
      // A storm's backlog behind the post in flight.
      for (int i = 0; i < queued; ++i)
        self->send(events,
                   volume_events{{volume_event{"vol-1", "VolumeDetached", false, "detached"}}});
      // Every one of them handed to the poster: the status answer comes after them.
      self->request(events, 5s, status_atom_v)
        .receive([&](const events_status& s) { CHECK(s.in_flight == queued + 1); },
                 [&](caf::error& e) { FAIL("no status: ", caf::to_string(e)); });
      self->send_exit(events, caf::exit_reason::user_shutdown);
      self->send_exit(metrics, caf::exit_reason::user_shutdown);
      // The events actor is gone before the post in flight is answered.
      self->monitor(events);
      self->receive([](const caf::down_msg&) {});
    }
    auto begin = std::chrono::steady_clock::now();
    release.set_value();
    // The poster finishes the post it was making, drops the rest and ends (bounded: without the
    // drop it would make the 200 posts, quickly on loopback, and the count below fails).
    sys.await_all_actors_done();
    stop_took = std::chrono::steady_clock::now() - begin;
  }
  MESSAGE("poster ended ", std::chrono::duration_cast<std::chrono::microseconds>(stop_took).count(),
          " us after its post in flight was answered");
  CHECK(calls.load() == 1);
}
