// The inspection port through the real binary, continued: /debug/node of a node plugin (as root:
// NVMe/TCP stood in by loop devices over the disk files of a controller's embedded RDS, a real
// filesystem and real mounts) field by field while a stage is in flight and after each step; no
// secret in any endpoint's answer (the cluster's bearer token, the RDS password, the port's
// token, CreateVolume, ControllerPublish and NodeStage secrets); every singleton's own mailbox.
#include <doctest/doctest.h>

#include <curl/curl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "client/kube_cluster.hpp"
#include "integration/clean_stop.hpp"
#include "integration/client.hpp"
#include "services/mount/mounts.hpp"
#include "services/nvme/connector.hpp"
#include "services/nvme/sysfs.hpp"

using namespace rds::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct answer {
  long code = 0;
  std::string body;
  std::string content_type;
};

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

/// GET with libcurl; `headers` are whole header lines; `limit` bounds a stream.
answer fetch(const std::string& url, const std::vector<std::string>& headers = {},
             std::chrono::milliseconds limit = 10s) {
  answer a;
  CURL* curl = curl_easy_init();
  REQUIRE(curl != nullptr);
  curl_slist* list = nullptr;
  for (auto& h : headers)
    list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(limit.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.code);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr)
    a.content_type = type;
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return a;
}

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  INFO(json);
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  return doc;
}

rapidjson::Document get_json(const std::string& url, const std::vector<std::string>& headers = {}) {
  auto a = fetch(url, headers);
  INFO(url, " answered ", a.code, ": ", a.body);
  REQUIRE(a.code == 200);
  CHECK(a.content_type == "application/json");
  return parse(a.body);
}

std::string str(const rapidjson::Value& v, const char* key) {
  INFO(key);
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return v[key].GetString();
}

std::vector<std::string> strings(const rapidjson::Value& v, const char* key) {
  INFO(key);
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsArray());
  std::vector<std::string> out;
  for (auto& s : v[key].GetArray())
    out.emplace_back(s.GetString());
  std::sort(out.begin(), out.end());
  return out;
}

/// "2026-12-01T02:44:46.123Z"
bool rfc3339(const std::string& t) {
  return t.size() == 24 && t[4] == '-' && t[10] == 'T' && t[19] == '.' && t.back() == 'Z';
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

/// The node supervisor's status in a /debug/node answer.
const rapidjson::Value& node_status(const rapidjson::Document& doc) {
  auto* s = singleton(doc, "node", "node_supervisor");
  REQUIRE(s != nullptr);
  REQUIRE((*s)["answered"].GetBool());
  CHECK((*s)["took_ms"].GetDouble() < 500);
  REQUIRE((*s)["status"].IsObject());
  return (*s)["status"];
}

/// Polls /debug/node until `done` holds for the node supervisor's status (bounded).
template <class Done>
rapidjson::Document poll_node(const std::string& base, Done done,
                              std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  auto doc = get_json(base + "/debug/node");
  while (!done(node_status(doc)) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    doc = get_json(base + "/debug/node");
  }
  return doc;
}

/// Every answer of the port at `base` to `paths`, as JSON and as HTML (for a stream: what came
/// within a second).
std::vector<std::pair<std::string, std::string>>
every_answer(const std::string& base, const std::vector<std::string>& paths,
             const std::vector<std::string>& auth) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& path : paths)
    for (bool html : {false, true}) {
      auto headers = auth;
      if (html)
        headers.push_back("Accept: text/html");
      auto stream = path.rfind("/debug/stream", 0) == 0;
      auto a = fetch(base + path, headers, stream ? 1s : 10s);
      CAPTURE(path);
      CHECK(!a.body.empty());
      if (!html && !stream && path != "/")
        parse(a.body);
      out.emplace_back(path + (html ? " (html)" : ""), a.body);
    }
  return out;
}

void check_no_secret(const std::vector<std::pair<std::string, std::string>>& answers,
                     const std::vector<std::string>& secrets) {
  for (auto& [what, body] : answers)
    for (auto& secret : secrets) {
      CAPTURE(what);
      CAPTURE(secret);
      CHECK(body.find(secret) == std::string::npos);
    }
}

/// A node's kubelet directory over the simulator's files in `sim`; whatever a failed test left
/// mounted or attached goes away with it.
struct kubelet_dir {
  std::string root;
  std::string sim;
  kubelet_dir(const std::string& path, const std::string& sim_dir)
    : root(path)
    , sim(sim_dir) {
    fs::create_directories(root + "/plugins/kubernetes.io/csi/staging");
    fs::create_directories(root + "/pods/pod-1/volumes");
  }
  ~kubelet_dir() {
    for (auto& m : rds::services::mount::read_mountinfo())
      if (m.mount_point.rfind(root, 0) == 0)
        rds::services::mount::detach_mount(m.mount_point);
    rds::services::nvme::loop_config c;
    c.sysfs_root = sim + "/sysfs";
    c.pool_dir = sim + "/raid10";
    rds::services::nvme::loop_connector loops{c};
    std::error_code ec;
    for (auto& e : fs::directory_iterator(c.sysfs_root + "/class/nvme", ec))
      loops.disconnect(rds::services::nvme::read_attribute(e.path().string() + "/subsysnqn"));
  }
  std::string staging(const std::string& id) const {
    return root + "/plugins/kubernetes.io/csi/staging/" + id;
  }
  std::string target(const std::string& id, const std::string& name) const {
    return root + "/pods/pod-1/volumes/" + id + "-" + name;
  }
};

::csi::v1::VolumeCapability ext4_capability() {
  ::csi::v1::VolumeCapability c;
  c.mutable_access_mode()->set_mode(::csi::v1::VolumeCapability::AccessMode::SINGLE_NODE_WRITER);
  c.mutable_mount()->set_fs_type("ext4");
  return c;
}

size_t mounts_at(const std::string& path) {
  size_t n = 0;
  for (auto& m : rds::services::mount::read_mountinfo())
    n += m.mount_point == path;
  return n;
}

} // namespace

TEST_CASE("inspection port on a node plugin: each staged volume, its device, mounts and the "
          "operation in flight") {
  temp_dir dir;
  auto sim = dir.path() + "/sim";
  kubelet_dir kubelet{dir.path() + "/kubelet", sim};
  // The controller creates the volume on its embedded RDS; the node plugin attaches that RDS's
  // disk file of the volume through a loop device (the loop connector, as with the simulator).
  plugin_process controller{{"--rds-sim-data-dir=" + sim}};
  csi_client control{controller.endpoint()};
  ::csi::v1::Volume v;
  REQUIRE(control.create_volume("pvc-node-debug", 64 << 20, volume_access::rwo, {}, v).ok());
  REQUIRE(control.publish(v.volume_id(), "node-a", volume_access::rwo).ok());
  auto id = v.volume_id();

  // blkid takes a second: the stage is seen in flight.
  auto slow_blkid = dir.path() + "/blkid-slow";
  std::ofstream{slow_blkid} << "#!/bin/sh\nsleep 1\nexec blkid \"$@\"\n";
  ::chmod(slow_blkid.c_str(), 0755);
  plugin_process node{{"--mode=node", "--node-id=node-a", "--kubelet-dir=" + kubelet.root,
                       "--rds-sim-data-dir=" + sim, "--blkid=" + slow_blkid}};
  auto base = node.debug_url();
  REQUIRE(!base.empty());
  csi_client csi{node.endpoint()};

  auto before = get_json(base + "/debug/node");
  CHECK(get_json(base + "/debug/node")["timeout_ms"].GetUint64() == 500);
  CHECK(node_status(before)["volume_count"].GetUint64() == 0);
  CHECK(node_status(before)["volumes"].Size() == 0);

  // NodeStageVolume, with a stage secret that must never show.
  const std::string stage_secret = "stage-secret-9d41c07e";
  fs::create_directories(kubelet.staging(id));
  auto staged = std::async(std::launch::async, [&] {
    ::csi::v1::NodeStageVolumeRequest req;
    req.set_volume_id(id);
    req.set_staging_target_path(kubelet.staging(id));
    *req.mutable_volume_capability() = ext4_capability();
    *req.mutable_volume_context() = v.volume_context();
    (*req.mutable_secrets())["password"] = stage_secret;
    ::csi::v1::NodeStageVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return csi.node().NodeStageVolume(&ctx, req, &resp);
  });
  std::string device_in_flight;
  auto in_flight = poll_node(base, [](const rapidjson::Value& s) {
    return s["volumes"].Size() == 1 && std::string{s["volumes"][0]["operation"].GetString()} != "";
  });
  {
    auto& s = node_status(in_flight);
    CHECK(s["volume_count"].GetUint64() == 1);
    REQUIRE(s["volumes"].Size() == 1);
    auto& vol = s["volumes"][0];
    CHECK(str(vol, "volume_id") == id);
    CHECK(str(vol, "operation") == "stage");
    CHECK(rfc3339(str(vol, "operation_since")));
    // The device shows as soon as the connect found it, before the (slow) filesystem check.
    device_in_flight = str(vol, "device");
    CHECK((device_in_flight.empty() || device_in_flight.rfind("/dev/", 0) == 0));
    CHECK(str(vol, "staging_path") == ""); // not staged yet
    CHECK(strings(vol, "targets").empty());
    CHECK(str(vol, "last_operation") == "");
    CHECK(str(vol, "last_result") == "");
  }
  auto actors = get_json(base + "/debug/actors");
  CHECK(kind_count(actors, "node_supervisor") == 1);
  CHECK(kind_count(actors, "node_volume") == 1);
  CHECK(kind_count(actors, "volume") == 0);
  REQUIRE(actors["restarts"].IsObject());
  CHECK_FALSE(actors["restarts"].HasMember("volume")); // no volume actors on a node
  {
    auto* s = singleton(actors, "singletons", "node_supervisor");
    REQUIRE(s != nullptr);
    CHECK((*s)["answered"].GetBool());
    CHECK((*s)["mailbox"].IsUint64());
  }
  {
    auto status = staged.get();
    INFO(status.error_message());
    REQUIRE(status.ok());
  }

  // Staged: the device (the one mounted at the staging path), the staging path, no operation.
  auto done = get_json(base + "/debug/node");
  std::string device;
  {
    auto& s = node_status(done);
    CHECK(s["volume_count"].GetUint64() == 1);
    REQUIRE(s["volumes"].Size() == 1);
    auto& vol = s["volumes"][0];
    CHECK(str(vol, "volume_id") == id);
    CHECK(str(vol, "operation") == "");
    CHECK(str(vol, "operation_since") == "");
    device = str(vol, "device");
    CHECK(str(vol, "staging_path") == kubelet.staging(id));
    CHECK(strings(vol, "targets").empty());
    CHECK(str(vol, "last_operation") == "stage");
    CHECK(str(vol, "last_result") == "none");
  }
  CAPTURE(device);
  if (!device_in_flight.empty())
    CHECK(device == device_in_flight);
  struct stat st {};
  REQUIRE(::stat(device.c_str(), &st) == 0);
  CHECK(S_ISBLK(st.st_mode));
  auto staging_mount = rds::services::mount::mount_at(kubelet.staging(id));
  REQUIRE(staging_mount);
  CHECK(staging_mount->fs_type == "ext4");
  CHECK(staging_mount->major == major(st.st_rdev));
  CHECK(staging_mount->minor == minor(st.st_rdev));

  // Published at two targets (one read-only): both are its mounts.
  auto publish = [&](const std::string& target, bool readonly) {
    ::csi::v1::NodePublishVolumeRequest req;
    req.set_volume_id(id);
    req.set_staging_target_path(kubelet.staging(id));
    req.set_target_path(target);
    req.set_readonly(readonly);
    *req.mutable_volume_capability() = ext4_capability();
    (*req.mutable_secrets())["password"] = stage_secret;
    ::csi::v1::NodePublishVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return csi.node().NodePublishVolume(&ctx, req, &resp);
  };
  auto unpublish = [&](const std::string& target) {
    ::csi::v1::NodeUnpublishVolumeRequest req;
    req.set_volume_id(id);
    req.set_target_path(target);
    ::csi::v1::NodeUnpublishVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    return csi.node().NodeUnpublishVolume(&ctx, req, &resp);
  };
  auto pod = kubelet.target(id, "pod");
  auto reader = kubelet.target(id, "reader");
  REQUIRE(publish(pod, false).ok());
  REQUIRE(publish(reader, true).ok());
  CHECK(mounts_at(pod) == 1);
  CHECK(mounts_at(reader) == 1);
  auto published = get_json(base + "/debug/node");
  {
    auto& vol = node_status(published)["volumes"][0];
    CHECK(str(vol, "device") == device);
    CHECK(str(vol, "staging_path") == kubelet.staging(id));
    auto expected = std::vector<std::string>{pod, reader};
    std::sort(expected.begin(), expected.end());
    CHECK(strings(vol, "targets") == expected);
    CHECK(str(vol, "operation") == "");
    CHECK(str(vol, "last_operation") == "publish");
    CHECK(str(vol, "last_result") == "none");
  }

  // No secret in any answer of a node plugin, JSON or HTML; the controller's endpoints are not
  // served here.
  check_no_secret(every_answer(base,
                               {"/", "/debug/actors", "/debug/node", "/debug/volumes",
                                "/debug/volumes/" + id, "/debug/stream?after=0"},
                               {}),
                  {stage_secret});

  // A refused unstage (still published) is its last result; then each step's.
  {
    ::csi::v1::NodeUnstageVolumeRequest req;
    req.set_volume_id(id);
    req.set_staging_target_path(kubelet.staging(id));
    ::csi::v1::NodeUnstageVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    CHECK(csi.node().NodeUnstageVolume(&ctx, req, &resp).error_code()
          == grpc::StatusCode::FAILED_PRECONDITION);
  }
  auto refused = get_json(base + "/debug/node");
  {
    auto& vol = node_status(refused)["volumes"][0];
    CHECK(str(vol, "last_operation") == "unstage");
    CHECK(str(vol, "last_result") == "failed_precondition");
    CHECK(str(vol, "staging_path") == kubelet.staging(id)); // nothing changed
    CHECK(strings(vol, "targets").size() == 2);
  }
  REQUIRE(unpublish(reader).ok());
  {
    auto one = get_json(base + "/debug/node");
    auto& vol = node_status(one)["volumes"][0];
    CHECK(strings(vol, "targets") == std::vector<std::string>{pod});
    CHECK(str(vol, "last_operation") == "unpublish");
  }
  REQUIRE(unpublish(pod).ok());
  {
    ::csi::v1::NodeUnstageVolumeRequest req;
    req.set_volume_id(id);
    req.set_staging_target_path(kubelet.staging(id));
    ::csi::v1::NodeUnstageVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    auto status = csi.node().NodeUnstageVolume(&ctx, req, &resp);
    INFO(status.error_message());
    REQUIRE(status.ok());
  }
  CHECK(mounts_at(kubelet.staging(id)) == 0);
  auto unstaged = get_json(base + "/debug/node");
  {
    auto& s = node_status(unstaged);
    REQUIRE(s["volumes"].Size() == 1);
    auto& vol = s["volumes"][0];
    CHECK(str(vol, "volume_id") == id);
    CHECK(str(vol, "device") == "");
    CHECK(str(vol, "staging_path") == "");
    CHECK(strings(vol, "targets").empty());
    CHECK(str(vol, "operation") == "");
    CHECK(str(vol, "last_operation") == "unstage");
    CHECK(str(vol, "last_result") == "none");
  }
  expect_clean_stop(node);
  expect_clean_stop(controller);
}

TEST_CASE("a bad --test-fault value is refused with the flag's name") {
  for (std::string bad : {"bogus", "crash-volume:", "slow-status:supervisor:x"}) {
    CAPTURE(bad);
    std::string out;
    CHECK(run_plugin({"--test-fault=" + bad}, out) == 2);
    CHECK(out.find("rds-csi-plugin: --test-fault: ") != std::string::npos);
    CHECK(out.find("(got '" + bad + "')") != std::string::npos);
  }
}

TEST_CASE("inspection port: no secret in any endpoint's answer, with a cluster, an RDS password, "
          "the port's token and CSI secrets") {
  auto& k = kube_cluster::instance();
  k.clear();
  k.create_nodes({"node-a", "node-b"});
  temp_dir dir;
  pid_t sim_pid = -1;
  auto url = start_rds_sim(dir, {}, sim_pid);
  REQUIRE(!url.empty());
  const std::string token = "port-token-3b8e61d2";
  std::ofstream{dir.path() + "/token"} << token << "\n";
  plugin_process plugin{
    rds_sim_flags(dir, url,
                  {"--kubeconfig=" + k.kubeconfig("admin-token"),
                   "--debug-token-file=" + dir.path() + "/token", "--migration-timeout-min=1"})};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  auto base = plugin.debug_url();
  const std::vector<std::string> auth{"Authorization: Bearer " + token};

  // CreateVolume and ControllerPublishVolume carry secrets, as the external-provisioner and
  // -attacher pass them from a StorageClass's secret references.
  const std::string create_secret = "create-secret-71f0a2c4";
  const std::string publish_secret = "publish-secret-c5d9e803";
  ::csi::v1::CreateVolumeRequest create;
  create.set_name("pvc-secrets");
  create.mutable_capacity_range()->set_required_bytes(1 << 20);
  *create.add_volume_capabilities() = csi_client::capability(volume_access::rwx_block);
  (*create.mutable_secrets())["password"] = create_secret;
  ::csi::v1::CreateVolumeResponse created;
  {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    auto status = client.controller().CreateVolume(&ctx, create, &created);
    INFO(status.error_message());
    REQUIRE(status.ok());
  }
  auto id = created.volume().volume_id();
  k.create_volume("pv-secrets", id, "ReadWriteMany", "Block", "60");
  for (auto node : {"node-a", "node-b"}) {
    ::csi::v1::ControllerPublishVolumeRequest req;
    req.set_volume_id(id);
    req.set_node_id(node);
    *req.mutable_volume_capability() = csi_client::capability(volume_access::rwx_block);
    *req.mutable_volume_context() = created.volume().volume_context();
    (*req.mutable_secrets())["password"] = publish_secret;
    ::csi::v1::ControllerPublishVolumeResponse resp;
    grpc::ClientContext ctx;
    set_deadline(ctx);
    auto status = client.controller().ControllerPublishVolume(&ctx, req, &resp);
    INFO(status.error_message());
    REQUIRE(status.ok());
    k.attach("pv-secrets", node);
  }
  // A VolumeAttachment whose PersistentVolume does not exist: the join shows it waiting.
  k.attach("pv-absent", "node-a", false);
  auto waiting = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < waiting) {
    auto watches = get_json(base + "/debug/watches", auth);
    auto* join = singleton(watches, "watches", "attachment_join");
    if (join != nullptr && (*join)["answered"].GetBool()
        && (*join)["status"]["waiting_attachments"].Size() == 1)
      break;
    std::this_thread::sleep_for(20ms);
  }
  // The volume's ring holds the CSI calls and the followed VolumeAttachments, each with its node.
  auto followed = [](const rapidjson::Document& d) {
    std::vector<std::string> out;
    for (auto& op : d["recent"].GetArray())
      if (std::string{op["kind"].GetString()} == "follow-attach")
        out.emplace_back(op["node_id"].GetString());
    return out;
  };
  auto v = get_json(base + "/debug/volumes/" + id, auth);
  auto ring_deadline = std::chrono::steady_clock::now() + 10s;
  while (followed(v).size() < 2 && std::chrono::steady_clock::now() < ring_deadline) {
    std::this_thread::sleep_for(20ms);
    v = get_json(base + "/debug/volumes/" + id, auth);
  }
  CHECK(v["migrating"].GetBool());
  CHECK(followed(v) == std::vector<std::string>{"node-a", "node-b"});
  REQUIRE(v["recent"].Size() >= 4);
  CHECK(str(v["recent"][0], "kind") == "publish");
  CHECK(str(v["recent"][0], "node_id") == "node-a");
  for (auto& op : v["recent"].GetArray()) {
    CHECK(str(op, "result") == "none");
    CHECK(op["duration_ms"].GetDouble() >= 0);
    CHECK(rfc3339(str(op, "at")));
  }

  // The cluster side's answers, field by field: the watches, the join, the supervisor, the
  // events actor and the metrics actor.
  auto watches = get_json(base + "/debug/watches", auth);
  CHECK(watches["timeout_ms"].GetUint64() == 500);
  const std::vector<std::pair<std::string, std::string>> resources{
    {"watch/volumeattachments", "/apis/storage.k8s.io/v1/volumeattachments"},
    {"watch/persistentvolumes", "/api/v1/persistentvolumes"},
    {"watch/nodes", "/api/v1/nodes"}};
  for (auto& [name, resource] : resources) {
    CAPTURE(name);
    auto* w = singleton(watches, "watches", name);
    REQUIRE(w != nullptr);
    CHECK(str(*w, "kind") == "cluster_watch");
    REQUIRE((*w)["answered"].GetBool());
    CHECK((*w)["mailbox"].IsUint64());
    auto& s = (*w)["status"];
    CHECK(str(s, "resource") == resource);
    CHECK(s["lists"].GetUint64() >= 1);
    CHECK(s["relists"].GetUint64() == 0);
    CHECK(s["failures"].GetUint64() == 0);
    CHECK_FALSE(str(s, "resource_version").empty());
    CHECK(str(s, "activity") == "watching");
    CHECK(rfc3339(str(s, "activity_since")));
    CHECK(str(s, "last_failure") == "");
    CHECK(str(s, "last_failure_at") == "");
    if (name == "watch/nodes") {
      CHECK(s["listed_objects"].GetUint64() == 2);
    } else {
      CHECK(s["events"].GetUint64() >= 1); // created after the list
      CHECK(rfc3339(str(s, "last_event")));
    }
  }
  auto* join = singleton(watches, "watches", "attachment_join");
  REQUIRE(join != nullptr);
  REQUIRE((*join)["answered"].GetBool());
  {
    auto& s = (*join)["status"];
    CHECK(s["persistent_volumes"].GetUint64() == 1);
    CHECK(s["attachments"].GetUint64() == 3);
    CHECK(s["waiting"].GetUint64() == 1);
    CHECK(strings(s, "waiting_for") == std::vector<std::string>{"pv-absent"});
    CHECK(s["deleted_while_attached"].GetUint64() == 0);
    CHECK(s["synced"].GetBool());
    REQUIRE(s["waiting_attachments"].Size() == 1);
    auto& va = s["waiting_attachments"][0];
    CHECK(str(va, "persistent_volume") == "pv-absent");
    CHECK(str(va, "node") == "node-a");
    CHECK(str(va, "name").find("pv-absent") != std::string::npos);
    CHECK(rfc3339(str(va, "created")));
  }
  auto actors = get_json(base + "/debug/actors", auth);
  CHECK(kind_count(actors, "cluster_watch") == 3);
  CHECK(kind_count(actors, "attachment_join") == 1);
  CHECK(kind_count(actors, "volume") == 1);
  {
    auto* supervisor = singleton(actors, "singletons", "volume_supervisor");
    REQUIRE(supervisor != nullptr);
    REQUIRE((*supervisor)["answered"].GetBool());
    auto& s = (*supervisor)["status"];
    CHECK(s["volume_actors"].GetUint64() == 1);
    CHECK(s["attached"].GetUint64() == 1);
    CHECK(s["migrating"].GetUint64() == 1);
    CHECK(s["restarts"].GetUint64() == 0);
    CHECK(s["in_flight"].GetUint64() == 0);
    CHECK(s["ready"].GetBool());
    CHECK(s["deferred"].GetUint64() == 0);
    CHECK(s["stale_ignored"].GetUint64() == 0);
    auto* events = singleton(actors, "singletons", "events");
    REQUIRE(events != nullptr);
    REQUIRE((*events)["answered"].GetBool());
    auto& e = (*events)["status"];
    CHECK(e["recorded"]["MigrationStarted"].GetUint64() == 1);
    CHECK(e["recorded"]["VolumeAttached"].GetUint64() == 1); // the second node started a migration
    CHECK(e["failed"].GetUint64() == 0);
    CHECK(str(e, "last_failure") == "");
    CHECK(e.HasMember("posted"));
    CHECK(e.HasMember("without_claim"));
    CHECK(e.HasMember("in_flight"));
    CHECK(e.HasMember("oldest_in_flight_since"));
    auto* metrics = singleton(actors, "singletons", "metrics");
    REQUIRE(metrics != nullptr);
    auto metrics_host = plugin.metrics_url().substr(7); // without http://
    CHECK(str((*metrics)["status"], "listen_address")
          == metrics_host.substr(0, metrics_host.find('/')));
    CHECK(str((*metrics)["status"], "error") == "");
  }

  auto answers =
    every_answer(base,
                 {"/", "/debug/actors", "/debug/volumes", "/debug/volumes/" + id,
                  "/debug/volumes?migrating=true&limit=1", "/debug/migrations", "/debug/watches",
                  "/debug/rds", "/debug/node", "/debug/nothing", "/debug/stream?after=0"},
                 auth);
  // Each answer is whole: the join's waiting VolumeAttachment and the stream's migration.
  for (auto& [what, body] : answers) {
    CAPTURE(what);
    if (what == "/debug/watches")
      CHECK(body.find("pv-absent") != std::string::npos);
    if (what == "/debug/stream?after=0")
      CHECK(body.find("event: migration_started") != std::string::npos);
  }
  check_no_secret(answers, {token, "admin-token", "sim-secret", create_secret, publish_secret});
  // Refused requests tell no more.
  check_no_secret(every_answer(base, {"/debug/actors", "/debug/stream"}, {}),
                  {token, "admin-token", "sim-secret", create_secret, publish_secret});
  expect_clean_stop(plugin);
  stop_process(sim_pid, 5s);
  k.clear();
}
