// The inspection port's pure parts (routes and queries, the token check, the flags, the JSON and
// HTML rendering, the Server-Sent Events) and the inspector's fan-out on the test coordinator:
// an actor that does not answer is shown as such once the deadline passes (virtual time).
#include <doctest/doctest.h>

#include <caf/event_based_actor.hpp>
#include <rapidjson/document.h>

#include "actors/inspector.hpp"
#include "cmd/rds-csi-plugin/plugin_options.hpp"
#include "services/inspection/html.hpp"
#include "services/inspection/query.hpp"
#include "services/inspection/render.hpp"
#include "services/inspection/token.hpp"
#include "unit/actor_fixture.hpp"

namespace rds {
namespace {

using namespace std::chrono_literals;
using namespace services::inspection;

rapidjson::Document parsed(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

template <class T> std::string json_of(const T& value) {
  rapidjson::StringBuffer buffer;
  json_writer w{buffer};
  render(w, value);
  return buffer.GetString();
}

TEST_CASE("routes: every endpoint, its metric label and its parameters") {
  auto r = parse_route("GET", "/debug/actors", "");
  CHECK(r.status == 200);
  CHECK(r.kind == route_kind::inspect);
  CHECK(r.request.endpoint == debug_endpoint::actors);
  CHECK(r.label == "/debug/actors");

  r = parse_route("GET", "/debug/volumes", "");
  CHECK(r.status == 200);
  CHECK(r.request.page.limit == default_page_size);
  r = parse_route("GET", "/debug/volumes",
                  "limit=2&continue=pvc-1&node=worker-1&migrating=true&timed_out=false&anomaly=1");
  REQUIRE(r.status == 200);
  CHECK(r.request.page.limit == 2);
  CHECK(r.request.page.after == "pvc-1");
  CHECK(r.request.page.node_id == "worker-1");
  CHECK(r.request.page.migrating_only);
  CHECK_FALSE(r.request.page.timed_out_only);
  CHECK(r.request.page.anomaly_only);

  r = parse_route("GET", "/debug/volumes/pvc-7", "");
  CHECK(r.status == 200);
  CHECK(r.request.endpoint == debug_endpoint::volume);
  CHECK(r.request.volume_id == "pvc-7");
  CHECK(r.label == "/debug/volumes/{id}");

  CHECK(parse_route("GET", "/debug/migrations/", "").request.endpoint
        == debug_endpoint::migrations);
  // Migrations are paged too: up to a whole page by default, `continue` is a position.
  r = parse_route("GET", "/debug/migrations", "");
  CHECK(r.request.page.limit == max_page_size);
  r =
    parse_route("GET", "/debug/migrations", "limit=2&continue=" + migration_position(-5, "pvc-1"));
  CHECK(r.status == 200);
  CHECK(r.request.page.limit == 2);
  CHECK(r.request.page.after == "-5:pvc-1");
  for (auto query : {"continue=pvc-1", "continue=12:", "continue=:pvc-1", "continue=1x:pvc-1",
                     "continue=1:.bad", "limit=0", "node=a", "migrating=true"}) {
    CAPTURE(query);
    CHECK(parse_route("GET", "/debug/migrations", query).status == 400);
  }
  CHECK(parse_route("GET", "/debug/watches", "").request.endpoint == debug_endpoint::watches);
  CHECK(parse_route("GET", "/debug/rds", "").request.endpoint == debug_endpoint::rds);
  CHECK(parse_route("GET", "/debug/node", "").request.endpoint == debug_endpoint::node);
  CHECK(parse_route("GET", "/", "").kind == route_kind::index);

  r = parse_route("GET", "/debug/stream", "");
  CHECK(r.kind == route_kind::stream);
  CHECK_FALSE(r.replay);
  r = parse_route("GET", "/debug/stream", "after=41");
  CHECK(r.replay);
  CHECK(r.after == 41);
}

TEST_CASE("routes: unknown paths 404, other methods 405, bad queries 400") {
  auto r = parse_route("GET", "/debug/nothing", "");
  CHECK(r.status == 404);
  CHECK(r.label == "other");
  CHECK(parse_route("POST", "/debug/nothing", "").status == 404);
  for (auto method : {"POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}) {
    CAPTURE(method);
    r = parse_route(method, "/debug/volumes", "");
    CHECK(r.status == 405);
    CHECK(r.label == "/debug/volumes");
  }
  for (auto query :
       {"limit=0", "limit=501", "limit=x", "limit=", "limit=1&limit=2", "migrating=yes",
        "node=-bad", "continue=a%2Fb", "bogus=1", "%zz=1", "a%=1", "novalue", "=1"}) {
    CAPTURE(query);
    CHECK(parse_route("GET", "/debug/volumes", query).status == 400);
  }
  CHECK(parse_route("GET", "/debug/actors", "limit=1").status == 400);
  CHECK(parse_route("GET", "/debug/stream", "after=x").status == 400);
  CHECK(parse_route("GET", "/debug/volumes", std::string(max_query_length + 1, 'a')).status == 400);
  CHECK(parse_route("GET", "/debug/volumes/" + std::string(200, 'v'), "").status == 400);
  CHECK(parse_route("GET", "/debug/volumes/.hidden", "").status == 400);
  CHECK(parse_route("GET", "/" + std::string(max_path_length, 'p'), "").status == 400);
  CHECK(parse_route("GET", "/debug/volumes", "limit=500").status == 200);
  CHECK(parse_route("GET", "/debug/volumes", "node=a%2Db").request.page.node_id == "a-b");
}

TEST_CASE("HTML only for a browser") {
  CHECK(wants_html("text/html,application/xhtml+xml"));
  CHECK_FALSE(wants_html("application/json"));
  CHECK_FALSE(wants_html(""));
  CHECK(escape_html("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  auto page = html_page("/debug/x", "{\"name\":\"<script>\",\"list\":[{\"a\":1},{\"b\":true}]}");
  CHECK(page.find("&lt;script&gt;") != std::string::npos);
  CHECK(page.find("<script>") == std::string::npos);
  CHECK(page.find("<th>a</th><th>b</th>") != std::string::npos);
  CHECK(index_page(true, false).find("/debug/migrations") != std::string::npos);
}

TEST_CASE("the bearer token is compared in full, whatever its length") {
  CHECK(same_secret("s3cret-token", "s3cret-token"));
  CHECK_FALSE(same_secret("s3cret-tokem", "s3cret-token"));
  CHECK_FALSE(same_secret("s3cret", "s3cret-token"));
  CHECK_FALSE(same_secret("s3cret-token-and-more", "s3cret-token"));
  CHECK_FALSE(same_secret("", "s3cret-token"));
  CHECK(authorized("", ""));
  CHECK(authorized("Bearer anything", ""));
  CHECK(authorized("Bearer tok", "tok"));
  CHECK(authorized("bearer  tok ", "tok"));
  CHECK_FALSE(authorized("Bearer tok2", "tok"));
  CHECK_FALSE(authorized("Basic dG9r", "tok"));
  CHECK_FALSE(authorized("Bearer ", "tok"));
  CHECK_FALSE(authorized("", "tok"));
}

TEST_CASE("debug flags: defaults, loopback only unless remote is allowed with a token") {
  auto p = parse_plugin_options({}, "");
  REQUIRE(p.error.empty());
  CHECK(p.options.debug_address == "127.0.0.1:9810");
  CHECK(p.options.debug_timeout_ms == 500);
  CHECK(p.options.debug_max_clients == 8);
  CHECK_FALSE(p.options.debug_allow_remote);
  CHECK(parse_plugin_options({"--debug-address="}, "").options.debug_address.empty());
  CHECK(parse_plugin_options({"--debug-address=[::1]:0"}, "").error.empty());
  CHECK(parse_plugin_options({"--debug-address=localhost:1"}, "").error.empty());
  CHECK(parse_plugin_options({"--debug-address=127.1.2.3:1"}, "").error.empty());
  auto remote = parse_plugin_options({"--debug-address=0.0.0.0:9810"}, "");
  CHECK(remote.error.find("not a loopback address") != std::string::npos);
  CHECK_FALSE(parse_plugin_options({"--debug-address=0.0.0.0:9810", "--debug-allow-remote"}, "")
                .error.empty());
  CHECK_FALSE(parse_plugin_options({"--debug-address=0.0.0.0:9810", "--debug-token-file=/t"}, "")
                .error.empty());
  auto allowed = parse_plugin_options(
    {"--debug-address=0.0.0.0:9810", "--debug-allow-remote", "--debug-token-file=/t"}, "");
  CHECK(allowed.error.empty());
  CHECK(allowed.options.debug_allow_remote);
  CHECK_FALSE(parse_plugin_options({"--debug-allow-remote"}, "").error.empty());
  CHECK_FALSE(parse_plugin_options({"--debug-timeout=0"}, "").error.empty());
  CHECK(parse_plugin_options({"--debug-timeout=50"}, "").options.debug_timeout_ms == 50);
  CHECK_FALSE(parse_plugin_options({"--debug-max-clients=0"}, "").error.empty());
  CHECK_FALSE(parse_plugin_options({"--debug-address=nohost"}, "").error.empty());
  CHECK(loopback_address("127.0.0.1:1"));
  CHECK_FALSE(loopback_address("127.0.0.256:1"));
  CHECK_FALSE(loopback_address("127.evil.com:1"));
  CHECK_FALSE(loopback_address("10.0.0.1:1"));
  CHECK_FALSE(loopback_address("[::]:1"));
  CHECK(plugin_usage().find("--debug-address HOST:PORT [default: 127.0.0.1:9810]")
        != std::string::npos);
}

attachment_state migrating_volume(const std::string& id, clock_offset started,
                                  caf::timespan timeout) {
  attachment_state s;
  s.volume_id = id;
  s.access = access_kind::multi_node_block;
  publish_capability cap{access_kind::multi_node_block, 5, true, false};
  s.nodes = {{"node-a", cap, started - 10s}, {"node-b", cap, started}};
  s.migrating = true;
  s.migration.generation = 3;
  s.migration.started_at = started;
  s.migration.timeout = timeout;
  return s;
}

TEST_CASE("the rds actor's answer lists at most 100 queued requests, and counts them all") {
  rds_status s;
  s.breaker = "closed";
  for (int i = 0; i < 150; ++i) {
    auto at = caf::timestamp{std::chrono::seconds{1'800'000'000 + i}};
    s.in_flight.push_back({"delete", "csi-" + std::to_string(i), at});
    s.copies.push_back({"snapshot", "snap-" + std::to_string(i), at});
    s.copying.push_back("snapshot snap-" + std::to_string(i));
  }
  auto doc = parsed(json_of(s));
  CHECK(doc["requests_in_flight"].GetUint64() == 150);
  REQUIRE(doc["in_flight"].Size() == 100);
  CHECK(std::string{doc["in_flight"][0]["target"].GetString()} == "csi-0"); // the running one
  CHECK(std::string{doc["in_flight"][99]["target"].GetString()} == "csi-99");
  CHECK(doc["copies"].Size() == 100);
  CHECK(doc["copying"].Size() == 100);
}

TEST_CASE("a volume's inspection: nodes, timer deadline, time left, generation, operations") {
  volume_inspection v;
  v.state = migrating_volume("pvc-m", 100s, 300s);
  v.now = 160s;
  v.wall_now = caf::timestamp{std::chrono::seconds{1'800'000'000}};
  v.timer_deadline = 400s;
  v.in_flight = 1;
  v.restarts = 2;
  volume_operation op{"publish", "node-b", "none", 1500us, v.wall_now};
  v.recent = {op};
  auto doc = parsed(json_of(v));
  CHECK(std::string{doc["volume_id"].GetString()} == "pvc-m");
  CHECK(std::string{doc["access"].GetString()} == to_string(access_kind::multi_node_block));
  REQUIRE(doc["nodes"].Size() == 2);
  CHECK(std::string{doc["nodes"][0]["node_id"].GetString()} == "node-a");
  CHECK(std::string{doc["nodes"][1]["attached_at"].GetString()} == "2027-01-15T07:59:00.000Z");
  CHECK(doc["migrating"].GetBool());
  auto& m = doc["migration"];
  CHECK(std::string{m["source"].GetString()} == "node-a");
  CHECK(std::string{m["target"].GetString()} == "node-b");
  CHECK(m["generation"].GetUint64() == 3);
  CHECK(m["time_left_ms"].GetDouble() == 240000.0);
  CHECK(std::string{m["timer_deadline"].GetString()} == "2027-01-15T08:04:00.000Z");
  CHECK(std::string{m["state"].GetString()} == "running");
  CHECK(doc["timer_armed"].GetBool());
  CHECK(doc["in_flight"].GetUint64() == 1);
  CHECK(doc["restarts"].GetUint64() == 2);
  REQUIRE(doc["recent"].Size() == 1);
  CHECK(std::string{doc["recent"][0]["kind"].GetString()} == "publish");
  CHECK(doc["recent"][0]["duration_ms"].GetDouble() == 1.5);

  v.state.migration.timed_out = true;
  v.timer_deadline = clock_offset{0};
  v.now = 500s;
  doc = parsed(json_of(v));
  CHECK(std::string{doc["migration"]["state"].GetString()} == "timeout");
  CHECK(doc["migration"]["time_left_ms"].GetDouble() == 0.0);
  CHECK(doc["timed_out"].GetBool());
  CHECK_FALSE(doc["timer_armed"].GetBool());
}

TEST_CASE("migrations: a page as the supervisor gave it, with time left, total and continue") {
  volume_page page;
  page.now = 50s;
  page.wall_now = caf::timestamp{std::chrono::seconds{1'800'000'000}};
  page.volumes = {{migrating_volume("soon", 10s, 60s)}, {migrating_volume("late", 40s, 600s)}};
  page.total = 2;
  {
    rapidjson::StringBuffer buffer;
    json_writer w{buffer};
    render_migrations(w, page);
    auto doc = parsed(buffer.GetString());
    REQUIRE(doc["migrations"].Size() == 2);
    CHECK(doc["count"].GetUint64() == 2);
    CHECK(doc["total"].GetUint64() == 2);
    CHECK_FALSE(doc.HasMember("continue"));
    CHECK(std::string{doc["migrations"][0]["volume_id"].GetString()} == "soon");
    CHECK(doc["migrations"][0]["time_left_ms"].GetDouble() == 20000.0);
    CHECK(std::string{doc["migrations"][1]["volume_id"].GetString()} == "late");
  }
  // More remain: continue is the last one's position (its deadline, then its id).
  page.total = 7;
  page.next_after = "late";
  rapidjson::StringBuffer buffer;
  json_writer w{buffer};
  render_migrations(w, page);
  auto doc = parsed(buffer.GetString());
  CHECK(doc["count"].GetUint64() == 2);
  CHECK(doc["total"].GetUint64() == 7);
  CHECK(std::string{doc["continue"].GetString()}
        == migration_position(clock_offset{640s}.count(), "late"));
}

TEST_CASE("Server-Sent Events: one event per change, in order, and the missed ones") {
  state_changes c;
  c.dropped = 2;
  state_change a;
  a.sequence = 7;
  a.kind = "migration_started";
  a.volume_id = "pvc-1";
  a.nodes = {"a", "b"};
  a.detail = "line\nbreak";
  c.changes = {a};
  auto text = server_sent_events(c);
  CHECK(text.rfind("event: dropped\ndata: {\"dropped\":2}\n\n", 0) == 0);
  CHECK(text.find("id: 7\nevent: migration_started\ndata: {") != std::string::npos);
  CHECK(text.find("line\\nbreak") != std::string::npos);
  CHECK(text.substr(text.size() - 2) == "\n\n");
}

/// An actor that takes status requests and never answers them.
caf::behavior silent(caf::event_based_actor* self) {
  return {[=](status_atom) -> caf::result<events_status> {
    return self->make_response_promise<events_status>();
  }};
}

TEST_CASE("the inspector shows an actor that does not answer in time, and the others") {
  test::actor_fixture fx;
  actors::inspector_targets targets;
  targets.metrics = fx.metrics;
  targets.feed = fx.feed;
  targets.events = caf::actor_cast<events_actor>(fx.sys.spawn(silent));
  auto inspector = fx.sys.spawn(actors::inspector, actors::inspector_config{500ms, ""}, targets);
  fx.sched.run();
  fx.self->send(inspector, inspect_atom_v, debug_request{});
  fx.sched.run();
  std::optional<debug_answer> answer;
  fx.self->receive([&](debug_answer& a) { answer = a; }, caf::after(0s) >> [] {});
  CHECK_FALSE(answer); // the silent actor's deadline has not passed yet
  fx.advance(500ms);
  fx.self->receive([&](debug_answer& a) { answer = a; }, caf::after(0s) >> [] {});
  REQUIRE(answer);
  CHECK(answer->status == 200);
  auto doc = parsed(answer->json);
  CHECK(doc["timeout_ms"].GetUint64() == 500);
  std::map<std::string, const rapidjson::Value*> by_actor;
  for (auto& s : doc["singletons"].GetArray())
    by_actor[s["actor"].GetString()] = &s;
  REQUIRE(by_actor.count("events") == 1);
  CHECK_FALSE((*by_actor["events"])["answered"].GetBool());
  CHECK(std::string{(*by_actor["events"])["error"].GetString()} == "no answer within 500 ms");
  REQUIRE(by_actor.count("metrics") == 1);
  CHECK((*by_actor["metrics"])["answered"].GetBool());
  CHECK((*by_actor["metrics"])["status"].HasMember("listen_address"));
  CHECK((*by_actor["metrics"])["mailbox"].IsUint64());
  CHECK_FALSE((*by_actor["events"]).HasMember("mailbox")); // no answer, no depth
  CHECK(doc["kinds"].Size() >= 3);
  // Without a supervisor, the volume endpoints say so.
  auto volumes =
    fx.ask<debug_answer>(inspector, inspect_atom_v, debug_request{debug_endpoint::volumes, "", {}});
  REQUIRE(volumes);
  CHECK(volumes->status == 404);
  fx.self->send_exit(inspector, caf::exit_reason::user_shutdown);
  fx.self->send_exit(targets.events, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

TEST_CASE("a singleton's status answer carries its own mailbox depth as it answered") {
  test::actor_fixture fx;
  // Four status requests queued at once: each answer counts the requests still behind it.
  for (int i = 0; i < 4; ++i)
    fx.self->send(fx.metrics, status_atom_v);
  std::vector<int64_t> depths;
  for (int i = 0; i < 4; ++i) {
    fx.sched.run_once();
    fx.self->receive([&](metrics_status& s) { depths.push_back(s.mailbox); },
                     caf::after(0s) >> [] { FAIL("no status answer"); });
  }
  CHECK(depths == std::vector<int64_t>{3, 2, 1, 0});
}

/// A supervisor for the inspector's volume endpoints: one migrating volume "pvc-m"; "pvc-late"
/// has an actor that did not answer in time; every other volume has none.
caf::behavior fake_supervisor(caf::event_based_actor*) {
  auto page = [] {
    volume_page p;
    p.now = 100s;
    p.wall_now = caf::timestamp{std::chrono::seconds{1'800'000'000}};
    p.volumes = {{migrating_volume("pvc-m", 90s, 300s)}};
    return p;
  };
  return {
    [=](inspect_atom, const volume_page_request& r) {
      auto p = page();
      p.next_after = r.limit == 1 ? "pvc-m" : "";
      return p;
    },
    [=](inspect_atom, const migrations_page_request&) {
      auto p = page();
      p.total = 1;
      return p;
    },
    [=](inspect_atom, const std::string& id) -> caf::result<outcome, volume_inspection> {
      volume_inspection v;
      v.state = migrating_volume(id, 90s, 300s);
      v.now = 100s;
      if (id == "pvc-m")
        return {outcome::success(), v};
      if (id == "pvc-late")
        return {outcome::failure(ec::unavailable, "its actor did not answer within 250 ms"), v};
      return {outcome::failure(ec::not_found, "no volume " + id), volume_inspection{}};
    },
  };
}

/// A supervisor that takes the migrations request and never answers it.
caf::behavior silent_supervisor(caf::event_based_actor* self) {
  return {[=](inspect_atom, const migrations_page_request&) -> caf::result<volume_page> {
    return self->make_response_promise<volume_page>();
  }};
}

TEST_CASE("the inspector's volume endpoints: a page, migrations, one volume, 404, stale, 503") {
  test::actor_fixture fx;
  actors::inspector_targets targets;
  targets.metrics = fx.metrics;
  targets.supervisor = caf::actor_cast<volume_supervisor_actor>(fx.sys.spawn(fake_supervisor));
  auto inspector = fx.sys.spawn(actors::inspector, actors::inspector_config{500ms, ""}, targets);
  fx.sched.run();
  auto ask = [&](debug_request r) {
    auto a = fx.ask<debug_answer>(inspector, inspect_atom_v, r);
    REQUIRE(a);
    return *a;
  };
  debug_request page_request{debug_endpoint::volumes, "", {}};
  page_request.page.limit = 1;
  auto page = ask(page_request);
  CHECK(page.status == 200);
  auto doc = parsed(page.json);
  CHECK(doc["count"].GetUint64() == 1);
  CHECK(std::string{doc["continue"].GetString()} == "pvc-m");
  CHECK(doc["volumes"][0]["migration"]["time_left_ms"].GetDouble() == 290000.0);
  auto migrations = ask({debug_endpoint::migrations, "", {}});
  CHECK(parsed(migrations.json)["migrations"].Size() == 1);
  auto one = ask({debug_endpoint::volume, "pvc-m", {}});
  CHECK(one.status == 200);
  CHECK_FALSE(parsed(one.json).HasMember("stale"));
  auto late = ask({debug_endpoint::volume, "pvc-late", {}});
  CHECK(late.status == 200);
  CHECK(std::string{parsed(late.json)["stale"].GetString()}
        == "its actor did not answer within 250 ms");
  auto missing = ask({debug_endpoint::volume, "pvc-none", {}});
  CHECK(missing.status == 404);
  CHECK(std::string{parsed(missing.json)["error"].GetString()} == "no volume pvc-none");
  // A supervisor that never answers: 503 once the deadline passed (virtual time).
  fx.self->send_exit(targets.supervisor, caf::exit_reason::user_shutdown);
  targets.supervisor = caf::actor_cast<volume_supervisor_actor>(fx.sys.spawn(silent_supervisor));
  auto slow_inspector =
    fx.sys.spawn(actors::inspector, actors::inspector_config{500ms, ""}, targets);
  fx.sched.run();
  fx.self->send(slow_inspector, inspect_atom_v, debug_request{debug_endpoint::migrations, "", {}});
  fx.sched.run();
  fx.advance(500ms);
  std::optional<debug_answer> answer;
  fx.self->receive([&](debug_answer& a) { answer = a; }, caf::after(0s) >> [] {});
  REQUIRE(answer);
  CHECK(answer->status == 503);
  CHECK(std::string{parsed(answer->json)["error"].GetString()}
        == "volume_supervisor: no answer within 500 ms");
  for (auto& a :
       {caf::actor_cast<caf::actor>(inspector), caf::actor_cast<caf::actor>(slow_inspector),
        caf::actor_cast<caf::actor>(targets.supervisor)})
    fx.self->send_exit(a, caf::exit_reason::user_shutdown);
  fx.sched.run();
}

} // namespace
} // namespace rds
