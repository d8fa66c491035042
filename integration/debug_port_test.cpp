// The inspection port (--debug-address) through the real binary: every endpoint's JSON parsed
// and checked field by field during migrations, a timer that fires, a conflict and the live
// stream; its safety (bearer token, methods, paths, queries, connection bound, no secret in any
// answer); its flags and a port in use; a crashed volume actor and a slow supervisor; and the
// rebuild after a restart; an idle volume that hibernates and is revived. The plugin must be
// alive at the end of each test.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "client/kube_cluster.hpp"
#include "integration/clean_stop.hpp"
#include "integration/client.hpp"
#include "integration/metric_expectations.hpp"

using namespace rds::test;
using namespace std::chrono_literals;

namespace {

struct http_answer {
  long code = 0;
  std::string body;
  std::string content_type;
};

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

/// One request with libcurl; `headers` are whole header lines.
http_answer fetch(const std::string& url, const std::vector<std::string>& headers = {},
                  const std::string& method = "GET") {
  http_answer answer;
  CURL* curl = curl_easy_init();
  REQUIRE(curl != nullptr);
  curl_slist* list = nullptr;
  for (auto& h : headers)
    list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  auto rc = curl_easy_perform(curl);
  CHECK_MESSAGE(rc == CURLE_OK, curl_easy_strerror(rc));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.code);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr)
    answer.content_type = type;
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return answer;
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  INFO(json);
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

/// GET `url` expecting 200 and JSON.
rapidjson::Document get_json(const std::string& url, const std::vector<std::string>& headers = {}) {
  auto answer = fetch(url, headers);
  INFO(url, " answered ", answer.code, ": ", answer.body);
  REQUIRE(answer.code == 200);
  CHECK(answer.content_type == "application/json");
  return parse(answer.body);
}

std::string str(const rapidjson::Value& v, const char* key) {
  INFO(key);
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return v[key].GetString();
}

/// Reads a Server-Sent Events stream until `until` appears in it or `limit` passes; `started`
/// (if given) is set once the stream's first line (where it starts) arrived.
std::string read_stream(const std::string& url, const std::string& until,
                        std::chrono::milliseconds limit,
                        const std::vector<std::string>& headers = {},
                        std::atomic<bool>* started = nullptr) {
  struct reader {
    std::string text;
    std::string until;
    std::atomic<bool>* started;
  } r{{}, until, started};
  CURL* curl = curl_easy_init();
  REQUIRE(curl != nullptr);
  curl_slist* list = nullptr;
  for (auto& h : headers)
    list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(
    curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) -> size_t {
      auto* self = static_cast<reader*>(out);
      self->text.append(data, size * n);
      if (self->started != nullptr
          && self->text.find(": rds-csi state changes after ") != std::string::npos)
        *self->started = true;
      // Enough read: end the transfer (curl reports a write error, expected).
      return self->text.find(self->until) != std::string::npos ? 0 : size * n;
    });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(limit.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_perform(curl);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return r.text;
}

/// The events of a stream text: (kind, data) in order.
std::vector<std::pair<std::string, std::string>> events_of(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> events;
  size_t at = 0;
  while ((at = text.find("event: ", at)) != std::string::npos) {
    auto end = text.find('\n', at);
    auto kind = text.substr(at + 7, end - at - 7);
    auto data_at = text.find("data: ", end);
    if (data_at == std::string::npos)
      break;
    auto data_end = text.find('\n', data_at);
    if (data_end == std::string::npos)
      break;
    events.emplace_back(kind, text.substr(data_at + 6, data_end - data_at - 6));
    at = data_end;
  }
  return events;
}

/// Polls `url` until `done` holds for its JSON (bounded); the last document.
template <class Done>
rapidjson::Document poll_json(const std::string& url, Done done,
                              std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  auto doc = get_json(url);
  while (!done(doc) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    doc = get_json(url);
  }
  return doc;
}

const rapidjson::Value* singleton(const rapidjson::Document& doc, const char* list,
                                  const std::string& actor) {
  for (auto& s : doc[list].GetArray())
    if (str(s, "actor") == actor)
      return &s;
  return nullptr;
}

uint64_t kind_count(const rapidjson::Document& doc, const std::string& kind) {
  for (auto& k : doc["kinds"].GetArray())
    if (str(k, "kind") == kind)
      return k["count"].IsUint64() ? k["count"].GetUint64() : 999999;
  return 0;
}

std::string debug_series(const std::string& path, int code) {
  return "rds_csi_debug_requests_total{code=\"" + std::to_string(code) + "\",path=\"" + path
         + "\"}";
}

/// A raw connection that asked for the stream and got its head: it holds one of the port's
/// connections until closed.
int try_stream(int port, const std::string& token);

int open_stream(int port, const std::string& token) {
  // An earlier stream whose client left holds its connection until its next heartbeat.
  for (int attempt = 0; attempt < 250; ++attempt) {
    auto fd = try_stream(port, token);
    if (fd >= 0)
      return fd;
    std::this_thread::sleep_for(20ms); // a connection of an earlier request still closing
  }
  FAIL("the stream was refused for 5 s");
  return -1;
}

/// One attempt of open_stream: the socket, or -1 when the port answered 503.
int try_stream(int port, const std::string& token) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  std::string request =
    "GET /debug/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n\r\n";
  REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  std::string head;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (head.find("\r\n\r\n") == std::string::npos
         && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    char buf[1024];
    auto n = ::read(fd, buf, sizeof(buf));
    if (n <= 0)
      break;
    head.append(buf, static_cast<size_t>(n));
  }
  if (head.rfind("HTTP/1.1 503", 0) == 0) {
    ::close(fd);
    return -1;
  }
  CHECK(head.rfind("HTTP/1.1 200", 0) == 0);
  return fd;
}

int port_of(const std::string& url) {
  return std::stoi(url.substr(url.rfind(':') + 1));
}

} // namespace

TEST_CASE("inspection port: volumes, migrations, a timer that fires, a conflict and the stream") {
  plugin_process plugin{{"--migration-timeout-min=1"}};
  REQUIRE(!plugin.debug_url().empty());
  auto base = plugin.debug_url();
  csi_client client{plugin.endpoint()};
  std::map<std::string, std::string> id;
  for (auto name : {"pvc-mig", "pvc-timer", "pvc-rwo"}) {
    id[name] = client.provision(name);
    REQUIRE(!id[name].empty());
  }
  REQUIRE(client.publish(id["pvc-mig"], "node-a", volume_access::rwx_block).ok());
  REQUIRE(client.publish(id["pvc-mig"], "node-b", volume_access::rwx_block).ok());

  // One volume during its migration: both nodes, the timer, its generation, what happened.
  auto v = get_json(base + "/debug/volumes/" + id["pvc-mig"]);
  CHECK(str(v, "volume_id") == id["pvc-mig"]);
  CHECK(str(v, "access") == "multi_node_block");
  REQUIRE(v["nodes"].Size() == 2);
  CHECK(str(v["nodes"][0], "node_id") == "node-a");
  CHECK(str(v["nodes"][1], "node_id") == "node-b");
  CHECK(v["nodes"][1]["block"].GetBool());
  CHECK(str(v["nodes"][0], "attached_at").size() == 24);
  CHECK(v["migrating"].GetBool());
  CHECK_FALSE(v["timed_out"].GetBool());
  REQUIRE(v["migration"].IsObject());
  auto& m = v["migration"];
  CHECK(str(m, "source") == "node-a");
  CHECK(str(m, "target") == "node-b");
  CHECK(m["generation"].GetUint64() >= 1);
  CHECK(m["timeout_seconds"].GetUint64() == 300);
  CHECK(str(m, "state") == "running");
  CHECK(m["time_left_ms"].GetDouble() > 250000);
  CHECK(m["time_left_ms"].GetDouble() <= 300000);
  CHECK(v["timer_armed"].GetBool());
  CHECK(v["in_flight"].GetUint64() == 0);
  CHECK(v["restarts"].GetUint64() == 0);
  CHECK_FALSE(v["anomaly"].GetBool());
  REQUIRE(v["recent"].IsArray());
  REQUIRE(v["recent"].Size() >= 2);
  auto& last = v["recent"][v["recent"].Size() - 1];
  CHECK(str(last, "kind") == "publish");
  CHECK(str(last, "node_id") == "node-b");
  CHECK(str(last, "result") == "none");
  CHECK(last["duration_ms"].GetDouble() >= 0);
  CHECK(fetch(base + "/debug/volumes/pvc-unknown").code == 404);

  // A second migration whose 1 s timer fires, and a refused RWO publish.
  std::map<std::string, std::string> one_second{{"migrationTimeoutSeconds", "1"}};
  REQUIRE(client.publish(id["pvc-timer"], "node-a", volume_access::rwx_block, one_second).ok());
  REQUIRE(client.publish(id["pvc-timer"], "node-c", volume_access::rwx_block, one_second).ok());
  auto migrations = get_json(base + "/debug/migrations");
  REQUIRE(migrations["migrations"].Size() == 2);
  CHECK(migrations["count"].GetUint64() == 2);
  CHECK(str(migrations["migrations"][0], "volume_id") == id["pvc-timer"]); // soonest first
  CHECK(str(migrations["migrations"][0], "target") == "node-c");
  CHECK(migrations["migrations"][0]["time_left_ms"].GetDouble() <= 1000);
  CHECK(str(migrations["migrations"][1], "volume_id") == id["pvc-mig"]);
  CHECK(migrations["migrations"][1]["time_left_ms"].GetDouble() > 250000);
  CHECK(migrations["total"].GetUint64() == 2);
  CHECK_FALSE(migrations.HasMember("continue"));
  // Paged: one at a time, soonest first, then the rest after the position given.
  auto first = get_json(base + "/debug/migrations?limit=1");
  REQUIRE(first["migrations"].Size() == 1);
  CHECK(first["total"].GetUint64() == 2);
  CHECK(str(first["migrations"][0], "volume_id") == id["pvc-timer"]);
  REQUIRE(first.HasMember("continue"));
  auto second = get_json(base + "/debug/migrations?limit=1&continue=" + str(first, "continue"));
  REQUIRE(second["migrations"].Size() == 1);
  CHECK(str(second["migrations"][0], "volume_id") == id["pvc-mig"]);
  CHECK_FALSE(second.HasMember("continue"));
  CHECK(fetch(base + "/debug/migrations?continue=" + id["pvc-mig"]).code == 400);
  REQUIRE(client.publish(id["pvc-rwo"], "node-a", volume_access::rwo).ok());
  CHECK(client.publish(id["pvc-rwo"], "node-b", volume_access::rwo).error_code()
        == grpc::StatusCode::FAILED_PRECONDITION);

  auto timed = poll_json(base + "/debug/volumes/" + id["pvc-timer"], [](auto& d) {
    return d["migration"].IsObject()
           && std::string{d["migration"]["state"].GetString()} == "timeout";
  });
  REQUIRE(timed["migration"].IsObject());
  CHECK(str(timed["migration"], "state") == "timeout");
  CHECK(timed["migration"]["time_left_ms"].GetDouble() == 0);
  CHECK(timed["timed_out"].GetBool());
  CHECK(timed["nodes"].Size() == 2); // a timer never detaches
  CHECK(str(timed["recent"][timed["recent"].Size() - 1], "kind") == "timer");

  // The listing: filters, pages and the continue token.
  auto all = get_json(base + "/debug/volumes");
  CHECK(all["count"].GetUint64() == 3);
  CHECK_FALSE(all.HasMember("continue"));
  CHECK(get_json(base + "/debug/volumes?migrating=true")["count"].GetUint64() == 2);
  auto late = get_json(base + "/debug/volumes?timed_out=true");
  REQUIRE(late["count"].GetUint64() == 1);
  CHECK(str(late["volumes"][0], "volume_id") == id["pvc-timer"]);
  CHECK(late["volumes"][0]["timed_out"].GetBool());
  auto on_b = get_json(base + "/debug/volumes?node=node-b");
  REQUIRE(on_b["count"].GetUint64() == 1);
  CHECK(str(on_b["volumes"][0], "volume_id") == id["pvc-mig"]);
  CHECK(get_json(base + "/debug/volumes?anomaly=true")["count"].GetUint64() == 0);
  std::vector<std::string> paged;
  std::string next;
  for (int i = 0; i < 4; ++i) {
    auto page =
      get_json(base + "/debug/volumes?limit=1" + (next.empty() ? "" : "&continue=" + next));
    REQUIRE(page["volumes"].Size() <= 1);
    for (auto& vol : page["volumes"].GetArray()) {
      paged.push_back(str(vol, "volume_id"));
      CHECK(vol["nodes"].IsArray());
      CHECK(vol.HasMember("readonly"));
      CHECK(vol.HasMember("access"));
    }
    if (!page.HasMember("continue"))
      break;
    next = str(page, "continue");
  }
  CHECK(paged.size() == 3);
  CHECK(std::is_sorted(paged.begin(), paged.end()));

  // The stream from its start: each volume's changes in order.
  auto text = read_stream(base + "/debug/stream?after=0", "timer_fired", 5s);
  auto events = events_of(text);
  std::map<std::string, std::string> kinds;
  uint64_t previous = 0;
  for (auto& [kind, data] : events) {
    auto change = parse(data);
    CHECK(str(change, "kind") == kind);
    CHECK(change["sequence"].GetUint64() > previous);
    previous = change["sequence"].GetUint64();
    kinds[str(change, "volume_id")] += kind + " ";
  }
  INFO(text);
  CHECK(kinds[id["pvc-mig"]] == "attach attach migration_started ");
  CHECK(kinds[id["pvc-timer"]] == "attach attach migration_started timer_fired ");
  CHECK(kinds[id["pvc-rwo"]] == "attach conflict_refused ");
  // Without `after`, only what happens from now on: the unpublish that ends a migration.
  std::string live;
  std::atomic<bool> started{false};
  std::thread reader{
    [&] { live = read_stream(base + "/debug/stream", "migration_ended", 5s, {}, &started); }};
  auto wait_until = std::chrono::steady_clock::now() + 5s;
  while (!started && std::chrono::steady_clock::now() < wait_until)
    std::this_thread::sleep_for(5ms);
  CHECK(started);
  REQUIRE(client.unpublish(id["pvc-mig"], "node-a").ok());
  reader.join();
  auto live_events = events_of(live);
  INFO(live);
  // Nothing from before the stream started: the unpublish's changes (the migration's end, and
  // the detach from node-a when it came in the same read), from the next sequence number on.
  REQUIRE(!live_events.empty());
  bool ended = false;
  for (size_t i = 0; i < live_events.size(); ++i) {
    auto change = parse(live_events[i].second);
    CHECK(change["sequence"].GetUint64() == previous + 1 + i);
    CHECK(str(change, "volume_id") == id["pvc-mig"]);
    if (live_events[i].first == "migration_ended") {
      ended = true;
      CHECK(str(change, "result") == "success");
    } else {
      CHECK(live_events[i].first == "detach");
    }
  }
  CHECK(ended);

  // Every actor kind and singleton, each with its answer and its time.
  auto actors = get_json(base + "/debug/actors");
  CHECK(actors["timeout_ms"].GetUint64() == 500);
  CHECK(kind_count(actors, "volume") == 3);
  CHECK(kind_count(actors, "volume_supervisor") == 1);
  CHECK(kind_count(actors, "inspector") == 1);
  CHECK(kind_count(actors, "rds") == 1);
  CHECK(kind_count(actors, "node_supervisor") == 0);
  for (auto name : {"metrics", "volume_supervisor", "volume_catalog", "rds", "events"}) {
    CAPTURE(name);
    auto* s = singleton(actors, "singletons", name);
    REQUIRE(s != nullptr);
    CHECK((*s)["answered"].GetBool());
    CHECK((*s)["took_ms"].GetDouble() < 500);
    CHECK((*s)["status"].IsObject());
    // Its own mailbox depth as it answered; null for an actor that does not report it.
    REQUIRE((*s).HasMember("mailbox"));
    CHECK(((*s)["mailbox"].IsUint64() || (*s)["mailbox"].IsNull()));
  }
  for (auto name : {"metrics", "rds", "events", "volume_supervisor", "volume_catalog"}) {
    CAPTURE(name);
    CHECK((*singleton(actors, "singletons", name))["mailbox"].IsUint64());
  }
  auto& supervisor = (*singleton(actors, "singletons", "volume_supervisor"))["status"];
  CHECK(supervisor["volume_actors"].GetUint64() == 3);
  CHECK(supervisor["migrating"].GetUint64() == 1);
  CHECK(actors["restarts"]["volume"].GetUint64() == 0);
  CHECK(actors["inspector"]["mailbox"].IsUint64());

  auto rds = get_json(base + "/debug/rds");
  auto* session = singleton(rds, "rds", "rds");
  REQUIRE(session != nullptr);
  CHECK(str((*session)["status"], "breaker") == "closed");
  CHECK((*session)["status"]["copying"].IsArray());
  auto* catalog = singleton(rds, "rds", "volume_catalog");
  REQUIRE(catalog != nullptr);
  CHECK((*catalog)["status"]["volumes_known"].GetUint64() == 3);
  CHECK((*catalog)["status"]["warm"].GetBool());
  CHECK((*catalog)["status"]["waiting"].GetUint64() == 0);
  CHECK((*catalog)["status"]["lookups_in_flight"].GetUint64() == 0);
  auto watches = get_json(base + "/debug/watches");
  CHECK(watches["watches"].Size() == 0); // no cluster followed
  CHECK(fetch(base + "/debug/node").code == 404);

  // A browser gets HTML: the index, and any endpoint with Accept: text/html.
  auto index = fetch(base + "/");
  CHECK(index.code == 200);
  CHECK(index.content_type.rfind("text/html", 0) == 0);
  CHECK(index.body.find("href=\"/debug/migrations\"") != std::string::npos);
  auto page = fetch(base + "/debug/migrations", {"Accept: text/html"});
  CHECK(page.code == 200);
  CHECK(page.content_type.rfind("text/html", 0) == 0);
  CHECK(page.body.find(id["pvc-timer"]) != std::string::npos);

  auto metrics = http_get(plugin.metrics_url());
  CHECK(metric_value(metrics, debug_series("/debug/actors", 200)) == 1);
  CHECK(metric_value(metrics, debug_series("/debug/volumes/{id}", 404)) == 1);
  CHECK(metric_value(metrics, debug_series("/debug/node", 404)) == 1);
  CHECK(metric_value(metrics, debug_series("/", 200)) == 1);
  expect_clean_stop(plugin);
}

TEST_CASE("inspection port: bearer token, read-only, 404/405/400, connection bound, no secret") {
  temp_dir dir;
  pid_t sim_pid = -1;
  auto url = start_rds_sim(dir, {}, sim_pid);
  REQUIRE(!url.empty());
  const std::string token = "debug-token-0f3a9c";
  std::ofstream{dir.path() + "/token"} << token << "\n";
  plugin_process plugin{rds_sim_flags(
    dir, url, {"--debug-token-file=" + dir.path() + "/token", "--debug-max-clients=4"})};
  auto base = plugin.debug_url();
  csi_client client{plugin.endpoint()};
  auto volume = client.provision("pvc-secret");
  REQUIRE(!volume.empty());
  REQUIRE(client.publish(volume, "node-a", volume_access::rwx_block).ok());
  REQUIRE(client.publish(volume, "node-b", volume_access::rwx_block).ok());
  const std::vector<std::string> auth{"Authorization: Bearer " + token};

  CHECK(fetch(base + "/debug/actors").code == 401);
  CHECK(fetch(base + "/debug/actors", {"Authorization: Bearer wrong-token-0f3a9c"}).code == 401);
  CHECK(fetch(base + "/debug/actors", {"Authorization: Basic " + token}).code == 401);
  CHECK(fetch(base + "/debug/nothing").code == 401);
  CHECK(fetch(base + "/debug/stream").code == 401);

  // Every endpoint, as JSON and as HTML: parsed, and free of the token and the RDS password.
  for (const std::string& path :
       std::vector<std::string>{"/", "/debug/actors", "/debug/volumes", "/debug/volumes/" + volume,
                                "/debug/migrations", "/debug/watches", "/debug/rds", "/debug/node",
                                "/debug/nothing", "/debug/volumes?limit=x"}) {
    CAPTURE(path);
    for (bool html : {false, true}) {
      auto headers = auth;
      if (html)
        headers.push_back("Accept: text/html");
      auto answer = fetch(base + path, headers);
      CHECK(answer.body.find(token) == std::string::npos);
      CHECK(answer.body.find("sim-secret") == std::string::npos);
      CHECK(!answer.body.empty());
      if (!html && path != "/")
        parse(answer.body);
    }
  }
  auto stream = read_stream(base + "/debug/stream?after=0", "migration_started", 3s, auth);
  CHECK(stream.find("migration_started") != std::string::npos);
  CHECK(stream.find(token) == std::string::npos);
  CHECK(stream.find("sim-secret") == std::string::npos);

  // Read-only, and only what exists.
  for (auto method : {"POST", "PUT", "DELETE", "PATCH"}) {
    CAPTURE(method);
    auto answer = fetch(base + "/debug/volumes/" + volume, auth, method);
    CHECK(answer.code == 405);
    parse(answer.body);
  }
  CHECK(fetch(base + "/debug/nothing", auth).code == 404);
  CHECK(fetch(base + "/debug/volumes/a/b", auth).code == 400);
  for (auto query :
       {"limit=0", "limit=abc", "migrating=maybe", "%zz=1", "limit=1&limit=2", "unknown=1"}) {
    CAPTURE(query);
    CHECK(fetch(base + "/debug/volumes?" + query, auth).code == 400);
  }
  CHECK(fetch(base + "/debug/volumes?node=" + std::string(2000, 'n'), auth).code == 400);
  // Nothing changed: still migrating on both nodes.
  auto v = get_json(base + "/debug/volumes/" + volume, auth);
  CHECK(v["nodes"].Size() == 2);
  CHECK(v["migrating"].GetBool());

  // At most --debug-max-clients connections: four held streams, the fifth is turned away. (The
  // bound leaves room for the sequential requests above: a connection the client closed may
  // still be counted for a moment while the server's worker finishes with it.)
  int port = port_of(base);
  std::vector<int> held;
  for (int i = 0; i < 4; ++i)
    held.push_back(open_stream(port, token));
  CHECK(fetch(base + "/debug/actors", auth).code == 503);
  for (int fd : held)
    ::close(fd);

  auto metrics = http_get(plugin.metrics_url());
  CHECK(metric_value(metrics, debug_series("/debug/actors", 401)) == 3);
  CHECK(metric_value(metrics, debug_series("other", 401)) == 1);
  CHECK(metric_value(metrics, debug_series("/debug/volumes/{id}", 405)) == 4);
  CHECK(metric_value(metrics, debug_series("/debug/volumes", 400)) == 9);
  CHECK(metric_value(metrics, debug_series("other", 404)) == 3);
  CHECK(metrics.find(token) == std::string::npos);
  expect_clean_stop(plugin);
  stop_process(sim_pid, 5s);
}

TEST_CASE(
  "inspection port flags: loopback unless allowed with a token; a port in use is an error") {
  std::string out;
  CHECK(run_plugin({"--debug-address=0.0.0.0:0"}, out) == 2);
  CHECK(out.find("not a loopback address") != std::string::npos);
  out.clear();
  CHECK(run_plugin({"--debug-address=0.0.0.0:0", "--debug-allow-remote"}, out) == 2);
  CHECK(out.find("--debug-token-file") != std::string::npos);

  plugin_process first;
  temp_dir dir;
  out.clear();
  CHECK(run_plugin({"--endpoint=unix://" + dir.path() + "/other.sock", "--metrics-address=",
                    "--debug-address=127.0.0.1:" + std::to_string(port_of(first.debug_url()))},
                   out)
        == 1);
  CHECK(out.find("cannot serve the inspection port") != std::string::npos);
  out.clear();
  // --debug-address= disables the port.
  plugin_process quiet{{"--debug-address="}};
  CHECK(quiet.debug_url().empty());
  expect_clean_stop(quiet);
  expect_clean_stop(first);
}

TEST_CASE(
  "inspection port: a crashed volume actor shows restarted; a slow supervisor as no answer") {
  temp_dir sim;
  auto ids = provision_volumes(sim.path(), {"pvc-crash"});
  REQUIRE(ids.size() == 1);
  auto volume = ids.at("pvc-crash");
  {
    // The volume's actor crashes on its second publish; the supervisor restarts it.
    plugin_process plugin{
      {"--rds-sim-data-dir=" + sim.path(), "--test-fault=crash-volume:" + volume + ":2"}};
    auto base = plugin.debug_url();
    csi_client client{plugin.endpoint()};
    REQUIRE(client.publish(volume, "node-a", volume_access::rwx_block).ok());
    CHECK_FALSE(client.publish(volume, "node-b", volume_access::rwx_block).ok());
    auto v = poll_json(base + "/debug/volumes/" + volume,
                       [](auto& d) { return d["restarts"].GetUint64() == 1; });
    CHECK(v["restarts"].GetUint64() == 1);
    REQUIRE(v["nodes"].Size() == 1); // restarted with its state
    CHECK(str(v["nodes"][0], "node_id") == "node-a");
    CHECK(str(v["recent"][0], "kind") == "restart");
    auto actors = get_json(base + "/debug/actors");
    CHECK(actors["restarts"]["volume"].GetUint64() == 1);
    CHECK(kind_count(actors, "volume") == 1);
    auto text = read_stream(base + "/debug/stream?after=0", "actor_restarted", 3s);
    CHECK(text.find("event: actor_restarted") != std::string::npos);
    // The fault fires once: the retried publish starts the migration.
    REQUIRE(client.publish(volume, "node-b", volume_access::rwx_block).ok());
    v = get_json(base + "/debug/volumes/" + volume);
    CHECK(v["migrating"].GetBool());
    CHECK(v["restarts"].GetUint64() == 1);
    CHECK(metric_value(http_get(plugin.metrics_url()), "rds_csi_volume_actor_restarts_total") == 1);
    expect_clean_stop(plugin);
  }
  {
    // The supervisor answers status and inspection 1 s late; the port waits 100 ms per actor.
    plugin_process plugin{{"--rds-sim-data-dir=" + sim.path(),
                           "--test-fault=slow-status:supervisor:1000", "--debug-timeout=100"}};
    auto base = plugin.debug_url();
    auto begin = std::chrono::steady_clock::now();
    auto actors = get_json(base + "/debug/actors");
    CHECK(std::chrono::steady_clock::now() - begin < 900ms);
    CHECK(actors["timeout_ms"].GetUint64() == 100);
    auto* supervisor = singleton(actors, "singletons", "volume_supervisor");
    REQUIRE(supervisor != nullptr);
    CHECK_FALSE((*supervisor)["answered"].GetBool());
    CHECK(str(*supervisor, "error") == "no answer within 100 ms");
    CHECK((*supervisor)["took_ms"].GetDouble() >= 100);
    CHECK(actors["restarts"]["volume"].IsNull());
    for (auto name : {"metrics", "volume_catalog", "rds", "events"}) {
      CAPTURE(name);
      REQUIRE(singleton(actors, "singletons", name) != nullptr);
      CHECK((*singleton(actors, "singletons", name))["answered"].GetBool());
    }
    auto volumes = fetch(base + "/debug/volumes");
    CHECK(volumes.code == 503);
    CHECK(str(parse(volumes.body), "error") == "volume_supervisor: no answer within 100 ms");
    // CSI goes on at full speed meanwhile.
    csi_client client{plugin.endpoint()};
    CHECK(client.publish(volume, "node-a", volume_access::rwx_block).ok());
    expect_clean_stop(plugin);
  }
}

TEST_CASE("inspection port: the rebuild after a restart shows the migration with its time left") {
  auto& k = kube_cluster::instance();
  k.clear();
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-insp"});
  REQUIRE(vol.size() == 1);
  k.create_nodes({"node-a", "node-b"});
  k.create_volume("pv-insp", vol.at("vol-insp"), "ReadWriteMany", "Block", "600");
  k.attach("pv-insp", "node-a");
  k.attach("pv-insp", "node-b");
  plugin_process plugin{
    {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  auto base = plugin.debug_url();
  auto migrations =
    poll_json(base + "/debug/migrations", [](auto& d) { return d["count"].GetUint64() == 1; });
  REQUIRE(migrations["migrations"].Size() == 1);
  auto& m = migrations["migrations"][0];
  CHECK(str(m, "volume_id") == vol.at("vol-insp"));
  CHECK(str(m, "source") == "node-a");
  CHECK(str(m, "target") == "node-b");
  CHECK(m["timeout_seconds"].GetUint64() == 600);
  CHECK(m["time_left_ms"].GetDouble() > 500000);
  CHECK(m["time_left_ms"].GetDouble() < 600000);
  CHECK_FALSE(m["timed_out"].GetBool());
  // The watches and the join answer while their list + watch runs.
  auto watches = get_json(base + "/debug/watches");
  for (auto name :
       {"watch/volumeattachments", "watch/persistentvolumes", "watch/nodes", "attachment_join"}) {
    CAPTURE(name);
    auto* w = singleton(watches, "watches", name);
    REQUIRE(w != nullptr);
    CHECK((*w)["answered"].GetBool());
    CHECK((*w)["took_ms"].GetDouble() < 500);
    CHECK((*w)["mailbox"].IsUint64());
  }
  CHECK((*singleton(watches, "watches", "attachment_join"))["status"]["synced"].GetBool());
  auto actors = get_json(base + "/debug/actors");
  CHECK(kind_count(actors, "cluster_watch") == 3);
  CHECK(kind_count(actors, "attachment_join") == 1);
  expect_clean_stop(plugin);
}

TEST_CASE("inspection port on a node plugin: /debug/node, and no controller endpoints") {
  temp_dir dir;
  plugin_process plugin{{"--mode=node", "--node-id=node-a", "--kubelet-dir=" + dir.path()}};
  auto base = plugin.debug_url();
  auto node = get_json(base + "/debug/node");
  auto* supervisor = singleton(node, "node", "node_supervisor");
  REQUIRE(supervisor != nullptr);
  CHECK((*supervisor)["answered"].GetBool());
  CHECK((*supervisor)["status"]["volume_count"].GetUint64() == 0);
  CHECK((*supervisor)["status"]["volumes"].IsArray());
  auto actors = get_json(base + "/debug/actors");
  CHECK(kind_count(actors, "node_supervisor") == 1);
  CHECK(kind_count(actors, "node_volume") == 0);
  CHECK(kind_count(actors, "volume_supervisor") == 0);
  for (auto path :
       {"/debug/volumes", "/debug/migrations", "/debug/rds", "/debug/watches", "/debug/stream"}) {
    CAPTURE(path);
    auto answer = fetch(base + path);
    CHECK(answer.code == 404);
    parse(answer.body);
  }
  expect_clean_stop(plugin);
}

TEST_CASE("inspection port: an idle volume hibernates (--volume-idle-seconds) and a publish "
          "revives it with its state and ring") {
  plugin_process plugin{{"--volume-idle-seconds=1"}};
  auto base = plugin.debug_url();
  csi_client client{plugin.endpoint()};
  auto volume = client.provision("pvc-sleep");
  REQUIRE(!volume.empty());
  REQUIRE(client.publish(volume, "node-a", volume_access::rwx_block).ok());
  auto dormant = [](auto& d) { return d["dormant"].GetBool(); };
  auto v = poll_json(base + "/debug/volumes/" + volume, dormant);
  REQUIRE(v["dormant"].GetBool());
  REQUIRE(v["nodes"].Size() == 1);
  CHECK(str(v["nodes"][0], "node_id") == "node-a");
  REQUIRE(v["recent"].Size() == 1);
  CHECK(str(v["recent"][0], "kind") == "publish");
  auto actors = get_json(base + "/debug/actors");
  CHECK(kind_count(actors, "volume") == 0);
  auto& s = (*singleton(actors, "singletons", "volume_supervisor"))["status"];
  CHECK(s["volumes"].GetUint64() == 1);
  CHECK(s["dormant"].GetUint64() == 1);
  CHECK(s["attached"].GetUint64() == 1);
  CHECK(s["hibernations"].GetUint64() == 1);
  // ControllerGetVolume reads the record without waking it.
  std::vector<std::string> nodes;
  REQUIRE(client.published_nodes(volume, nodes).ok());
  CHECK(nodes == std::vector<std::string>{"node-a"});
  // A second node: revived from the record, then a migration.
  REQUIRE(client.publish(volume, "node-b", volume_access::rwx_block).ok());
  v = get_json(base + "/debug/volumes/" + volume);
  CHECK_FALSE(v["dormant"].GetBool());
  CHECK(v["migrating"].GetBool());
  CHECK(v["generation"].GetUint64() == 1);
  REQUIRE(v["recent"].Size() == 2);
  CHECK(v["restarts"].GetUint64() == 0);
  // Migrating: it stays awake past the idle time.
  std::this_thread::sleep_for(1600ms);
  CHECK_FALSE(get_json(base + "/debug/volumes/" + volume)["dormant"].GetBool());
  REQUIRE(client.unpublish(volume, "node-a").ok());
  v = poll_json(base + "/debug/volumes/" + volume, dormant);
  CHECK(v["dormant"].GetBool());
  CHECK(v["recent"].Size() == 3);
  CHECK(metric_value(http_get(plugin.metrics_url()), "rds_csi_attachment_attached_volumes") == 1);
  CHECK(metric_value(http_get(plugin.metrics_url()),
                     "rds_csi_migration_migrations_total{result=\"success\"}")
        == 1);
  expect_clean_stop(plugin);
}
