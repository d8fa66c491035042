// rds-csi-migrate-load through the real binaries: a small storm with two SIGKILLs of the plugin,
// its verdict, the JSON report's fields and the plot data; and bad flags refused.
#include <doctest/doctest.h>

#include <rapidjson/document.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "client/plugin_process.hpp"

namespace {

std::string harness_binary() {
  auto plugin = rds::client::plugin_binary();
  return plugin.substr(0, plugin.rfind('/')) + "/rds-csi-migrate-load";
}

/// Runs the harness with `args` (bounded by coreutils' timeout); its exit code and output.
int run_harness(const std::string& args, std::string& output) {
  auto command = "timeout 120 " + harness_binary() + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
    output.append(buf, n);
  auto status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

TEST_CASE("migrate-load: a storm of 300 migrations with two plugin kills holds every invariant") {
  rds::client::temp_dir dir;
  auto report = dir.path() + "/report.json";
  std::string output;
  auto code = run_harness("--volumes 60 --migrations 300 --concurrency 16 --nodes 8 --seed 7 "
                          "--time-scale 0.0002 --migration-timeout 1 --kill-controller-every 100 "
                          "--probes 50 --final-audit 0 --report "
                            + report,
                          output);
  INFO(output);
  CHECK(code == 0);
  CHECK(output.find("verdict: PASS") != std::string::npos);
  CHECK(output.find("BREACH") == std::string::npos);

  rapidjson::Document doc;
  auto text = read_file(report);
  doc.Parse(text.c_str(), text.size());
  REQUIRE(!doc.HasParseError());
  REQUIRE(doc.IsObject());
  CHECK(std::string{doc["verdict"].GetString()} == "PASS");
  CHECK(doc["breaches"].GetArray().Size() == 0);
  CHECK(doc["migrations_finished"].GetUint64() == 300);
  CHECK(doc["kills"].GetUint64() >= 2);
  CHECK(doc["restart_ms"].GetArray().Size() == doc["kills"].GetUint64());
  // Every scenario ran, each migration exactly once.
  uint64_t total = 0;
  for (auto name : {"success", "rollback", "timeout", "third-node", "rwo-conflict"}) {
    INFO(name);
    CHECK(doc["scenarios"][name].GetUint64() > 0);
    total += doc["scenarios"][name].GetUint64();
  }
  CHECK(total == 300);
  auto& outcomes = doc["outcomes"];
  CHECK(outcomes["refused_third_node"].GetUint64() == doc["scenarios"]["third-node"].GetUint64());
  CHECK(outcomes["refused_rwo"].GetUint64() == doc["scenarios"]["rwo-conflict"].GetUint64());
  CHECK(outcomes["timeout"].GetUint64() >= 1);
  // The last plugin's counters were read and equal the harness's.
  auto& counters = doc["counters"];
  CHECK(counters["checked"].GetBool());
  for (auto name : {"started", "success", "failed", "timeout", "conflicts", "active", "attached"}) {
    INFO(name);
    CHECK(counters["plugin"][name].GetDouble() >= counters["harness_min"][name].GetDouble());
    CHECK(counters["plugin"][name].GetDouble() <= counters["harness_max"][name].GetDouble());
  }
  CHECK(counters["plugin"]["active"].GetDouble() == 0);
  CHECK(counters["plugin"]["attached"].GetDouble() == 63); // 60 RWX + 5% RWO (3)
  for (auto name : {"Probe (idle)", "ControllerPublishVolume", "ControllerUnpublishVolume"}) {
    INFO(name);
    auto& rpc = doc["rpcs"][name];
    CHECK(rpc["calls"].GetUint64() > 0);
    CHECK(rpc["p50_us"].GetDouble() > 0);
    CHECK(rpc["p50_us"].GetDouble() <= rpc["p95_us"].GetDouble());
    CHECK(rpc["p95_us"].GetDouble() <= rpc["p99_us"].GetDouble());
    CHECK(rpc["p99_us"].GetDouble() <= rpc["max_us"].GetDouble());
  }
  CHECK(doc["rpcs"]["ControllerPublishVolume"]["calls"].GetUint64() >= 300);
  // Every refusal the harness counted is a FAILED_PRECONDITION; a publish answered by an
  // incarnation that was killed meanwhile is recorded too but retried (not counted as refused).
  auto refused_publishes =
    doc["errors"]["ControllerPublishVolume"]["FAILED_PRECONDITION"].GetUint64();
  auto refused = outcomes["refused_third_node"].GetUint64() + outcomes["refused_rwo"].GetUint64();
  CHECK(refused_publishes >= refused);
  CHECK(refused_publishes <= refused + doc["retries"].GetUint64());
  CHECK(doc["migrations_per_second"].GetDouble() > 0);
  CHECK(doc["plugin_rss_kb"]["attached"].GetInt64() > 0);
  // The plugin exited on SIGTERM at the end, well inside the 10 s allowed.
  CHECK(doc["plugin_stop_seconds"].GetDouble() >= 0);
  CHECK(doc["plugin_stop_seconds"].GetDouble() < 5);
  // Without an apiserver no Node is deleted and nothing is rebuilt from VolumeAttachments.
  CHECK(doc["scenarios"]["node-deleted"].GetUint64() == 0);
  CHECK(doc["outcomes"]["nodes_deleted"].GetUint64() == 0);
  CHECK(doc["rebuilt_migrations"].GetUint64() == 0);
  // Every volume's state on the inspection port equals the harness's attachments.
  CHECK(doc["inspected_volumes"].GetInt64() == 63);

  // The data files: a header and rows of numbers.
  for (auto name : {"latency.dat", "throughput.dat"}) {
    INFO(name);
    auto data = read_file(dir.path() + "/" + name);
    CHECK(data.rfind("# seconds", 0) == 0);
    CHECK(std::count(data.begin(), data.end(), '\n') >= 3);
  }
  // Some bucket saw migrations finish.
  std::istringstream rows{read_file(dir.path() + "/throughput.dat")};
  std::string row;
  double most = 0;
  while (std::getline(rows, row)) {
    if (row.empty() || row[0] == '#')
      continue;
    double at = 0, migrations = 0;
    std::istringstream{row} >> at >> migrations;
    most = std::max(most, migrations);
  }
  CHECK(most > 0);
}

TEST_CASE("migrate-load --node: node plugins stage and publish on the target, unpublish and "
          "unstage on the detached node") {
  // As root with loop devices, as integration/node_test.cpp.
  rds::client::temp_dir dir;
  auto report = dir.path() + "/report.json";
  std::string output;
  auto code = run_harness("--node --volumes 8 --migrations 40 --concurrency 4 --nodes 4 --seed 5 "
                          "--time-scale 0.0002 --migration-timeout 1 --kill-controller-every 20 "
                          "--probes 20 --final-audit 0 --report "
                            + report,
                          output);
  INFO(output);
  CHECK(code == 0);
  CHECK(output.find("verdict: PASS") != std::string::npos);
  rapidjson::Document doc;
  auto text = read_file(report);
  doc.Parse(text.c_str(), text.size());
  REQUIRE(!doc.HasParseError());
  REQUIRE(doc.IsObject());
  CHECK(doc["kills"].GetUint64() >= 1);
  auto& outcomes = doc["outcomes"];
  // Every volume on exactly its node at the end.
  CHECK(outcomes["node_checked_volumes"].GetInt64() == 8);
  // During the storm each migration's target staged and published, each detached node
  // unpublished and unstaged; the set-up and the final teardown add one of each per volume.
  auto& rpcs = doc["rpcs"];
  auto started = outcomes["started"].GetUint64();
  CHECK(started > 0);
  for (auto name :
       {"NodeStageVolume", "NodePublishVolume", "NodeUnpublishVolume", "NodeUnstageVolume"}) {
    INFO(name);
    CHECK(rpcs[name]["calls"].GetUint64() >= started);
    CHECK(doc["errors"][name].ObjectEmpty());
  }
  CHECK(outcomes["node_calls"].GetUint64() >= 4 * (started + 8));
}

TEST_CASE("migrate-load: bad flags are refused with exit code 2") {
  for (auto args :
       {"--scenario-weights=success=1,bogus=2", "--scenario-weights=success=0", "--nodes 2",
        "--endpoint unix:///nowhere.sock", "--scenario-weights=rwo-conflict=1 --rwo-volumes 0",
        // The Node objects live in the apiserver.
        "--scenario-weights=success=1,node-deleted=1",
        // A node plugin per node id: at most 16.
        "--node --nodes 17"}) {
    INFO(std::string{args});
    std::string output;
    CHECK(run_harness(args, output) == 2);
    CHECK(!output.empty());
  }
}
