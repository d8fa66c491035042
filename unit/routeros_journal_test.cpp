// The simulator's state on disk: a snapshot plus a journal of changes, folded into a new
// snapshot as it grows. Whatever was answered before a restart is there after it.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "services/rds/disk.hpp"
#include "services/rds/routeros_simulator.hpp"

using namespace rds::services;
using namespace rds::services::rds_api;

namespace {

struct journal_fixture {
  std::string dir = [] {
    char pattern[] = "/tmp/rds-sim-journal-XXXXXX";
    return std::string{mkdtemp(pattern)};
  }();
  simulator_config config = [this] {
    simulator_config c;
    c.data_dir = dir;
    c.password = "secret";
    c.pool_size = uint64_t{1} << 40;
    return c;
  }();

  ~journal_fixture() { std::filesystem::remove_all(dir); }

  static http::response call(routeros_simulator& sim, const std::string& method,
                             const std::string& path, const std::string& body = "",
                             const std::string& query = "") {
    return sim.handle(http::request{method, path, query, body, "rds-csi", "secret"});
  }

  static std::string slot(int i) {
    auto n = std::to_string(i);
    return "csi-" + std::string(28 - n.size(), '0') + n;
  }

  static std::string add_body(int i) {
    return R"({"type":"file","slot":")" + slot(i) + R"(","file-path":"/raid10/)" + slot(i)
           + R"(.img","file-size":"4096"})";
  }

  /// Every disk the simulator lists, by slot: id, export flag and size as JSON.
  static std::map<std::string, std::string> disks(routeros_simulator& sim) {
    std::map<std::string, std::string> result;
    auto listed = call(sim, "GET", "/rest/disk", "", "type=file");
    REQUIRE(listed.status == 200);
    for (int i = 0; i < 5000; ++i) {
      auto one = call(sim, "GET", "/rest/disk", "", "slot=" + slot(i));
      if (one.body != "[]")
        result[slot(i)] = one.body;
    }
    return result;
  }

  off_t journal_size() const {
    struct stat st {};
    return ::stat((dir + "/state.journal").c_str(), &st) == 0 ? st.st_size : -1;
  }
};

} // namespace

TEST_CASE_FIXTURE(journal_fixture, "the simulator's journal: 3,000 changes survive a restart, "
                                   "compaction included") {
  std::map<std::string, std::string> before;
  {
    routeros_simulator sim{config};
    REQUIRE(sim.error().empty());
    std::map<int, std::string> ids;
    for (int i = 0; i < 1500; ++i) {
      auto added = call(sim, "PUT", "/rest/disk", add_body(i));
      INFO(added.body);
      REQUIRE(added.status == 200);
      disk d;
      REQUIRE(disk_from_json(added.body, d).ok());
      ids[i] = d.id;
    }
    // Exports, growth, removals of disks and of their files, spread over the journal.
    for (int i = 0; i < 1500; i += 3)
      REQUIRE(call(sim, "PATCH", "/rest/disk/" + ids[i], R"({"nvme-tcp-export":"yes"})").status
              == 200);
    for (int i = 1; i < 1500; i += 7)
      REQUIRE(call(sim, "PATCH", "/rest/disk/" + ids[i], R"({"file-size":"8192"})").status == 200);
    for (int i = 2; i < 1500; i += 5) {
      REQUIRE(call(sim, "DELETE", "/rest/disk/" + ids[i]).status == 200);
      auto file = call(sim, "GET", "/rest/file", "", "name=raid10/" + slot(i) + ".img");
      auto at = file.body.find(R"(".id":")");
      REQUIRE(at != std::string::npos);
      auto id = file.body.substr(at + 7, file.body.find('"', at + 7) - at - 7);
      REQUIRE(call(sim, "DELETE", "/rest/file/" + id).status == 200);
      CHECK(call(sim, "GET", "/rest/file", "", "name=raid10/" + slot(i) + ".img").body == "[]");
    }
    // The journal was folded into the snapshot at least once: it holds far fewer than the
    // ~2,500 lines written.
    CHECK(journal_size() < 1100 * 400);
    before = disks(sim);
    CHECK(before.size() == 1500 - 300);
  }
  routeros_simulator restarted{config};
  REQUIRE(restarted.error().empty());
  CHECK(disks(restarted) == before);
  // Ids go on where they stopped: a new disk does not take an old id.
  auto added = call(restarted, "PUT", "/rest/disk", add_body(4000));
  REQUIRE(added.status == 200);
  disk d;
  REQUIRE(disk_from_json(added.body, d).ok());
  for (auto& [slot_name, json] : before)
    CHECK(json.find("\"" + d.id + "\"") == std::string::npos);
}

TEST_CASE_FIXTURE(journal_fixture, "a torn last journal line is skipped; damage elsewhere is "
                                   "reported") {
  {
    routeros_simulator sim{config};
    REQUIRE(call(sim, "PUT", "/rest/disk", add_body(1)).status == 200);
  }
  {
    std::ofstream torn{dir + "/state.journal", std::ios::app};
    torn << R"({"next-id":99,"disk":{".id":"*63","slo)";
  }
  {
    routeros_simulator sim{config};
    REQUIRE(sim.error().empty());
    CHECK(call(sim, "GET", "/rest/disk", "", "slot=" + slot(1)).body != "[]");
  }
  {
    std::ofstream damaged{dir + "/state.journal", std::ios::trunc};
    damaged << "not json\n"
            << R"({"next-id":20,"remove-disk":"*10"})"
            << "\n";
  }
  routeros_simulator sim{config};
  CHECK(sim.error().find("damaged at line 1") != std::string::npos);
}
