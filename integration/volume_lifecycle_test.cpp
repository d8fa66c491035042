// CreateVolume and DeleteVolume through the real plugin: against its embedded RDS simulator
// (real sparse files), and against rds-sim as a separate process with faults injected.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "integration/clean_stop.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/client.hpp"

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
  expect_clean_stop(plugin);
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
  // Not a single request reached the RDS, besides the volume catalog's list at start.
  CHECK(settled_value(plugin.metrics_url(), "rds_csi_rds_request_duration_seconds_count", 1) == 1);
  expect_clean_stop(plugin);
}

TEST_CASE("a failure in the middle of CreateVolume, then the retry, leaves exactly one disk") {
  temp_dir dir;
  pid_t sim_pid = -1;
  // Every PATCH (the export) fails: the disk is added, then CreateVolume fails.
  auto url = start_rds_sim(dir, {"--error-rate=PATCH=1"}, sim_pid);
  REQUIRE_FALSE(url.empty());
  plugin_process plugin{rds_sim_flags(dir, url)};
  csi_client client{plugin.endpoint()};
  ::csi::v1::Volume v;
  CHECK(client.create_volume("pvc-retry", gib, volume_access::rwo, {}, v).error_code()
        == grpc::StatusCode::UNAVAILABLE);
  CHECK(files_in(dir.path() + "/data/raid10") == 1);
  // The fault clears; the CO retries with the same name.
  CHECK(stop_process(sim_pid, 5s) == 0);
  auto fixed = start_rds_sim(dir, {"--listen=" + url.substr(7, url.find("/rest") - 7)}, sim_pid);
  REQUIRE(fixed == url);
  REQUIRE(client.create_volume("pvc-retry", gib, volume_access::rwo, {}, v).ok());
  CHECK(files_in(dir.path() + "/data/raid10") == 1);
  CHECK(v.volume_context().at("nqn").find(v.volume_id()) != std::string::npos);
  REQUIRE(client.delete_volume(v.volume_id()).ok());
  CHECK(files_in(dir.path() + "/data/raid10") == 0);
  expect_clean_stop(plugin);
  CHECK(stop_process(sim_pid, 5s) == 0);
}

TEST_CASE("an answer lost after DELETE was carried out: DeleteVolume still leaves nothing") {
  temp_dir dir;
  pid_t sim_pid = -1;
  // Half of the DELETEs are carried out, then their connection is closed without an answer.
  auto url = start_rds_sim(dir, {"--drop-after=DELETE=0.5", "--seed=7"}, sim_pid);
  REQUIRE_FALSE(url.empty());
  plugin_process plugin{rds_sim_flags(dir, url)};
  csi_client client{plugin.endpoint()};
  std::vector<std::string> ids;
  for (auto name : {"pvc-d1", "pvc-d2", "pvc-d3", "pvc-d4"}) {
    ::csi::v1::Volume v;
    REQUIRE(client.create_volume(name, gib, volume_access::rwo, {}, v).ok());
    ids.push_back(v.volume_id());
  }
  CHECK(files_in(dir.path() + "/data/raid10") == 4);
  for (auto& id : ids) {
    // The CO retries a failed DeleteVolume; each attempt is bounded.
    auto status = client.delete_volume(id);
    for (int attempt = 1; !status.ok() && attempt < 10; ++attempt)
      status = client.delete_volume(id);
    CHECK(status.ok());
  }
  CHECK(files_in(dir.path() + "/data/raid10") == 0);
  ::csi::v1::ListVolumesResponse listed;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  REQUIRE(client.controller().ListVolumes(&ctx, {}, &listed).ok());
  CHECK(listed.entries_size() == 0);
  // Answers were really lost on the way (and retried).
  CHECK(metric_value(http_get(plugin.metrics_url()),
                     "rds_csi_rds_requests_total{method=\"DELETE\",status=\"error\"}")
        > 0);
  expect_clean_stop(plugin);
  CHECK(stop_process(sim_pid, 5s) == 0);
}

TEST_CASE("RDS faults on every verb: creates and deletes retried as the provisioner does see only "
          "OK, UNAVAILABLE or ABORTED, and leave exactly what should exist") {
  temp_dir dir;
  pid_t sim_pid = -1;
  // Every verb fails now and then (HTTP 500), and every write is sometimes carried out with its
  // answer lost.
  auto url = start_rds_sim(
    dir,
    {"--error-rate=GET=0.05", "--error-rate=PUT=0.1", "--error-rate=PATCH=0.1",
     "--error-rate=DELETE=0.1", "--error-rate=POST=0.1", "--drop-after=PUT=0.2",
     "--drop-after=PATCH=0.2", "--drop-after=DELETE=0.2", "--drop-after=POST=0.2", "--seed=11"},
    sim_pid);
  REQUIRE_FALSE(url.empty());
  // The breaker would pause requests under this many faults: it is tested elsewhere.
  plugin_process plugin{rds_sim_flags(dir, url, {"--rds-breaker-failures=1000"})};
  csi_client client{plugin.endpoint()};
  std::map<std::string, int> codes;
  auto retried = [&](auto call) {
    auto status = call();
    for (int attempt = 1; !status.ok() && attempt < 30; ++attempt) {
      ++codes[std::to_string(status.error_code()) + " " + status.error_message().substr(0, 80)];
      status = call();
    }
    return status;
  };
  constexpr int volumes = 100;
  std::vector<std::string> ids;
  for (int i = 0; i < volumes; ++i) {
    ::csi::v1::Volume v;
    auto name = "pvc-fault-" + std::to_string(i);
    auto status =
      retried([&] { return client.create_volume(name, 1 << 20, volume_access::rwo, {}, v); });
    REQUIRE_MESSAGE(status.ok(), status.error_message());
    ids.push_back(v.volume_id());
  }
  CHECK(files_in(dir.path() + "/data/raid10") == static_cast<size_t>(volumes));
  // Every other one is deleted again.
  for (int i = 0; i < volumes; i += 2) {
    auto status = retried([&] { return client.delete_volume(ids[static_cast<size_t>(i)]); });
    REQUIRE_MESSAGE(status.ok(), status.error_message());
  }
  CHECK(files_in(dir.path() + "/data/raid10") == static_cast<size_t>(volumes / 2));
  for (auto& [code, count] : codes) {
    CAPTURE(code);
    auto number = std::stoi(code);
    CHECK((number == grpc::StatusCode::UNAVAILABLE || number == grpc::StatusCode::ABORTED));
  }
  // Faults really happened.
  CHECK(codes.size() > 0);
  ::csi::v1::ListVolumesResponse listed;
  auto status = retried([&] {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client.controller().ListVolumes(&ctx, {}, &listed);
  });
  REQUIRE(status.ok());
  CHECK(listed.entries_size() == volumes / 2);
  expect_clean_stop(plugin);
  CHECK(stop_process(sim_pid, 5s) == 0);
}

TEST_CASE("a RouterOS that ignores PATCH and DELETE by id: POST set and remove are used") {
  temp_dir dir;
  pid_t sim_pid = -1;
  auto url = start_rds_sim(dir, {"--legacy-rest"}, sim_pid);
  REQUIRE_FALSE(url.empty());
  plugin_process plugin{rds_sim_flags(dir, url)};
  csi_client client{plugin.endpoint()};
  ::csi::v1::Volume v;
  REQUIRE(client.create_volume("pvc-legacy", gib, volume_access::rwo, {}, v).ok());
  CHECK(v.volume_context().at("nqn") == "nqn.2000-02.com.mikrotik:" + v.volume_id());
  ::csi::v1::ControllerExpandVolumeRequest grow;
  grow.set_volume_id(v.volume_id());
  grow.mutable_capacity_range()->set_required_bytes(2 * gib);
  ::csi::v1::ControllerExpandVolumeResponse grown;
  {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    REQUIRE(client.controller().ControllerExpandVolume(&ctx, grow, &grown).ok());
  }
  CHECK(grown.capacity_bytes() == 2 * gib);
  struct stat st {};
  REQUIRE(::stat((dir.path() + "/data/raid10/" + v.volume_id() + ".img").c_str(), &st) == 0);
  CHECK(st.st_size == 2 * gib);
  REQUIRE(client.delete_volume(v.volume_id()).ok());
  CHECK(files_in(dir.path() + "/data/raid10") == 0);
  // Export, growth, unexport, disk removal and file removal went through POST.
  CHECK(settled_value(plugin.metrics_url(),
                      "rds_csi_rds_requests_total{method=\"POST\",status=\"200\"}", 5)
        == 5);
  expect_clean_stop(plugin);
  CHECK(stop_process(sim_pid, 5s) == 0);
}

TEST_CASE("the circuit breaker opens when the RDS keeps failing and closes when it is back") {
  temp_dir dir;
  pid_t sim_pid = -1;
  auto url = start_rds_sim(dir, {"--drop-rate=1"}, sim_pid); // every connection is dropped
  REQUIRE_FALSE(url.empty());
  plugin_process plugin{
    rds_sim_flags(dir, url, {"--rds-breaker-failures=3", "--rds-breaker-cooldown=1"})};
  csi_client client{plugin.endpoint()};
  ::csi::v1::Volume v;
  CHECK(client.create_volume("pvc-b", gib, volume_access::rwo, {}, v).error_code()
        == grpc::StatusCode::UNAVAILABLE);
  CHECK(settled_value(plugin.metrics_url(), "rds_csi_rds_connection_state", 0) == 0);
  auto paused = client.create_volume("pvc-b", gib, volume_access::rwo, {}, v);
  CHECK(paused.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(paused.error_message().find("circuit breaker open") != std::string::npos);
  // The RDS is back; after the cooldown one request tries, succeeds, and the breaker closes.
  CHECK(stop_process(sim_pid, 5s) == 0);
  REQUIRE(start_rds_sim(dir, {"--listen=" + url.substr(7, url.find("/rest") - 7)}, sim_pid) == url);
  std::this_thread::sleep_for(1100ms);
  CHECK(client.create_volume("pvc-b", gib, volume_access::rwo, {}, v).ok());
  CHECK(settled_value(plugin.metrics_url(), "rds_csi_rds_connection_state", 1) == 1);
  CHECK(client.delete_volume(v.volume_id()).ok());
  expect_clean_stop(plugin);
  CHECK(stop_process(sim_pid, 5s) == 0);
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
  // Strings that look like ids or positions are not tokens this driver gave out (CSI: ABORTED).
  for (auto foreign : {std::string{"not-a-token"}, ids[0], first.next_token() + "0",
                       "p1.snapshots" + first.next_token().substr(10)}) {
    CAPTURE(foreign);
    CHECK(list(0, foreign, bad).error_code() == grpc::StatusCode::ABORTED);
  }
  CHECK(list(-1, "", bad).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  for (auto& id : ids)
    CHECK(client.delete_volume(id).ok());
  expect_clean_stop(plugin);
}

TEST_CASE("HTTPS to the RDS: verified against --rds-ca-file, refused without it") {
  temp_dir dir;
  // A CA-less self-signed certificate for 127.0.0.1, as an RDS administrator might export.
  auto cert = dir.path() + "/rds.crt", key = dir.path() + "/rds.key";
  auto make_cert = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rds-sim"
                   " -addext subjectAltName=IP:127.0.0.1 -keyout "
                   + key + " -out " + cert + " >/dev/null 2>&1";
  REQUIRE(std::system(make_cert.c_str()) == 0);
  pid_t sim_pid = -1;
  auto url = start_rds_sim(dir, {"--tls-cert=" + cert, "--tls-key=" + key}, sim_pid);
  REQUIRE(url.rfind("https://127.0.0.1:", 0) == 0);
  ::csi::v1::Volume v;
  {
    plugin_process verified{rds_sim_flags(dir, url, {"--rds-ca-file=" + cert})};
    csi_client client{verified.endpoint()};
    REQUIRE(client.create_volume("pvc-tls", gib, volume_access::rwo, {}, v).ok());
    CHECK(files_in(dir.path() + "/data/raid10") == 1);
    expect_clean_stop(verified);
  }
  {
    // The system's CAs do not vouch for this certificate: nothing is sent.
    plugin_process unverified{rds_sim_flags(dir, url)};
    csi_client client{unverified.endpoint()};
    auto refused = client.delete_volume(v.volume_id());
    CHECK(refused.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(refused.error_message().find("certificate") != std::string::npos);
    CHECK(files_in(dir.path() + "/data/raid10") == 1);
    expect_clean_stop(unverified);
  }
  {
    plugin_process skipping{rds_sim_flags(dir, url, {"--rds-insecure-skip-verify=true"})};
    csi_client client{skipping.endpoint()};
    REQUIRE(client.delete_volume(v.volume_id()).ok());
    CHECK(files_in(dir.path() + "/data/raid10") == 0);
    expect_clean_stop(skipping);
  }
  CHECK(stop_process(sim_pid, 5s) == 0);
}

TEST_CASE("the RDS's REST API down: publishing (a live migration) goes on, NOT_FOUND is not said") {
  temp_dir dir;
  pid_t sim_pid = -1;
  auto url = start_rds_sim(dir, {}, sim_pid);
  REQUIRE_FALSE(url.empty());
  auto flags = rds_sim_flags(dir, url, {"--rds-breaker-failures=2", "--rds-breaker-cooldown=60"});
  ::csi::v1::Volume v;
  {
    plugin_process first{flags};
    csi_client client{first.endpoint()};
    REQUIRE(client.create_volume("pvc-vm", gib, volume_access::rwx_block, {}, v).ok());
    expect_clean_stop(first);
  }
  CHECK(stop_process(sim_pid, 5s) == 0);
  // A new controller starts while the RDS cannot be reached: it cannot list its volumes.
  plugin_process second{flags};
  csi_client client{second.endpoint()};
  CHECK(client.publish(v.volume_id(), "node-a", volume_access::rwx_block).ok());
  CHECK(client.publish(v.volume_id(), "node-b", volume_access::rwx_block).ok());
  CHECK(client.unpublish(v.volume_id(), "node-a").ok());
  CHECK(
    settled_value(second.metrics_url(), "rds_csi_migration_migrations_total{result=\"success\"}", 1)
    == 1);
  CHECK(client.delete_volume(v.volume_id()).error_code() == grpc::StatusCode::UNAVAILABLE);
  expect_clean_stop(second);
}
