// The actors that block answer the inspection port while their I/O runs, through the real
// binary: the cluster watches mid-stream (each one's worker sits in a watch of up to 300 s) show
// their resourceVersion, lists, events and activity, and follow a change; the rds actor, while
// its session worker waits on a slow RDS (rds-sim --latency-ms), shows the request in flight.
#include <doctest/doctest.h>

#include <curl/curl.h>

#include <rapidjson/document.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "client/kube_cluster.hpp"
#include "integration/clean_stop.hpp"
#include "integration/client.hpp"

using namespace rds::test;
using namespace std::chrono_literals;

namespace {

size_t append_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

/// GET `url`: 200 and JSON expected.
rapidjson::Document json_at(const std::string& url) {
  std::string body;
  long code = 0;
  CURL* curl = curl_easy_init();
  REQUIRE(curl != nullptr);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  auto rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  INFO(url, ": ", body);
  REQUIRE(rc == CURLE_OK);
  REQUIRE(code == 200);
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

/// Asks `url` until `done` holds (every 20 ms, at most `limit`); the last answer.
template <class Done>
rapidjson::Document json_when(const std::string& url, Done done,
                              std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  auto doc = json_at(url);
  while (!done(doc) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    doc = json_at(url);
  }
  return doc;
}

/// The entry of `actor` in the list `list` of an answer, or null.
const rapidjson::Value* entry(const rapidjson::Value& doc, const char* list,
                              const std::string& actor) {
  if (!doc.HasMember(list) || !doc[list].IsArray())
    return nullptr;
  for (auto& e : doc[list].GetArray())
    if (e.HasMember("actor") && actor == e["actor"].GetString())
      return &e;
  return nullptr;
}

std::string text(const rapidjson::Value& v, const char* key) {
  INFO(key);
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return v[key].GetString();
}

const char* const watch_names[] = {"watch/volumeattachments", "watch/persistentvolumes",
                                   "watch/nodes"};

/// Every watch answered, has listed once and is in its watch stream.
bool all_watching(const rapidjson::Document& doc) {
  for (auto name : watch_names) {
    auto* w = entry(doc, "watches", name);
    if (w == nullptr || !(*w)["answered"].GetBool())
      return false;
    auto& s = (*w)["status"];
    if (std::string{s["activity"].GetString()} != "watching" || s["lists"].GetUint64() != 1)
      return false;
  }
  return true;
}

/// The rds actor's status shows a request of `operation` in flight.
bool rds_busy_with(const rapidjson::Document& doc, const std::string& operation) {
  auto* r = entry(doc, "rds", "rds");
  if (r == nullptr || !(*r)["answered"].GetBool())
    return false;
  for (auto& request : (*r)["status"]["in_flight"].GetArray())
    if (operation == request["operation"].GetString())
      return true;
  return false;
}

} // namespace

TEST_CASE("inspection port: the watches and the rds actor answer while their I/O blocks") {
  auto& k = kube_cluster::instance();
  k.clear();
  k.create_nodes({"node-a"});
  temp_dir dir;
  pid_t sim_pid = -1;
  // Every RouterOS request takes a second: the rds actor's session is busy that long each time.
  auto url = start_rds_sim(dir, {"--latency-ms=1000"}, sim_pid);
  REQUIRE(!url.empty());
  {
    plugin_process plugin{rds_sim_flags(dir, url, {"--kubeconfig=" + k.kubeconfig("admin-token")})};
    csi_client client{plugin.endpoint()};
    REQUIRE(client.wait_until_ready());
    auto base = plugin.debug_url();

    // Mid-stream: each watch's worker is blocked in its watch; the watch answers at once.
    auto watches = json_when(base + "/debug/watches", all_watching);
    REQUIRE(all_watching(watches));
    std::string pv_version;
    for (std::string name : watch_names) {
      CAPTURE(name);
      auto& w = *entry(watches, "watches", name);
      MESSAGE(name, " answered mid-stream in ", w["took_ms"].GetDouble(), " ms");
      CHECK(w["took_ms"].GetDouble() < 300);
      auto& s = w["status"];
      CHECK_FALSE(text(s, "resource_version").empty());
      CHECK_FALSE(text(s, "activity_since").empty());
      CHECK(s["failures"].GetUint64() == 0);
      CHECK(text(s, "last_failure").empty());
      if (name == "watch/persistentvolumes")
        pv_version = text(s, "resource_version");
    }
    CHECK((*entry(watches, "watches", "watch/nodes"))["status"]["listed_objects"].GetUint64() == 1);

    // A change arrives in the stream: counted, its time and version shown, still watching.
    k.create_volume("pv-watched", "csi-0123456789abcdef0123456789ab", "ReadWriteOnce", "Block");
    auto followed = json_when(base + "/debug/watches", [](const rapidjson::Document& d) {
      auto* w = entry(d, "watches", "watch/persistentvolumes");
      return w != nullptr && (*w)["answered"].GetBool()
             && (*w)["status"]["events"].GetUint64() >= 1;
    });
    auto& pv_watch = (*entry(followed, "watches", "watch/persistentvolumes"))["status"];
    CHECK(pv_watch["events"].GetUint64() >= 1);
    CHECK_FALSE(text(pv_watch, "last_event").empty());
    CHECK(text(pv_watch, "resource_version") != pv_version);
    CHECK(text(pv_watch, "activity") == "watching");

    // Mid-request: a DeleteVolume waits on the slow RDS; the rds actor shows it at once.
    const std::string volume_id = "csi-0123456789abcdef0123456789ab";
    auto deleted = std::async(std::launch::async, [&] {
      csi_client caller{plugin.endpoint()};
      return caller.delete_volume(volume_id).ok();
    });
    auto rds = json_when(base + "/debug/rds",
                         [](const rapidjson::Document& d) { return rds_busy_with(d, "delete"); });
    REQUIRE(rds_busy_with(rds, "delete"));
    auto& session = *entry(rds, "rds", "rds");
    MESSAGE("rds answered mid-request in ", session["took_ms"].GetDouble(), " ms");
    CHECK(session["took_ms"].GetDouble() < 300);
    CHECK(text(session["status"], "breaker") == "closed");
    bool shown = false;
    for (auto& request : session["status"]["in_flight"].GetArray())
      if (text(request, "operation") == "delete") {
        shown = true;
        CHECK(text(request, "target") == volume_id);
        CHECK_FALSE(text(request, "since").empty());
      }
    CHECK(shown);
    CHECK(deleted.get());
    auto idle = json_at(base + "/debug/rds");
    auto& after = (*entry(idle, "rds", "rds"))["status"];
    CHECK(after["in_flight"].Size() == 0);
    CHECK(after["answered"].GetUint64() >= 2); // the catalog's first list, then the delete
    expect_clean_stop(plugin);
  }
  stop_process(sim_pid, 5s);
}
