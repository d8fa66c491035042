// The actors that do blocking I/O answer status while it runs (DESIGN rule 8): a cluster watch
// blocked in its watch stream, the rds actor blocked in a RouterOS request and the events actor
// blocked in a post, each against a loopback HTTP server that holds the answer until the test
// lets it go. Their workers are detached (real threads), so these tests run on a real actor
// system; every wait is on something that happens (a request reaching the server, an answer),
// never a sleep, and each is bounded so a broken build fails instead of hanging.
#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "actors/cluster_watch.hpp"
#include "actors/events.hpp"
#include "actors/metrics.hpp"
#include "actors/rds.hpp"
#include "messages/actors.hpp"
#include "services/http/http_server.hpp"
#include "services/log/log.hpp"

using namespace rds;
using namespace std::chrono_literals;

namespace {

/// A gate the server's handler waits at: the test learns when a request got there (`arrived`)
/// and lets it through (`open`). Test-side plumbing between the server's threads and the test
/// thread; no actor code uses it.
class gate {
 public:
  /// Called on a server thread: tells the test (the first time), then waits until opened (at
  /// most 30 s).
  void pass() {
    if (!told_.exchange(true))
      arrived_.set_value();
    opened_.wait_for(30s);
  }
  /// The test thread: true once a request waits at the gate (false after 10 s).
  bool reached() { return arrived_future_.wait_for(10s) == std::future_status::ready; }
  void open() {
    if (!opened_once_.exchange(true))
      opened_promise_.set_value();
  }

 private:
  std::atomic<bool> told_{false};
  std::promise<void> arrived_;
  std::shared_future<void> arrived_future_{arrived_.get_future().share()};
  std::atomic<bool> opened_once_{false};
  std::promise<void> opened_promise_;
  std::shared_future<void> opened_{opened_promise_.get_future().share()};
};

/// The gates of successive requests of one kind: the n-th request waits at the n-th gate.
class gates {
 public:
  explicit gates(size_t n)
    : all_(n) {}
  /// The next request's gate (the last one for any beyond).
  gate& next() { return all_[std::min<size_t>(used_++, all_.size() - 1)]; }
  gate& operator[](size_t i) { return all_[i]; }
  /// Opens every gate not opened yet (so the server can stop).
  void open_rest(size_t from) {
    for (auto i = from; i < all_.size(); ++i)
      all_[i].open();
  }

 private:
  std::vector<gate> all_;
  std::atomic<size_t> used_{0};
};

caf::actor_system_config& quiet(caf::actor_system_config& cfg) {
  log::set_threshold(log::level::error);
  return cfg;
}

/// Asks `dest` for its status and returns it with how long the answer took; fails the test if
/// no answer comes within a second (the I/O it is blocked behind is held far longer).
template <class Status, class Handle>
Status status_of(caf::scoped_actor& self, const Handle& dest, std::chrono::microseconds& took) {
  Status out;
  auto begin = std::chrono::steady_clock::now();
  self->request(dest, 1s, status_atom_v)
    .receive([&](Status& s) { out = std::move(s); },
             [&](caf::error& e) { FAIL("no status answer: ", caf::to_string(e)); });
  took =
    std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - begin);
  return out;
}

/// Stands in for the attachment join: counts what the volume watch hands on and tells the
/// counts as its status (lists as `persistent_volumes`, events as `attachments`). Asked after
/// the watch sent something, it answers after having counted it (one mailbox, in order).
struct join_counts {
  static constexpr const char* name = "fake_join";
  uint64_t lists = 0;
  uint64_t events = 0;
};

attachment_join_actor::behavior_type
fake_join(attachment_join_actor::stateful_pointer<join_counts> self) {
  return {
    [](sync_atom, const std::vector<volume_attachment_object>&, caf::timestamp) {},
    [](sync_atom, const volume_attachment_object&, bool) {},
    [self](sync_atom, const std::vector<persistent_volume_object>&) { ++self->state.lists; },
    [self](sync_atom, const persistent_volume_object&, bool) { ++self->state.events; },
    [self](status_atom) {
      join_status counts;
      counts.persistent_volumes = self->state.lists;
      counts.attachments = self->state.events;
      return counts;
    },
  };
}

const char* pv_list = R"({"kind":"PersistentVolumeList","metadata":{"resourceVersion":"10"},
  "items":[{"metadata":{"name":"pv-a"},"spec":{"csi":{"driver":"test.driver","volumeHandle":"a"}}}]})";

const char* pv_added =
  R"({"type":"ADDED","object":{"metadata":{"name":"pv-b","resourceVersion":"11"},)"
  R"("spec":{"csi":{"driver":"test.driver","volumeHandle":"b"}}}})"
  "\n";

} // namespace

TEST_CASE("a cluster watch answers status while its worker is blocked in the watch stream") {
  caf::actor_system_config cfg;
  caf::actor_system sys{quiet(cfg)};
  caf::scoped_actor self{sys};
  // Watch 1 waits at gate 0 and then sends one event; watch 2 waits at gate 1 until the end.
  gates watches{2};
  std::atomic<int> watch_calls{0};
  services::http::server api{"127.0.0.1:0", [&](const services::http::request& req) {
                               services::http::response r;
                               if (req.query.find("watch=1") == std::string::npos) {
                                 r.body = pv_list;
                                 return r;
                               }
                               auto n = watch_calls++;
                               watches.next().pass();
                               r.body = n == 0 ? pv_added : "";
                               return r;
                             }};
  REQUIRE(api.error().empty());
  auto join = sys.spawn(fake_join);
  auto metrics = sys.spawn(actors::metrics, actors::metrics_config{"", "test.driver"});
  actors::cluster_watch_config config;
  config.connection.server = "http://127.0.0.1:" + std::to_string(api.port());
  config.connection.token = "test-token";
  config.driver_name = "test.driver";
  config.stopping = std::make_shared<std::atomic<bool>>(false);
  auto watch = sys.spawn(actors::volume_watch, config, join, metrics);

  REQUIRE(watches[0].reached());
  // The worker reported "watching" before it sent the watch request, so the report is in the
  // watch's mailbox before this status request.
  std::chrono::microseconds took{};
  auto s = status_of<watch_status>(self, watch, took);
  MESSAGE("status mid-stream answered in ", took.count(), " us");
  CHECK(s.resource == "/api/v1/persistentvolumes");
  CHECK(s.activity == "watching");
  CHECK(s.activity_since != caf::timestamp{});
  CHECK(s.lists == 1);
  CHECK(s.listed_objects == 1);
  CHECK(s.resource_version == "10");
  CHECK(s.events == 0);
  CHECK(s.last_event == caf::timestamp{});
  CHECK(s.failures == 0);
  CHECK(status_of<join_status>(self, join, took).persistent_volumes == 1);

  // The event arrives, the stream ends, the next watch starts from the event's version.
  watches[0].open();
  REQUIRE(watches[1].reached());
  s = status_of<watch_status>(self, watch, took);
  MESSAGE("status in the second watch answered in ", took.count(), " us");
  CHECK(s.activity == "watching");
  CHECK(s.events == 1);
  CHECK(s.last_event != caf::timestamp{});
  CHECK(s.resource_version == "11");
  CHECK(s.lists == 1);
  CHECK(s.relists == 0);
  CHECK(status_of<join_status>(self, join, took).attachments == 1);

  config.stopping->store(true);
  watches.open_rest(1);
  self->send_exit(watch, caf::exit_reason::user_shutdown);
  self->send_exit(join, caf::exit_reason::user_shutdown);
  self->send_exit(metrics, caf::exit_reason::user_shutdown);
}

TEST_CASE("a cluster watch shows a failed list and backs off") {
  caf::actor_system_config cfg;
  caf::actor_system sys{quiet(cfg)};
  caf::scoped_actor self{sys};
  // List 1 fails (403: not retried); list 2 waits at the gate.
  gates lists{1};
  std::atomic<int> list_calls{0};
  services::http::server api{"127.0.0.1:0", [&](const services::http::request&) {
                               services::http::response r;
                               if (list_calls++ == 0) {
                                 r.status = 403;
                                 r.body = R"({"kind":"Status","message":"forbidden by the test"})";
                                 return r;
                               }
                               lists.next().pass();
                               r.status = 403;
                               return r;
                             }};
  REQUIRE(api.error().empty());
  auto join = sys.spawn(fake_join);
  auto metrics = sys.spawn(actors::metrics, actors::metrics_config{"", "test.driver"});
  actors::cluster_watch_config config;
  config.connection.server = "http://127.0.0.1:" + std::to_string(api.port());
  config.connection.token = "test-token";
  config.driver_name = "test.driver";
  config.backoff = 10ms;
  config.stopping = std::make_shared<std::atomic<bool>>(false);
  auto watch = sys.spawn(actors::volume_watch, config, join, metrics);
  REQUIRE(lists[0].reached());
  std::chrono::microseconds took{};
  auto s = status_of<watch_status>(self, watch, took);
  CHECK(s.activity == "listing");
  CHECK(s.failures == 1);
  CHECK(s.lists == 0);
  CHECK(s.last_failure.find("cannot list /api/v1/persistentvolumes") != std::string::npos);
  CHECK(s.last_failure_at != caf::timestamp{});
  CHECK(s.last_failure.find("test-token") == std::string::npos);
  config.stopping->store(true);
  lists.open_rest(0);
  self->send_exit(watch, caf::exit_reason::user_shutdown);
  self->send_exit(join, caf::exit_reason::user_shutdown);
  self->send_exit(metrics, caf::exit_reason::user_shutdown);
}

TEST_CASE("the rds actor answers status while a RouterOS request is in flight") {
  caf::actor_system_config cfg;
  caf::actor_system sys{quiet(cfg)};
  caf::scoped_actor self{sys};
  caf::scoped_actor caller{sys};
  // Request 1 waits at gate 0 and answers an empty list; request 2 fails (500) at once.
  gates held{1};
  std::atomic<int> calls{0};
  services::http::server device{"127.0.0.1:0", [&](const services::http::request&) {
                                  services::http::response r;
                                  if (calls++ == 0) {
                                    held.next().pass();
                                    r.body = "[]";
                                  } else {
                                    r.status = 500;
                                    r.body = R"({"error":500,"message":"test fault"})";
                                  }
                                  return r;
                                }};
  REQUIRE(device.error().empty());
  auto metrics = sys.spawn(actors::metrics, actors::metrics_config{"", "test.driver"});
  actors::rds_config config;
  config.volume_base_path = "/pool/volumes";
  config.connection.base_url = "http://127.0.0.1:" + std::to_string(device.port()) + "/rest";
  config.connection.user = "admin";
  config.connection.password = "test-password";
  config.connection.attempts = 1;
  config.connection.breaker_failures = 1;
  config.connection.breaker_cooldown = 1h;
  rds_actor rds = sys.spawn(actors::rds, config, metrics);

  std::chrono::microseconds took{};
  auto s = status_of<rds_status>(self, rds, took);
  CHECK(s.breaker == "closed");
  CHECK(s.in_flight.empty());

  caller->send(rds, list_atom_v);
  REQUIRE(held[0].reached());
  s = status_of<rds_status>(self, rds, took);
  MESSAGE("status mid-request answered in ", took.count(), " us");
  REQUIRE(s.in_flight.size() == 1);
  CHECK(s.in_flight[0].operation == "list");
  CHECK(s.in_flight[0].since != caf::timestamp{});
  CHECK(s.answered == 0);
  CHECK(s.copies.empty());

  held[0].open();
  caller->receive(
    [](const outcome& r, const std::vector<volume_info>& volumes) {
      CHECK(r.ok());
      CHECK(volumes.empty());
    },
    [](caf::error& e) { FAIL("list failed: ", caf::to_string(e)); },
    caf::after(10s) >> [] { FAIL("no answer to the list"); });
  s = status_of<rds_status>(self, rds, took);
  CHECK(s.in_flight.empty());
  CHECK(s.answered == 1);
  CHECK(s.breaker == "closed");
  CHECK(s.breaker_since == caf::timestamp{});

  // One failure opens the breaker (breaker_failures = 1); its move reaches the rds actor
  // before the answer does.
  caller->request(rds, 10s, find_atom_v, std::string{"csi-0123456789abcdef0123456789ab"})
    .receive([](const outcome& r, const volume_info&) { CHECK(!r.ok()); },
             [](caf::error& e) { FAIL("find failed: ", caf::to_string(e)); });
  s = status_of<rds_status>(self, rds, took);
  CHECK(s.breaker == "open");
  CHECK(s.breaker_since != caf::timestamp{});
  CHECK(s.answered == 2);
  self->send_exit(rds, caf::exit_reason::user_shutdown);
  self->send_exit(metrics, caf::exit_reason::user_shutdown);
}

TEST_CASE("the events actor answers status while a post is in flight") {
  caf::actor_system_config cfg;
  caf::actor_system sys{quiet(cfg)};
  caf::scoped_actor self{sys};
  // Post 1 waits at gate 0 and is accepted; post 2 waits at gate 1 until the end.
  gates posts{2};
  std::atomic<int> calls{0};
  std::string first_path;
  services::http::server api{"127.0.0.1:0", [&](const services::http::request& req) {
                               services::http::response r;
                               if (calls++ == 0)
                                 first_path = req.path;
                               posts.next().pass();
                               r.status = 201;
                               r.body = "{}";
                               return r;
                             }};
  REQUIRE(api.error().empty());
  auto metrics = sys.spawn(actors::metrics, actors::metrics_config{"", "test.driver"});
  actors::events_config config;
  services::kube::kube_config connection;
  connection.server = "http://127.0.0.1:" + std::to_string(api.port());
  connection.token = "test-token";
  config.connection = connection;
  config.instance = "test-host";
  auto events = sys.spawn(actors::events, config, metrics);
  self->send(events, claims_atom_v, std::vector<volume_claim>{{"vol-1", "ns", "claim-1"}});
  self->send(events,
             volume_events{{volume_event{"vol-1", "VolumeAttached", false, "attached to node-a"}}});
  REQUIRE(posts[0].reached());
  std::chrono::microseconds took{};
  auto s = status_of<events_status>(self, events, took);
  MESSAGE("status mid-post answered in ", took.count(), " us");
  CHECK(s.in_flight == 1);
  CHECK(s.oldest_in_flight_since != caf::timestamp{});
  CHECK(s.recorded["VolumeAttached"] == 1);
  CHECK(s.posted == 0);
  CHECK(first_path == "/api/v1/namespaces/ns/events");

  // Post 2 reaching the server means post 1's answer was handed back before it.
  self->send(events, volume_events{
                       {volume_event{"vol-1", "VolumeDetached", false, "detached from node-a"}}});
  posts[0].open();
  REQUIRE(posts[1].reached());
  s = status_of<events_status>(self, events, took);
  CHECK(s.posted == 1);
  CHECK(s.in_flight == 1);
  CHECK(s.failed == 0);
  CHECK(s.recorded["VolumeDetached"] == 1);
  posts.open_rest(1);
  self->send_exit(events, caf::exit_reason::user_shutdown);
  self->send_exit(metrics, caf::exit_reason::user_shutdown);
}
