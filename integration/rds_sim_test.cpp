// rds-sim as its own process, over HTTP the way the driver will talk to a ROSE Data Server:
// RouterOS JSON shapes and errors, state across a restart, and injected faults.
#include <curl/curl.h>

#include "services/http/curl_body.hpp"
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <thread>

#include "integration/client.hpp"

using namespace rds::test;
using namespace std::chrono_literals;

namespace {

struct reply {
  long status = 0;
  std::string body;
  CURLcode transport = CURLE_OK;
};

reply call(const std::string& url, const std::string& method, const std::string& body = "",
           const std::string& password = "sim-secret") {
  reply r;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  auto credentials = "rds-csi:" + password;
  curl_easy_setopt(curl, CURLOPT_USERPWD, credentials.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rds::services::http::append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty())
    curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body.c_str());
  r.transport = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

/// rds-sim on a free loopback port with `flags`; its URL is read from its output.
struct sim_process {
  pid_t pid = -1;
  std::string url;

  sim_process(const temp_dir& dir, std::vector<std::string> flags) {
    url = start_rds_sim(dir, flags, pid);
    REQUIRE_FALSE(url.empty());
  }
  ~sim_process() { stop_process(pid, 5s); }
};

const std::string disk_body =
  R"({"type":"file","slot":"csi-0123456789abcdef0123456789ab","file-path":"/raid10/csi-0123456789abcdef0123456789ab.img","file-size":"1073741824"})";

} // namespace

TEST_CASE("rds-sim speaks RouterOS REST and keeps its state across a restart") {
  temp_dir dir;
  std::string id;
  {
    sim_process sim{dir, {}};
    auto resource = call(sim.url + "/system/resource", "GET");
    CHECK(resource.status == 200);
    CHECK(resource.body.find("\"version\":\"7.24") != std::string::npos);
    CHECK(call(sim.url + "/disk", "GET", "", "wrong").status == 401);
    auto added = call(sim.url + "/disk", "PUT", disk_body);
    REQUIRE(added.status == 200);
    auto at = added.body.find(R"(".id":")");
    REQUIRE(at != std::string::npos);
    id = added.body.substr(at + 7, added.body.find('"', at + 7) - at - 7);
    CHECK(added.body.find(R"("file-size":"1073741824")") != std::string::npos);
    auto again = call(sim.url + "/disk", "PUT", disk_body);
    CHECK(again.status == 400);
    CHECK(again.body.find(R"("error":400)") != std::string::npos);
    CHECK(again.body.find("already exists") != std::string::npos);
    CHECK(call(sim.url + "/disk/" + id, "PATCH", R"({"nvme-tcp-export":"true"})").status == 200);
  }
  sim_process restarted{dir, {}};
  auto found = call(restarted.url + "/disk?slot=csi-0123456789abcdef0123456789ab", "GET");
  CHECK(found.body.find(id) != std::string::npos);
  CHECK(found.body.find(R"("nvme-tcp-export":"true")") != std::string::npos);
  CHECK(call(restarted.url + "/disk/" + id, "DELETE").status == 200);
  CHECK(call(restarted.url + "/disk/" + id, "DELETE").body.find(R"("error":404)")
        != std::string::npos);
}

TEST_CASE("rds-sim injects faults") {
  temp_dir dir;
  {
    sim_process sim{dir, {"--error-rate=PUT=1"}};
    auto failed = call(sim.url + "/disk", "PUT", disk_body);
    CHECK(failed.status == 500);
    CHECK(call(sim.url + "/disk", "GET").status == 200);
  }
  {
    sim_process sim{dir, {"--deny-policy"}};
    auto denied = call(sim.url + "/disk", "GET");
    CHECK(denied.status == 500);
    CHECK(denied.body.find("std failure: not allowed (9)") != std::string::npos);
  }
  {
    sim_process sim{dir, {"--drop-rate=1"}};
    CHECK(call(sim.url + "/disk", "GET").transport != CURLE_OK);
  }
  {
    sim_process sim{dir, {"--latency-ms=300"}};
    auto begin = std::chrono::steady_clock::now();
    CHECK(call(sim.url + "/disk", "GET").status == 200);
    CHECK(std::chrono::steady_clock::now() - begin >= 300ms);
  }
}
