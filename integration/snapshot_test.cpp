// Snapshots, restores and clones through the real plugin against its embedded RDS simulator:
// the data of the source is really copied (the simulator's disks are sparse files, read here),
// the calls are idempotent, and every refusal has its gRPC code. ControllerGetVolume too.
#include <dirent.h>
#include <sys/stat.h>

#include <fstream>
#include <future>
#include <thread>

#include "integration/clean_stop.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/client.hpp"

using namespace rds::test;
using namespace std::chrono_literals;

namespace {

constexpr int64_t mib = int64_t{1} << 20;

/// The one file in `dir` whose name starts with `prefix`, or "".
std::string file_starting(const std::string& dir, const std::string& prefix) {
  std::string found;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (std::string{e->d_name}.rfind(prefix, 0) == 0)
        found = dir + "/" + e->d_name;
    ::closedir(d);
  }
  return found;
}

void write_at(const std::string& path, int64_t offset, const std::string& data) {
  std::fstream f{path, std::ios::in | std::ios::out | std::ios::binary};
  f.seekp(offset);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string read_at(const std::string& path, int64_t offset, size_t size) {
  std::ifstream f{path, std::ios::binary};
  f.seekg(offset);
  std::string data(size, '\0');
  f.read(data.data(), static_cast<std::streamsize>(size));
  return data;
}

int64_t size_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

struct controller_calls {
  csi_client& client;

  grpc::Status snapshot(const std::string& name, const std::string& source,
                        ::csi::v1::Snapshot& out,
                        const std::map<std::string, std::string>& parameters = {}) {
    ::csi::v1::CreateSnapshotRequest req;
    req.set_name(name);
    req.set_source_volume_id(source);
    for (auto& [k, v] : parameters)
      (*req.mutable_parameters())[k] = v;
    ::csi::v1::CreateSnapshotResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    auto status = client.controller().CreateSnapshot(&ctx, req, &resp);
    out = resp.snapshot();
    return status;
  }

  grpc::Status delete_snapshot(const std::string& id) {
    ::csi::v1::DeleteSnapshotRequest req;
    req.set_snapshot_id(id);
    ::csi::v1::DeleteSnapshotResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client.controller().DeleteSnapshot(&ctx, req, &resp);
  }

  grpc::Status list(::csi::v1::ListSnapshotsResponse& resp, int32_t max_entries = 0,
                    const std::string& token = "", const std::string& source = "",
                    const std::string& snapshot_id = "") {
    ::csi::v1::ListSnapshotsRequest req;
    req.set_max_entries(max_entries);
    req.set_starting_token(token);
    req.set_source_volume_id(source);
    req.set_snapshot_id(snapshot_id);
    resp.Clear();
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client.controller().ListSnapshots(&ctx, req, &resp);
  }

  /// CreateVolume from a snapshot (`snapshot` true) or a volume.
  grpc::Status create_from(const std::string& name, const std::string& source, bool snapshot,
                           int64_t required, int64_t limit, ::csi::v1::Volume& out) {
    ::csi::v1::CreateVolumeRequest req;
    req.set_name(name);
    if (required != 0 || limit != 0) {
      req.mutable_capacity_range()->set_required_bytes(required);
      req.mutable_capacity_range()->set_limit_bytes(limit);
    }
    *req.add_volume_capabilities() = csi_client::capability(volume_access::rwx_block);
    if (snapshot)
      req.mutable_volume_content_source()->mutable_snapshot()->set_snapshot_id(source);
    else
      req.mutable_volume_content_source()->mutable_volume()->set_volume_id(source);
    ::csi::v1::CreateVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    auto status = client.controller().CreateVolume(&ctx, req, &resp);
    out = resp.volume();
    return status;
  }

  grpc::Status get(const std::string& id, ::csi::v1::ControllerGetVolumeResponse& resp) {
    ::csi::v1::ControllerGetVolumeRequest req;
    req.set_volume_id(id);
    resp.Clear();
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client.controller().ControllerGetVolume(&ctx, req, &resp);
  }
};

} // namespace

TEST_CASE("snapshots, restores and clones copy the data; every refusal has its code") {
  temp_dir dir;
  auto pool = dir.path() + "/sim/raid10";
  plugin_process plugin{{"--rds-sim-data-dir=" + dir.path() + "/sim"}};
  csi_client client{plugin.endpoint()};
  controller_calls calls{client};

  ::csi::v1::Volume source, other;
  REQUIRE(client.create_volume("pvc-source", 4 * mib, volume_access::rwx_block, {}, source).ok());
  REQUIRE(client.create_volume("pvc-other", 4 * mib, volume_access::rwx_block, {}, other).ok());
  auto source_file = pool + "/" + source.volume_id() + ".img";
  // What a VM wrote through NVMe/TCP: data at the start and in the last MiB.
  write_at(source_file, 0, "boot sector v1");
  write_at(source_file, 3 * mib + 17, "last MiB v1");

  INFO("CreateSnapshot copies the volume and is idempotent");
  ::csi::v1::Snapshot snap;
  REQUIRE(calls.snapshot("snapshot-1", source.volume_id(), snap).ok());
  CHECK(snap.snapshot_id().rfind("snp-", 0) == 0);
  CHECK(snap.snapshot_id().size() == 32);
  CHECK(snap.source_volume_id() == source.volume_id());
  CHECK(snap.size_bytes() == 4 * mib);
  CHECK(snap.ready_to_use());
  CHECK(snap.creation_time().seconds() > 1700000000);
  auto snap_file = file_starting(pool, snap.snapshot_id() + ".");
  REQUIRE(!snap_file.empty());
  ::csi::v1::Snapshot again;
  REQUIRE(calls.snapshot("snapshot-1", source.volume_id(), again).ok());
  CHECK(again.snapshot_id() == snap.snapshot_id());
  CHECK(again.creation_time().seconds() == snap.creation_time().seconds());
  // The volume changes afterwards; the snapshot keeps what it had.
  write_at(source_file, 0, "boot sector v2");
  CHECK(read_at(snap_file, 0, 14) == "boot sector v1");
  CHECK(read_at(snap_file, 3 * mib + 17, 11) == "last MiB v1");

  INFO("CreateSnapshot refusals");
  ::csi::v1::Snapshot ignored;
  CHECK(calls.snapshot("snapshot-1", other.volume_id(), ignored).error_code()
        == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(calls.snapshot("snapshot-2", "csi-0123456789abcdef0123456789ab", ignored).error_code()
        == grpc::StatusCode::NOT_FOUND);
  CHECK(calls.snapshot("", source.volume_id(), ignored).error_code()
        == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(calls.snapshot("snapshot-2", "a\"; /disk remove", ignored).error_code()
        == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(
    calls.snapshot("snapshot-2", source.volume_id(), ignored, {{"frobnicate", "1"}}).error_code()
    == grpc::StatusCode::INVALID_ARGUMENT);

  INFO("a restore is a new volume with the snapshot's data, at least as large");
  ::csi::v1::Volume restored;
  REQUIRE(calls.create_from("pvc-restored", snap.snapshot_id(), true, 8 * mib, 0, restored).ok());
  CHECK(restored.capacity_bytes() == 8 * mib);
  CHECK(restored.content_source().snapshot().snapshot_id() == snap.snapshot_id());
  auto restored_file = file_starting(pool, restored.volume_id() + ".");
  REQUIRE(!restored_file.empty());
  CHECK(size_of(restored_file) == 8 * mib);
  CHECK(read_at(restored_file, 0, 14) == "boot sector v1");
  CHECK(read_at(restored_file, 3 * mib + 17, 11) == "last MiB v1");
  ::csi::v1::Volume restored_again;
  REQUIRE(
    calls.create_from("pvc-restored", snap.snapshot_id(), true, 8 * mib, 0, restored_again).ok());
  CHECK(restored_again.volume_id() == restored.volume_id());
  // The restored volume exists for publishing.
  CHECK(client.publish(restored.volume_id(), "node-a", volume_access::rwx_block).ok());

  INFO("a clone has the volume's data as it is now; no size means the source's");
  ::csi::v1::Volume clone;
  REQUIRE(calls.create_from("pvc-clone", source.volume_id(), false, 0, 0, clone).ok());
  CHECK(clone.capacity_bytes() == 4 * mib);
  CHECK(clone.content_source().volume().volume_id() == source.volume_id());
  auto clone_file = file_starting(pool, clone.volume_id() + ".");
  REQUIRE(!clone_file.empty());
  CHECK(read_at(clone_file, 0, 14) == "boot sector v2");

  INFO("CreateVolume from a source: refusals");
  ::csi::v1::Volume none;
  CHECK(
    calls.create_from("pvc-x", "snp-0123456789abcdef0123456789ab", true, 0, 0, none).error_code()
    == grpc::StatusCode::NOT_FOUND);
  CHECK(
    calls.create_from("pvc-x", "csi-0123456789abcdef0123456789ab", false, 0, 0, none).error_code()
    == grpc::StatusCode::NOT_FOUND);
  CHECK(calls.create_from("pvc-x", snap.snapshot_id(), true, 2 * mib, 2 * mib, none).error_code()
        == grpc::StatusCode::OUT_OF_RANGE);
  // The same name with another source is another volume.
  CHECK(calls.create_from("pvc-clone", other.volume_id(), false, 0, 0, none).error_code()
        == grpc::StatusCode::ALREADY_EXISTS);
  CHECK(calls.create_from("pvc-x", "../../etc", true, 0, 0, none).error_code()
        == grpc::StatusCode::INVALID_ARGUMENT);

  INFO("ListSnapshots: pages, filters, bad tokens");
  ::csi::v1::Snapshot second;
  REQUIRE(calls.snapshot("snapshot-2", other.volume_id(), second).ok());
  ::csi::v1::ListSnapshotsResponse list;
  REQUIRE(calls.list(list).ok());
  CHECK(list.entries_size() == 2);
  REQUIRE(calls.list(list, 1).ok());
  REQUIRE(list.entries_size() == 1);
  auto first_id = list.entries(0).snapshot().snapshot_id();
  auto token = list.next_token();
  CHECK(token.find(first_id) != std::string::npos);
  REQUIRE(calls.list(list, 1, token).ok());
  REQUIRE(list.entries_size() == 1);
  CHECK(list.entries(0).snapshot().snapshot_id() != first_id);
  CHECK(list.next_token().empty());
  REQUIRE(calls.list(list, 0, "", source.volume_id()).ok());
  REQUIRE(list.entries_size() == 1);
  CHECK(list.entries(0).snapshot().snapshot_id() == snap.snapshot_id());
  CHECK(list.entries(0).snapshot().ready_to_use());
  REQUIRE(calls.list(list, 0, "", "", "snp-0123456789abcdef0123456789ab").ok());
  CHECK(list.entries_size() == 0);
  CHECK(calls.list(list, 0, "not a token!").error_code() == grpc::StatusCode::ABORTED);
  // A raw snapshot id, a volume list's token or a token changed by hand: not given out.
  for (auto foreign : {first_id, std::string{"not-a-token"}, "p1.volumes" + token.substr(12),
                       token.substr(0, token.size() - 1) + "g"}) {
    CAPTURE(foreign);
    CHECK(calls.list(list, 0, foreign).error_code() == grpc::StatusCode::ABORTED);
  }
  CHECK(calls.list(list, -1).error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  INFO("ControllerGetVolume: capacity and the nodes it is published to");
  ::csi::v1::ControllerGetVolumeResponse got;
  REQUIRE(calls.get(restored.volume_id(), got).ok());
  CHECK(got.volume().capacity_bytes() == 8 * mib);
  REQUIRE(got.status().published_node_ids_size() == 1);
  CHECK(got.status().published_node_ids(0) == "node-a");
  REQUIRE(calls.get(clone.volume_id(), got).ok());
  CHECK(got.status().published_node_ids_size() == 0);
  CHECK(calls.get("csi-0123456789abcdef0123456789ab", got).error_code()
        == grpc::StatusCode::NOT_FOUND);
  // A snapshot is not a volume.
  CHECK(calls.get(snap.snapshot_id(), got).error_code() == grpc::StatusCode::NOT_FOUND);

  INFO("deleting: a snapshot id given to DeleteVolume deletes nothing");
  CHECK(client.delete_volume(snap.snapshot_id()).ok());
  CHECK(size_of(snap_file) == 4 * mib);
  REQUIRE(calls.delete_snapshot(snap.snapshot_id()).ok());
  CHECK(size_of(snap_file) == -1);
  CHECK(calls.delete_snapshot(snap.snapshot_id()).ok());
  CHECK(calls.delete_snapshot("").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // The restored volume does not depend on its snapshot.
  CHECK(read_at(restored_file, 0, 14) == "boot sector v1");
  REQUIRE(client.unpublish(restored.volume_id(), "node-a").ok());
  REQUIRE(client.delete_volume(restored.volume_id()).ok());
  CHECK(size_of(restored_file) == -1);
  REQUIRE(calls.list(list).ok());
  CHECK(list.entries_size() == 1);

  auto op = [](const std::string& operation, const std::string& status) {
    return "rds_csi_volume_operations_total{operation=\"" + operation + "\",status=\"" + status
           + "\"}";
  };
  CHECK(settled_value(plugin.metrics_url(), op("snapshot", "success"), 3) == 3);
  CHECK(settled_value(plugin.metrics_url(), op("snapshot", "already_exists"), 1) == 1);
  CHECK(settled_value(plugin.metrics_url(), op("snapshot", "not_found"), 1) == 1);
  CHECK(settled_value(plugin.metrics_url(), op("delete_snapshot", "success"), 2) == 2);
  CHECK(settled_value(plugin.metrics_url(),
                      "rds_csi_volume_operation_duration_seconds_count{operation=\"snapshot\"}", 5)
        == 5);
  expect_clean_stop(plugin);
}

TEST_CASE("a long copy runs aside: the same snapshot again is ABORTED, other volumes go on") {
  temp_dir dir;
  pid_t sim_pid = -1;
  // 16 MiB at 4 MiB/s: the copy takes about four seconds.
  auto url = start_rds_sim(dir, {"--copy-rate=4194304"}, sim_pid);
  REQUIRE_FALSE(url.empty());
  plugin_process plugin{rds_sim_flags(dir, url)};
  csi_client client{plugin.endpoint()};
  controller_calls calls{client};
  ::csi::v1::Volume source;
  REQUIRE(client.create_volume("pvc-big", 16 * mib, volume_access::rwo, {}, source).ok());
  ::csi::v1::Snapshot first_snapshot;
  auto first = std::async(std::launch::async, [&] {
    return calls.snapshot("snapshot-slow", source.volume_id(), first_snapshot);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  ::csi::v1::Snapshot ignored;
  auto again = calls.snapshot("snapshot-slow", source.volume_id(), ignored);
  CHECK(again.error_code() == grpc::StatusCode::ABORTED);
  // Provisioning is not held up by the copy.
  ::csi::v1::Volume other;
  REQUIRE(client.create_volume("pvc-meanwhile", mib, volume_access::rwo, {}, other).ok());
  CHECK(first.wait_for(std::chrono::seconds{0}) != std::future_status::ready);
  REQUIRE(first.get().ok());
  CHECK(first_snapshot.ready_to_use());
  ::csi::v1::Snapshot done;
  REQUIRE(calls.snapshot("snapshot-slow", source.volume_id(), done).ok());
  CHECK(done.snapshot_id() == first_snapshot.snapshot_id());
  expect_clean_stop(plugin);
  CHECK(stop_process(sim_pid, std::chrono::seconds{5}) == 0);
}
