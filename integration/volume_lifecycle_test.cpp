// CreateVolume and DeleteVolume through the real plugin: against its embedded RDS simulator
// (real sparse files), and against rds-sim as a separate process with faults injected.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "integration/metric_expectations.hpp"
#include "integration/plugin_process.hpp"

using namespace rds::test;
using namespace std::chrono_literals;

namespace {

constexpr int64_t gib = int64_t{1} << 30;

std::string created(const std::string& operation) {
  return "rds_csi_volume_operations_total{operation=\"" + operation + "\",status=\"success\"}";
}

size_t files_in(const std::string& dir) {
  size_t n = 0;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

} // namespace

TEST_CASE("volumes on the embedded RDS simulator: create, repeat, conflict, delete") {
  temp_dir dir;
  plugin_process plugin{{"--rds-sim-data-dir=" + dir.path() + "/sim"}};
  csi_client client{plugin.endpoint()};
  ::csi::v1::Volume volume;
  REQUIRE(client
            .create_volume("pvc-5c3e8a36-1f0e-4a77-9d27-2b0d4c1f9e11", gib,
                           volume_access::rwx_block, {{"migrationTimeoutSeconds", "600"}}, volume)
            .ok());
  CHECK(volume.volume_id().size() == 32);
  CHECK(volume.volume_id().rfind("csi-", 0) == 0);
  CHECK(volume.capacity_bytes() == gib);
  CHECK(volume.volume_context().at("nqn") == "nqn.2000-02.com.mikrotik:" + volume.volume_id());
  CHECK(volume.volume_context().at("nvmePort") == "4420");
  CHECK(volume.volume_context().at("migrationTimeoutSeconds") == "600");
  auto file = dir.path() + "/sim/raid10/" + volume.volume_id() + ".img";
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK(st.st_size == gib);

  // The CO retries with the same name: the same volume.
  ::csi::v1::Volume again;
  REQUIRE(client
            .create_volume("pvc-5c3e8a36-1f0e-4a77-9d27-2b0d4c1f9e11", gib,
                           volume_access::rwx_block, {}, again)
            .ok());
  CHECK(again.volume_id() == volume.volume_id());
  ::csi::v1::Volume bigger;
  CHECK(client
          .create_volume("pvc-5c3e8a36-1f0e-4a77-9d27-2b0d4c1f9e11", 2 * gib,
                         volume_access::rwx_block, {}, bigger)
          .error_code()
        == grpc::StatusCode::ALREADY_EXISTS);

  // The pool's free space went down by exactly the volume.
  ::csi::v1::GetCapacityResponse capacity;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    REQUIRE(client.controller().GetCapacity(&ctx, {}, &capacity).ok());
  }
  CHECK(capacity.available_capacity() == (int64_t{1} << 40) - gib);
  CHECK(capacity.maximum_volume_size().value() == (int64_t{1} << 40) - gib);

  // Growing: the file grows; a filesystem then needs the node; a smaller size changes nothing.
  auto expand = [&](const std::string& id, int64_t bytes, volume_access mode,
                    ::csi::v1::ControllerExpandVolumeResponse& resp) {
    ::csi::v1::ControllerExpandVolumeRequest req;
    req.set_volume_id(id);
    req.mutable_capacity_range()->set_required_bytes(bytes);
    *req.mutable_volume_capability() = csi_client::capability(mode);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return client.controller().ControllerExpandVolume(&ctx, req, &resp);
  };
  ::csi::v1::ControllerExpandVolumeResponse grown;
  REQUIRE(expand(volume.volume_id(), 2 * gib, volume_access::rwo, grown).ok());
  CHECK(grown.capacity_bytes() == 2 * gib);
  CHECK(grown.node_expansion_required());
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK(st.st_size == 2 * gib);
  REQUIRE(expand(volume.volume_id(), gib, volume_access::rwx_block, grown).ok());
  CHECK(grown.capacity_bytes() == 2 * gib);
  CHECK_FALSE(grown.node_expansion_required());
  CHECK(expand("csi-00000000000000000000000000000", gib, volume_access::rwo, grown).error_code()
        == grpc::StatusCode::NOT_FOUND);

  REQUIRE(client.delete_volume(volume.volume_id()).ok());
  CHECK(::stat(file.c_str(), &st) != 0); // the disk and its backing file
  CHECK(client.delete_volume(volume.volume_id()).ok());
  CHECK(settled_value(plugin.metrics_url(), created("create"), 2) == 2);
  CHECK(settled_value(plugin.metrics_url(), created("delete"), 2) == 2);
  CHECK(settled_value(plugin.metrics_url(),
                      "rds_csi_volume_operations_total{operation=\"create\",status=\"already_"
                      "exists\"}",
                      1)
        == 1);
  CHECK(settled_value(plugin.metrics_url(),
                      "rds_csi_rds_requests_total{method=\"PUT\",status=\"200\"}", 1)
        == 1);
  CHECK(plugin.terminate() == 0);
}

TEST_CASE("CreateVolume refuses hostile input and sends nothing") {
  temp_dir dir;
  plugin_process plugin{{"--rds-sim-data-dir=" + dir.path() + "/sim"}};
  csi_client client{plugin.endpoint()};
  ::csi::v1::Volume v;
  auto code = [&](const std::string& name, int64_t size,
                  const std::map<std::string, std::string>& params = {},
                  volume_access mode = volume_access::rwo) {
    return client.create_volume(name, size, mode, params, v).error_code();
  };
  using grpc::StatusCode;
  CHECK(code("", gib) == StatusCode::INVALID_ARGUMENT);
  CHECK(code(std::string(10 * 1024, 'a'), gib) == StatusCode::INVALID_ARGUMENT);
  CHECK(code("pvc\n; /disk remove [find]", gib) == StatusCode::INVALID_ARGUMENT);
  CHECK(code("pvc-1", -1) == StatusCode::INVALID_ARGUMENT);
  CHECK(code("pvc-1", int64_t{1} << 62) == StatusCode::OUT_OF_RANGE);
  CHECK(code("pvc-1", gib, {{"nvmeAddress", "10.0.0.1; rm -rf /"}})
        == StatusCode::INVALID_ARGUMENT);
  CHECK(code("pvc-1", gib, {{"nvmePort", "99999"}}) == StatusCode::INVALID_ARGUMENT);
  CHECK(code("pvc-1", gib, {{"volumePath", "/raid10/../etc"}}) == StatusCode::INVALID_ARGUMENT);
  CHECK(code("pvc-1", gib, {{"surprise", "1"}}) == StatusCode::INVALID_ARGUMENT);
  CHECK(code("pvc-1", gib, {}, volume_access::rwx_mount) == StatusCode::INVALID_ARGUMENT);
  CHECK(files_in(dir.path() + "/sim/raid10") == 0);
  CHECK(metric_value(http_get(plugin.metrics_url()), "rds_csi_rds_requests_total{method=\"GET\","
                                                     "status=\"200\"}")
        <= 0); // not a single request reached the RDS
  CHECK(plugin.terminate() == 0);
}

TEST_CASE("a failure in the middle of CreateVolume, then the retry, leaves exactly one disk") {
  temp_dir dir;
  pid_t sim_pid = -1;
  // Every PATCH (the export) fails: the disk is added, then CreateVolume fails.
  auto url = start_rds_sim(dir, {"--error-rate=PATCH=1"}, sim_pid);
  REQUIRE_FALSE(url.empty());
  std::ofstream{dir.path() + "/rds-password"} << "sim-secret\n";
  plugin_process plugin{
    {"--rds-url=" + url, "--rds-password-file=" + dir.path() + "/rds-password"}};
  csi_client client{plugin.endpoint()};
  ::csi::v1::Volume v;
  CHECK(client.create_volume("pvc-retry", gib, volume_access::rwo, {}, v).error_code()
        == grpc::StatusCode::UNAVAILABLE);
  CHECK(files_in(dir.path() + "/data/raid10") == 1);
  // The fault clears; the CO retries with the same name.
  stop_process(sim_pid, 5s);
  auto fixed = start_rds_sim(dir, {"--listen=" + url.substr(7, url.find("/rest") - 7)}, sim_pid);
  REQUIRE(fixed == url);
  REQUIRE(client.create_volume("pvc-retry", gib, volume_access::rwo, {}, v).ok());
  CHECK(files_in(dir.path() + "/data/raid10") == 1);
  CHECK(v.volume_context().at("nqn").find(v.volume_id()) != std::string::npos);
  REQUIRE(client.delete_volume(v.volume_id()).ok());
  CHECK(files_in(dir.path() + "/data/raid10") == 0);
  CHECK(plugin.terminate() == 0);
  stop_process(sim_pid, 5s);
}

TEST_CASE("the circuit breaker opens when the RDS keeps failing and closes when it is back") {
  temp_dir dir;
  pid_t sim_pid = -1;
  auto url = start_rds_sim(dir, {"--drop-rate=1"}, sim_pid); // every connection is dropped
  REQUIRE_FALSE(url.empty());
  std::ofstream{dir.path() + "/rds-password"} << "sim-secret\n";
  plugin_process plugin{{"--rds-url=" + url, "--rds-password-file=" + dir.path() + "/rds-password",
                         "--rds-breaker-failures=3", "--rds-breaker-cooldown=1"}};
  csi_client client{plugin.endpoint()};
  ::csi::v1::Volume v;
  CHECK(client.create_volume("pvc-b", gib, volume_access::rwo, {}, v).error_code()
        == grpc::StatusCode::UNAVAILABLE);
  CHECK(settled_value(plugin.metrics_url(), "rds_csi_rds_connection_state", 0) == 0);
  auto paused = client.create_volume("pvc-b", gib, volume_access::rwo, {}, v);
  CHECK(paused.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(paused.error_message().find("circuit breaker open") != std::string::npos);
  // The RDS is back; after the cooldown one request tries, succeeds, and the breaker closes.
  stop_process(sim_pid, 5s);
  REQUIRE(start_rds_sim(dir, {"--listen=" + url.substr(7, url.find("/rest") - 7)}, sim_pid) == url);
  std::this_thread::sleep_for(1100ms);
  CHECK(client.create_volume("pvc-b", gib, volume_access::rwo, {}, v).ok());
  CHECK(settled_value(plugin.metrics_url(), "rds_csi_rds_connection_state", 1) == 1);
  CHECK(client.delete_volume(v.volume_id()).ok());
  CHECK(plugin.terminate() == 0);
  stop_process(sim_pid, 5s);
}

TEST_CASE("ListVolumes pages through the driver's volumes") {
  temp_dir dir;
  plugin_process plugin{{"--rds-sim-data-dir=" + dir.path() + "/sim"}};
  csi_client client{plugin.endpoint()};
  std::vector<std::string> ids;
  for (auto name : {"pvc-a", "pvc-b", "pvc-c"}) {
    ::csi::v1::Volume v;
    REQUIRE(client.create_volume(name, gib, volume_access::rwo, {}, v).ok());
    ids.push_back(v.volume_id());
  }
  std::sort(ids.begin(), ids.end());
  auto list = [&](int max_entries, const std::string& token, ::csi::v1::ListVolumesResponse& out) {
    ::csi::v1::ListVolumesRequest req;
    req.set_max_entries(max_entries);
    req.set_starting_token(token);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return client.controller().ListVolumes(&ctx, req, &out);
  };
  ::csi::v1::ListVolumesResponse first, second;
  REQUIRE(list(2, "", first).ok());
  REQUIRE(first.entries_size() == 2);
  CHECK(first.entries(0).volume().volume_id() == ids[0]);
  CHECK(first.entries(1).volume().capacity_bytes() == gib);
  CHECK_FALSE(first.next_token().empty());
  REQUIRE(list(2, first.next_token(), second).ok());
  REQUIRE(second.entries_size() == 1);
  CHECK(second.entries(0).volume().volume_id() == ids[2]);
  CHECK(second.next_token().empty());
  ::csi::v1::ListVolumesResponse bad;
  CHECK(list(0, "not a token!", bad).error_code() == grpc::StatusCode::ABORTED);
  CHECK(list(-1, "", bad).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  for (auto& id : ids)
    CHECK(client.delete_volume(id).ok());
  CHECK(plugin.terminate() == 0);
}
