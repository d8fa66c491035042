// The node plugin for real, as root: `rds-csi-plugin --mode=all` against its embedded RDS
// simulator, NVMe/TCP stood in by loop devices over the simulator's disk files with a laid-out
// sysfs tree, real ext4 and xfs filesystems, real mounts, and raw block devices.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "integration/clean_stop.hpp"
#include "integration/client.hpp"
#include "integration/metric_expectations.hpp"
#include "messages/volume_context.hpp"
#include "services/mount/mounts.hpp"
#include "services/nvme/connector.hpp"
#include "services/nvme/sysfs.hpp"

using namespace rds::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// REQUIRE that a call succeeded, printing its error message when it did not.
#define REQUIRE_OK(call)                                                                           \
  do {                                                                                             \
    auto status_ = (call);                                                                         \
    INFO(status_.error_message());                                                                 \
    REQUIRE(status_.ok());                                                                         \
  } while (false)

namespace {

constexpr int64_t mib = int64_t{1} << 20;
const std::string nqn_base{rds::volume_nqn_prefix};

::csi::v1::VolumeCapability mount_capability(const std::string& fs_type,
                                             std::vector<std::string> flags = {}) {
  ::csi::v1::VolumeCapability c;
  c.mutable_access_mode()->set_mode(::csi::v1::VolumeCapability::AccessMode::SINGLE_NODE_WRITER);
  c.mutable_mount()->set_fs_type(fs_type);
  for (auto& f : flags)
    c.mutable_mount()->add_mount_flags(f);
  return c;
}

::csi::v1::VolumeCapability block_capability() {
  return csi_client::capability(volume_access::rwx_block);
}

size_t mounts_at(const std::string& path) {
  size_t n = 0;
  for (auto& m : rds::services::mount::read_mountinfo())
    n += m.mount_point == path;
  return n;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::string text;
  std::getline(in, text);
  return text;
}

/// A plugin running controller and node, with its kubelet directory and its own RDS simulator.
struct node_host {
  temp_dir dir;
  std::string kubelet = dir.path() + "/kubelet";
  std::string sim = dir.path() + "/sim";
  std::unique_ptr<plugin_process> plugin;
  std::unique_ptr<csi_client> client;

  explicit node_host(std::vector<std::string> extra = {}) {
    fs::create_directories(kubelet + "/plugins/kubernetes.io/csi/staging");
    fs::create_directories(kubelet + "/pods");
    std::vector<std::string> flags{"--mode=all", "--node-id=node-a", "--kubelet-dir=" + kubelet,
                                   "--rds-sim-data-dir=" + sim};
    flags.insert(flags.end(), extra.begin(), extra.end());
    plugin = std::make_unique<plugin_process>(flags);
    client = std::make_unique<csi_client>(plugin->endpoint());
  }

  ~node_host() {
    // Whatever a failed test left mounted or attached goes away with it.
    for (auto& m : rds::services::mount::read_mountinfo())
      if (m.mount_point.rfind(kubelet, 0) == 0)
        rds::services::mount::detach_mount(m.mount_point);
    loops().disconnect_all();
  }

  struct loop_access {
    rds::services::nvme::loop_connector connector;
    std::string root;
    void disconnect_all() {
      std::error_code ec;
      for (auto& e : fs::directory_iterator(root + "/class/nvme", ec))
        connector.disconnect(rds::services::nvme::read_attribute(e.path().string() + "/subsysnqn"));
    }
  };

  /// The loop connector's view of this plugin's tree, for faults the node would see.
  loop_access loops() {
    rds::services::nvme::loop_config c;
    c.sysfs_root = sim + "/sysfs";
    c.pool_dir = sim + "/raid10";
    return {rds::services::nvme::loop_connector{c}, c.sysfs_root};
  }

  std::string staging(const std::string& id) {
    return kubelet + "/plugins/kubernetes.io/csi/staging/" + id;
  }
  std::string target(const std::string& id) {
    fs::create_directories(kubelet + "/pods/pod-1/volumes");
    return kubelet + "/pods/pod-1/volumes/" + id;
  }

  ::csi::v1::Volume create(const std::string& name, int64_t bytes) {
    ::csi::v1::Volume v;
    REQUIRE(client->create_volume(name, bytes, volume_access::rwo, {}, v).ok());
    REQUIRE(client->publish(v.volume_id(), "node-a", volume_access::rwo).ok());
    return v;
  }

  grpc::Status stage(const ::csi::v1::Volume& v, const ::csi::v1::VolumeCapability& cap,
                     const std::string& staging_path = "") {
    ::csi::v1::NodeStageVolumeRequest req;
    req.set_volume_id(v.volume_id());
    req.set_staging_target_path(staging_path.empty() ? staging(v.volume_id()) : staging_path);
    if (staging_path.empty())
      fs::create_directories(req.staging_target_path()); // kubelet makes it

    *req.mutable_volume_capability() = cap;
    *req.mutable_volume_context() = v.volume_context();
    ::csi::v1::NodeStageVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client->node().NodeStageVolume(&ctx, req, &resp);
  }

  grpc::Status unstage(const std::string& id) {
    ::csi::v1::NodeUnstageVolumeRequest req;
    req.set_volume_id(id);
    req.set_staging_target_path(staging(id));
    ::csi::v1::NodeUnstageVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client->node().NodeUnstageVolume(&ctx, req, &resp);
  }

  grpc::Status publish(const std::string& id, const ::csi::v1::VolumeCapability& cap,
                       bool readonly = false, const std::string& target_path = "") {
    ::csi::v1::NodePublishVolumeRequest req;
    req.set_volume_id(id);
    req.set_staging_target_path(staging(id));
    req.set_target_path(target_path.empty() ? target(id) : target_path);
    req.set_readonly(readonly);
    *req.mutable_volume_capability() = cap;
    ::csi::v1::NodePublishVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client->node().NodePublishVolume(&ctx, req, &resp);
  }

  grpc::Status unpublish(const std::string& id, const std::string& target_path = "") {
    ::csi::v1::NodeUnpublishVolumeRequest req;
    req.set_volume_id(id);
    req.set_target_path(target_path.empty() ? target(id) : target_path);
    ::csi::v1::NodeUnpublishVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client->node().NodeUnpublishVolume(&ctx, req, &resp);
  }

  grpc::Status stats(const std::string& id, const std::string& path,
                     ::csi::v1::NodeGetVolumeStatsResponse& resp) {
    ::csi::v1::NodeGetVolumeStatsRequest req;
    req.set_volume_id(id);
    req.set_volume_path(path);
    resp.Clear();
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return client->node().NodeGetVolumeStats(&ctx, req, &resp);
  }

  double metric(const std::string& series, double expected) {
    return settled_value(plugin->metrics_url(), series, expected);
  }
};

std::string mount_ops(const std::string& operation, const std::string& status = "success") {
  return "rds_csi_mount_operations_total{operation=\"" + operation + "\",status=\"" + status
         + "\"}";
}

std::string node_ops(const std::string& operation, const std::string& status = "success") {
  return "rds_csi_volume_operations_total{operation=\"" + operation + "\",status=\"" + status
         + "\"}";
}

} // namespace

TEST_CASE("without a cluster, --mode=all: the only node that exists is the one it serves") {
  node_host host;
  ::csi::v1::Volume v;
  REQUIRE(host.client->create_volume("pvc-nodes", 1 << 20, volume_access::rwo, {}, v).ok());
  auto elsewhere = host.client->publish(v.volume_id(), "node-x", volume_access::rwo);
  CHECK(elsewhere.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(elsewhere.error_message().find("node-x") != std::string::npos);
  CHECK(host.client->publish(v.volume_id(), "node-a", volume_access::rwo).ok());
  CHECK(host.client->unpublish(v.volume_id(), "node-a").ok());
  expect_clean_stop(*host.plugin);
}

TEST_CASE("ext4 and xfs: stage, publish, write, unpublish, unstage; staging again keeps the data") {
  node_host host;
  int round = 0;
  for (std::string fs_type : {"ext4", "xfs"}) {
    CAPTURE(fs_type);
    ++round;
    // xfs needs 300 MiB at least; the files are sparse.
    auto v = host.create("pvc-fs-" + fs_type, fs_type == "xfs" ? 320 * mib : 64 * mib);
    auto id = v.volume_id();
    auto cap = mount_capability(fs_type, {"noatime"});
    REQUIRE_OK(host.stage(v, cap));
    REQUIRE_OK(host.stage(v, cap)); // again: success, no second mount
    CHECK(mounts_at(host.staging(id)) == 1);
    auto staged = rds::services::mount::mount_at(host.staging(id));
    REQUIRE(staged);
    CHECK(staged->fs_type == fs_type);
    CHECK(staged->options.find("noatime") != std::string::npos);

    REQUIRE_OK(host.publish(id, cap));
    REQUIRE_OK(host.publish(id, cap));
    CHECK(mounts_at(host.target(id)) == 1);
    CHECK(host.publish(id, cap, true).error_code() == grpc::StatusCode::ALREADY_EXISTS);
    std::ofstream{host.target(id) + "/hello"} << "written through " << fs_type << "\n";
    // A second, read-only publish sees the data and cannot write.
    auto readonly_target = host.target(id) + "-ro";
    REQUIRE_OK(host.publish(id, cap, true, readonly_target));
    CHECK(read_file(readonly_target + "/hello") == "written through " + fs_type);
    bool writable = static_cast<bool>(std::ofstream{readonly_target + "/nope"});
    CHECK_FALSE(writable);
    REQUIRE_OK(host.unpublish(id, readonly_target));

    ::csi::v1::NodeGetVolumeStatsResponse stats;
    REQUIRE_OK(host.stats(id, host.target(id), stats));
    REQUIRE(stats.usage_size() == 2);
    CHECK(stats.usage(0).unit() == ::csi::v1::VolumeUsage::BYTES);
    CHECK(stats.usage(0).total() > 0);
    CHECK(stats.usage(0).total() <= (fs_type == "xfs" ? 320 : 64) * mib);
    CHECK(stats.usage(1).unit() == ::csi::v1::VolumeUsage::INODES);
    CHECK(stats.usage(1).used() > 0);
    CHECK_FALSE(stats.volume_condition().abnormal());

    auto early = host.unstage(id); // still published: nothing changes
    CHECK(early.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(mounts_at(host.staging(id)) == 1);
    REQUIRE_OK(host.unpublish(id));
    CHECK_FALSE(fs::exists(host.target(id))); // removed with rmdir
    REQUIRE_OK(host.unpublish(id));
    REQUIRE_OK(host.unstage(id));
    CHECK(mounts_at(host.staging(id)) == 0);
    CHECK(rds::services::nvme::controllers_of(host.sim + "/sysfs", nqn_base + id).empty());
    REQUIRE_OK(host.unstage(id));

    // Staged again: the filesystem is found and mounted, not formatted again.
    REQUIRE_OK(host.stage(v, cap));
    CHECK(read_file(host.staging(id) + "/hello") == "written through " + fs_type);
    REQUIRE_OK(host.unstage(id));
    CHECK(host.metric(mount_ops("format"), round) == round);
  }
  CHECK(host.metric(mount_ops("mount"), 4) == 4);
  CHECK(host.metric(mount_ops("bind"), 4) == 4);
  CHECK(host.metric(mount_ops("unmount"), 8) == 8);
  CHECK(host.metric("rds_csi_nvme_connects_total{status=\"success\"}", 4) == 4);
  CHECK(host.metric("rds_csi_nvme_connects_total{status=\"reused\"}", 2) == 2);
  CHECK(host.metric("rds_csi_nvme_connect_duration_seconds_count", 6) == 6);
  CHECK(host.metric("rds_csi_nvme_connections_active", 0) == 0);
  CHECK(host.metric(node_ops("stage"), 6) == 6);
  CHECK(host.metric(node_ops("unstage"), 6) == 6);
  CHECK(host.metric(node_ops("unstage", "failed_precondition"), 2) == 2);
  CHECK(host.metric(node_ops("publish"), 6) == 6);
  CHECK(host.metric(node_ops("unpublish"), 6) == 6);
  expect_clean_stop(*host.plugin);
}

TEST_CASE("raw block: the device node is placed at the target, reads and writes reach the disk") {
  node_host host;
  auto v = host.create("pvc-block", 16 * mib);
  auto id = v.volume_id();
  auto cap = block_capability();
  REQUIRE_OK(host.stage(v, cap));
  CHECK(host.metric("rds_csi_nvme_connections_active", 1) == 1);
  // As kubelet names it; the plugin makes the parent directory.
  auto target = host.kubelet + "/plugins/kubernetes.io/csi/volumeDevices/publish/" + id + "/pod-1";
  REQUIRE_OK(host.publish(id, cap, false, target));
  REQUIRE_OK(host.publish(id, cap, false, target));
  struct stat st {};
  REQUIRE(::stat(target.c_str(), &st) == 0);
  CHECK(S_ISBLK(st.st_mode));
  CHECK(mounts_at(target) == 0); // a device node, not a bind mount of /dev
  {
    std::string block(4096, 'k');
    int fd = ::open(target.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    CHECK(::pwrite(fd, block.data(), block.size(), 8 * mib) == 4096);
    CHECK(::fsync(fd) == 0);
    std::string back(4096, '\0');
    CHECK(::pread(fd, back.data(), back.size(), 8 * mib) == 4096);
    CHECK(back == block);
    ::close(fd);
  }
  // The bytes are in the RDS's disk file.
  std::ifstream disk{host.sim + "/raid10/" + id + ".img", std::ios::binary};
  disk.seekg(8 * mib);
  std::string on_disk(4096, '\0');
  disk.read(on_disk.data(), 4096);
  CHECK(on_disk == std::string(4096, 'k'));

  ::csi::v1::NodeGetVolumeStatsResponse stats;
  REQUIRE_OK(host.stats(id, target, stats));
  REQUIRE(stats.usage_size() == 1);
  CHECK(stats.usage(0).total() == 16 * mib);
  CHECK_FALSE(stats.volume_condition().abnormal());

  // Still published: unstage changes nothing and says why.
  auto early = host.unstage(id);
  CHECK(early.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(early.error_message().find(target) != std::string::npos);
  CHECK(host.metric("rds_csi_nvme_connections_active", 1) == 1);
  REQUIRE_OK(host.unpublish(id, target));
  CHECK_FALSE(fs::exists(target));
  REQUIRE_OK(host.unstage(id));
  CHECK(host.metric("rds_csi_nvme_connections_active", 0) == 0);
  CHECK(host.metric(mount_ops("mknod"), 1) == 1);
  CHECK(host.metric(mount_ops("format"), 0) == 0);
  expect_clean_stop(*host.plugin);
}

namespace {

/// Whether this process may resize a mounted ext4 (the kernel wants CAP_SYS_RESOURCE, which
/// some sandboxes drop; xfs_growfs needs CAP_SYS_ADMIN only).
bool may_resize_ext4_online() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("CapEff:", 0) == 0)
      return (std::stoull(line.substr(7), nullptr, 16) >> 24 & 1) != 0;
  return false;
}

} // namespace

TEST_CASE("expansion: ControllerExpandVolume, then NodeExpandVolume grows the filesystem") {
  node_host host;
  for (std::string fs_type : {"xfs", "ext4"}) {
    CAPTURE(fs_type);
    auto v = host.create("pvc-grow-" + fs_type, 320 * mib);
    auto id = v.volume_id();
    auto cap = mount_capability(fs_type);
    REQUIRE_OK(host.stage(v, cap));
    REQUIRE_OK(host.publish(id, cap));
    ::csi::v1::NodeGetVolumeStatsResponse before;
    REQUIRE_OK(host.stats(id, host.target(id), before));
    {
      ::csi::v1::ControllerExpandVolumeRequest req;
      req.set_volume_id(id);
      req.mutable_capacity_range()->set_required_bytes(640 * mib);
      *req.mutable_volume_capability() = cap;
      ::csi::v1::ControllerExpandVolumeResponse resp;
      grpc::ClientContext ctx;
      set_deadline(ctx);
      REQUIRE(host.client->controller().ControllerExpandVolume(&ctx, req, &resp).ok());
      CHECK(resp.node_expansion_required());
    }
    ::csi::v1::NodeExpandVolumeRequest req;
    req.set_volume_id(id);
    req.set_volume_path(host.target(id));
    req.mutable_capacity_range()->set_required_bytes(640 * mib);
    ::csi::v1::NodeExpandVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    auto grown = host.client->node().NodeExpandVolume(&ctx, req, &resp);
    if (fs_type == "ext4" && !may_resize_ext4_online()) {
      // This machine does not let root resize a mounted ext4: the failure is reported as such.
      CHECK(grown.error_code() == grpc::StatusCode::INTERNAL);
      CHECK(grown.error_message().find("resize2fs") != std::string::npos);
    } else {
      REQUIRE_OK(grown);
      CHECK(resp.capacity_bytes() == 640 * mib);
      ::csi::v1::NodeGetVolumeStatsResponse after;
      REQUIRE_OK(host.stats(id, host.target(id), after));
      CHECK(after.usage(0).total() > before.usage(0).total() + 250 * mib);
    }
    REQUIRE_OK(host.unpublish(id));
    REQUIRE_OK(host.unstage(id));
  }
  CHECK(host.metric(mount_ops("grow"), 1) >= 1);
  expect_clean_stop(*host.plugin);
}

TEST_CASE("a controller renumbered by a reconnect: the stale mounts are found and recovered") {
  node_host host;
  auto v = host.create("pvc-renumber", 64 * mib);
  auto id = v.volume_id();
  auto cap = mount_capability("ext4");
  REQUIRE_OK(host.stage(v, cap));
  REQUIRE_OK(host.publish(id, cap));
  std::ofstream{host.target(id) + "/before"} << "before the reset\n";
  ::sync();
  auto old_device = rds::services::nvme::resolve_device(host.sim + "/sysfs", nqn_base + id);
  REQUIRE(old_device);
  REQUIRE(host.loops().connector.renumber(nqn_base + id).ok());
  auto new_device = rds::services::nvme::resolve_device(host.sim + "/sysfs", nqn_base + id);
  REQUIRE(new_device);
  CHECK(new_device->dev_path != old_device->dev_path);
  CHECK(new_device->controller != old_device->controller);

  // kubelet's periodic stats call finds the stale mounts and recovers them.
  ::csi::v1::NodeGetVolumeStatsResponse stats;
  REQUIRE_OK(host.stats(id, host.target(id), stats));
  CHECK_FALSE(stats.volume_condition().abnormal());
  CHECK(host.metric("rds_csi_stale_mounts_detected_total", 1) == 1);
  CHECK(host.metric("rds_csi_stale_recoveries_total{status=\"success\"}", 1) == 1);
  auto staged = rds::services::mount::mount_at(host.staging(id));
  REQUIRE(staged);
  CHECK(staged->major == new_device->major);
  CHECK(staged->minor == new_device->minor);
  auto published = rds::services::mount::mount_at(host.target(id));
  REQUIRE(published);
  CHECK(published->minor == new_device->minor);
  CHECK(read_file(host.target(id) + "/before") == "before the reset");
  // Publishing again is a no-op now; then everything comes apart cleanly.
  REQUIRE_OK(host.publish(id, cap));
  REQUIRE_OK(host.unpublish(id));
  REQUIRE_OK(host.unstage(id));
  expect_clean_stop(*host.plugin);
}

TEST_CASE("a device that goes away reports an abnormal volume condition") {
  node_host host;
  auto v = host.create("pvc-gone", 64 * mib);
  auto id = v.volume_id();
  auto cap = mount_capability("ext4");
  REQUIRE_OK(host.stage(v, cap));
  REQUIRE_OK(host.publish(id, cap));
  REQUIRE(host.loops().connector.set_state(nqn_base + id, "connecting").ok());
  ::csi::v1::NodeGetVolumeStatsResponse stats;
  REQUIRE_OK(host.stats(id, host.target(id), stats));
  CHECK(stats.volume_condition().abnormal());
  CHECK(stats.volume_condition().message().find("connecting") != std::string::npos);
  REQUIRE(host.loops().connector.set_state(nqn_base + id, "live").ok());
  REQUIRE_OK(host.stats(id, host.target(id), stats));
  CHECK_FALSE(stats.volume_condition().abnormal());
  // The subsystem goes away altogether (the loop device lingers while it is mounted).
  REQUIRE(host.loops().connector.disconnect(nqn_base + id).ok());
  REQUIRE_OK(host.stats(id, host.target(id), stats));
  CHECK(stats.volume_condition().abnormal());
  CHECK(stats.volume_condition().message().find("not connected") != std::string::npos);
  REQUIRE_OK(host.unpublish(id));
  REQUIRE_OK(host.unstage(id));
  expect_clean_stop(*host.plugin);
}

TEST_CASE("blkid that cannot tell means no format; concurrent calls on a volume are ABORTED") {
  temp_dir tools;
  auto broken = tools.path() + "/blkid-broken";
  std::ofstream{broken} << "#!/bin/sh\necho 'blkid: cannot read the device' >&2\nexit 4\n";
  ::chmod(broken.c_str(), 0755);
  {
    node_host host{{"--blkid=" + broken}};
    auto v = host.create("pvc-unsure", 64 * mib);
    auto staged = host.stage(v, mount_capability("ext4"));
    CHECK(staged.error_code() == grpc::StatusCode::INTERNAL);
    CHECK(staged.error_message().find("not formatted") != std::string::npos);
    // Not a byte was written to the disk.
    struct stat st {};
    REQUIRE(::stat((host.sim + "/raid10/" + v.volume_id() + ".img").c_str(), &st) == 0);
    CHECK(st.st_blocks == 0);
    CHECK(host.metric(mount_ops("format"), 0) == 0);
    CHECK(host.metric(node_ops("stage", "internal"), 1) == 1);
    CHECK(host.unstage(v.volume_id()).ok());
    expect_clean_stop(*host.plugin);
  }
  auto slow = tools.path() + "/blkid-slow";
  std::ofstream{slow} << "#!/bin/sh\nsleep 2\nexec blkid \"$@\"\n";
  ::chmod(slow.c_str(), 0755);
  node_host host{{"--blkid=" + slow}};
  auto v = host.create("pvc-busy", 64 * mib);
  auto cap = mount_capability("ext4");
  auto first = std::async(std::launch::async, [&] { return host.stage(v, cap); });
  std::this_thread::sleep_for(500ms);
  auto second = host.stage(v, cap);
  CHECK(second.error_code() == grpc::StatusCode::ABORTED);
  CHECK(first.get().ok());
  CHECK(host.metric(node_ops("stage", "aborted"), 1) == 1);
  REQUIRE_OK(host.unstage(v.volume_id()));
  expect_clean_stop(*host.plugin);
}

TEST_CASE("hostile paths are refused; node info and capabilities") {
  node_host host;
  auto v = host.create("pvc-paths", 64 * mib);
  auto cap = mount_capability("ext4");
  auto code = [&](const std::string& staging) { return host.stage(v, cap, staging).error_code(); };
  CHECK(code("/tmp/outside") == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(code(host.kubelet + "/plugins/../../../etc") == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(code(host.kubelet) == grpc::StatusCode::INVALID_ARGUMENT);
  fs::create_directories(host.dir.path() + "/elsewhere");
  fs::create_symlink(host.dir.path() + "/elsewhere", host.kubelet + "/plugins/link");
  CHECK(code(host.kubelet + "/plugins/link/x") == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(host.unpublish(v.volume_id(), "/etc").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(host.publish(v.volume_id(), cap, false, host.kubelet + "/pods/../../x").error_code()
        == grpc::StatusCode::INVALID_ARGUMENT);
  // A context that names another volume's NQN, or a host name instead of an IP.
  auto other = v;
  (*other.mutable_volume_context())["nqn"] = nqn_base + "csi-0123456789abcdef0123456789ab";
  CHECK(host.stage(other, cap).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  other = v;
  (*other.mutable_volume_context())["nvmeAddress"] = "rds.example.org";
  CHECK(host.stage(other, cap).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(host.stage(v, mount_capability("ext4", {"exec"})).error_code()
        == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(fs::is_empty(host.dir.path() + "/elsewhere"));
  CHECK(host.metric("rds_csi_nvme_connect_duration_seconds_count", 0) == 0);

  ::csi::v1::NodeGetInfoResponse info;
  {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    REQUIRE(host.client->node().NodeGetInfo(&ctx, {}, &info).ok());
  }
  CHECK(info.node_id() == "node-a");
  ::csi::v1::NodeGetCapabilitiesResponse caps;
  {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    REQUIRE(host.client->node().NodeGetCapabilities(&ctx, {}, &caps).ok());
  }
  using rpc = ::csi::v1::NodeServiceCapability::RPC;
  std::vector<int> offered;
  for (auto& c : caps.capabilities())
    offered.push_back(c.rpc().type());
  CHECK(offered
        == std::vector<int>{rpc::STAGE_UNSTAGE_VOLUME, rpc::GET_VOLUME_STATS, rpc::EXPAND_VOLUME,
                            rpc::VOLUME_CONDITION});
  expect_clean_stop(*host.plugin);
}

TEST_CASE("never a disconnect outside the managed prefix; never a recursive removal") {
  node_host host{{"--managed-nqn-prefix=nqn.2014-08.org.example:host-disks-"}};
  auto v = host.create("pvc-guard", 64 * mib);
  auto id = v.volume_id();
  auto cap = mount_capability("ext4");
  REQUIRE_OK(host.stage(v, cap));
  REQUIRE_OK(host.unstage(id));
  // Unmounted, but the subsystem is not this driver's to disconnect under that prefix.
  CHECK(mounts_at(host.staging(id)) == 0);
  CHECK(rds::services::nvme::controllers_of(host.sim + "/sysfs", nqn_base + id).size() == 1);

  // A target that is not a mount and holds files: unpublish leaves every file in place.
  auto target = host.target(id);
  fs::create_directories(target + "/data");
  std::ofstream{target + "/data/precious"} << "keep me\n";
  auto refused = host.unpublish(id);
  CHECK(refused.error_code() == grpc::StatusCode::INTERNAL);
  CHECK(refused.error_message().find("never removed recursively") != std::string::npos);
  CHECK(read_file(target + "/data/precious") == "keep me");
  expect_clean_stop(*host.plugin);
}

namespace {

grpc::Status expand_on_node(node_host& host, const std::string& id, const std::string& path) {
  ::csi::v1::NodeExpandVolumeRequest req;
  req.set_volume_id(id);
  req.set_volume_path(path);
  ::csi::v1::NodeExpandVolumeResponse resp;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  return host.client->node().NodeExpandVolume(&ctx, req, &resp);
}

} // namespace

TEST_CASE("stats and expand: NOT_FOUND where the volume is not, wherever the path is") {
  node_host host;
  auto v = host.create("pvc-here", 64 * mib);
  auto w = host.create("pvc-there", 64 * mib);
  auto cap = mount_capability("ext4");
  for (auto* volume : {&v, &w}) {
    REQUIRE_OK(host.stage(*volume, cap));
    REQUIRE_OK(host.publish(volume->volume_id(), cap));
  }
  auto id = v.volume_id();
  ::csi::v1::NodeGetVolumeStatsResponse stats;
  REQUIRE_OK(host.stats(id, host.target(id), stats));
  REQUIRE_OK(host.stats(id, host.staging(id), stats));
  auto empty_dir = host.kubelet + "/pods/pod-1/volumes/nothing-here";
  fs::create_directories(empty_dir);
  auto outside = host.dir.path() + "/outside";
  fs::create_directories(outside);
  for (auto& path : {host.target(w.volume_id()), host.staging(w.volume_id()), empty_dir,
                     host.kubelet + "/pods/pod-1/volumes/missing", std::string{"/"},
                     std::string{"/proc"}, outside, std::string{"/etc/hostname"}}) {
    CAPTURE(path);
    CHECK(host.stats(id, path, stats).error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(expand_on_node(host, id, path).error_code() == grpc::StatusCode::NOT_FOUND);
  }
  // A volume this node does not have, at a path where another volume is.
  CHECK(host.stats("pvc-never-staged", host.target(id), stats).error_code()
        == grpc::StatusCode::NOT_FOUND);
  CHECK(expand_on_node(host, "pvc-never-staged", host.target(id)).error_code()
        == grpc::StatusCode::NOT_FOUND);
  // Not a path at all: a bad request.
  for (auto& path : {std::string{}, std::string{"relative/path"}}) {
    CHECK(host.stats(id, path, stats).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(expand_on_node(host, id, path).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  // Nothing was recovered or grown on the way.
  CHECK(host.metric("rds_csi_stale_mounts_detected_total", 0) == 0);
  CHECK(host.metric(mount_ops("grow"), 0) == 0);
  REQUIRE_OK(host.stats(id, host.target(id), stats));
  CHECK_FALSE(stats.volume_condition().abnormal());
  for (auto* volume : {&v, &w}) {
    REQUIRE_OK(host.unpublish(volume->volume_id()));
    REQUIRE_OK(host.unstage(volume->volume_id()));
  }
  expect_clean_stop(*host.plugin);
}

TEST_CASE("PUBLISH_READONLY: recorded with the attachment, honoured by the node") {
  node_host host;
  ::csi::v1::ControllerGetCapabilitiesResponse caps;
  {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    REQUIRE_OK(host.client->controller().ControllerGetCapabilities(&ctx, {}, &caps));
  }
  bool offered = false;
  for (auto& c : caps.capabilities())
    offered |= c.rpc().type() == ::csi::v1::ControllerServiceCapability::RPC::PUBLISH_READONLY;
  CHECK(offered);

  ::csi::v1::Volume v;
  REQUIRE_OK(host.client->create_volume("pvc-readonly", 64 * mib, volume_access::rwo, {}, v));
  auto id = v.volume_id();
  auto cap = mount_capability("ext4");
  auto controller_publish = [&](bool readonly, ::csi::v1::ControllerPublishVolumeResponse& resp) {
    ::csi::v1::ControllerPublishVolumeRequest req;
    req.set_volume_id(id);
    req.set_node_id("node-a");
    req.set_readonly(readonly);
    *req.mutable_volume_capability() = cap;
    *req.mutable_volume_context() = v.volume_context();
    resp.Clear();
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return host.client->controller().ControllerPublishVolume(&ctx, req, &resp);
  };
  ::csi::v1::ControllerPublishVolumeResponse published;
  REQUIRE_OK(controller_publish(true, published));
  CHECK(published.publish_context().at("readonly") == "true");
  ::csi::v1::ControllerPublishVolumeResponse again;
  REQUIRE_OK(controller_publish(true, again));
  CHECK(again.publish_context().at("readonly") == "true");
  // Read-write to the same node is another attachment: incompatible.
  CHECK(controller_publish(false, again).error_code() == grpc::StatusCode::ALREADY_EXISTS);

  // The staging mount is read-write (the filesystem is made and its journal replayed there);
  // the publish is read-only because the controller recorded it so, even when NodePublish's own
  // flag says nothing.
  REQUIRE_OK(host.stage(v, cap));
  ::csi::v1::NodePublishVolumeRequest req;
  req.set_volume_id(id);
  req.set_staging_target_path(host.staging(id));
  req.set_target_path(host.target(id));
  *req.mutable_volume_capability() = cap;
  *req.mutable_publish_context() = published.publish_context();
  {
    ::csi::v1::NodePublishVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    REQUIRE_OK(host.client->node().NodePublishVolume(&ctx, req, &resp));
  }
  auto mounted = rds::services::mount::mount_at(host.target(id));
  REQUIRE(mounted);
  CHECK(mounted->options.rfind("ro", 0) == 0);
  auto file = host.target(id) + "/written";
  auto fd = ::open(file.c_str(), O_CREAT | O_WRONLY, 0644);
  auto error = errno;
  CHECK(fd < 0);
  CHECK(error == EROFS);
  if (fd >= 0)
    ::close(fd);
  // The same publish again is a no-op; a read-write one at the same target is refused.
  {
    ::csi::v1::NodePublishVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    REQUIRE_OK(host.client->node().NodePublishVolume(&ctx, req, &resp));
  }
  req.clear_publish_context();
  {
    ::csi::v1::NodePublishVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    CHECK(host.client->node().NodePublishVolume(&ctx, req, &resp).error_code()
          == grpc::StatusCode::ALREADY_EXISTS);
  }
  CHECK(mounts_at(host.target(id)) == 1);
  REQUIRE_OK(host.unpublish(id));
  REQUIRE_OK(host.unstage(id));
  REQUIRE_OK(host.client->unpublish(id, "node-a"));
  expect_clean_stop(*host.plugin);
}
