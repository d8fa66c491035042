// The plugin the way a live cluster uses it: the plugin runs first, and Nodes, volumes,
// PersistentVolumes and VolumeAttachments appear while it runs, written exactly as the
// external-provisioner, the attach/detach controller and the external-attacher write them —
// also in unusual orders (a VolumeAttachment before its PersistentVolume, a PersistentVolume
// deleted while attached), by the thousand, and across an apiserver restart.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <rapidjson/document.h>

#include "integration/clean_stop.hpp"
#include "integration/external_attacher.hpp"
#include "client/kube_cluster.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/client.hpp"

using namespace rds;
using namespace rds::test;
using namespace rds::test::series;
using namespace std::chrono_literals;

namespace {

const std::string va_path = "/apis/storage.k8s.io/v1/volumeattachments/";
const std::string pv_path = "/api/v1/persistentvolumes/";

/// CreateVolume through the running plugin, as the external-provisioner calls it.
std::string create_volume(csi_client& client, const std::string& name, volume_access mode) {
  ::csi::v1::Volume volume;
  auto status = client.create_volume(name, int64_t{1} << 20, mode, {}, volume);
  return status.ok() ? volume.volume_id() : "";
}

/// The PV the external-provisioner writes for a volume it created.
void create_pv(services::kube::kube_client& api, const std::string& pv, const std::string& handle,
               bool rwx_block) {
  auto r =
    api_call(api, "POST", "/api/v1/persistentvolumes",
             kube_cluster::volume_json(pv, handle, rwx_block ? "ReadWriteMany" : "ReadWriteOnce",
                                       rwx_block ? "Block" : "Filesystem", "600"));
  if (!r.status.ok())
    throw std::runtime_error("create PersistentVolume " + pv + ": " + r.status.message);
}

using names = std::vector<std::string>;

names sorted(names v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// The nodes the plugin has the volume published to (ControllerGetVolume), sorted.
names published(csi_client& client, const std::string& volume) {
  names nodes;
  REQUIRE(client.published_nodes(volume, nodes).ok());
  return sorted(nodes);
}

/// Every VolumeAttachment in the apiserver, as PV name -> attached node names.
std::map<std::string, std::vector<std::string>> attachments_in(services::kube::kube_client& api) {
  auto r = api_call(api, "GET", "/apis/storage.k8s.io/v1/volumeattachments", "");
  REQUIRE(r.status.ok());
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  std::map<std::string, std::vector<std::string>> result;
  for (auto& item : doc["items"].GetArray()) {
    bool attached = item.HasMember("status") && item["status"].HasMember("attached")
                    && item["status"]["attached"].GetBool();
    if (attached && !item["metadata"].HasMember("deletionTimestamp"))
      result[item["spec"]["source"]["persistentVolumeName"].GetString()].push_back(
        item["spec"]["nodeName"].GetString());
  }
  return result;
}

bool exists(services::kube::kube_client& api, const std::string& path) {
  return api_call(api, "GET", path, "").status.ok();
}

std::string json_of(services::kube::kube_client& api, const std::string& path) {
  auto r = api_call(api, "GET", path, "");
  REQUIRE(r.status.ok());
  return r.body;
}

/// Waits (bounded) until `series` of the plugin reads `expected`; returns what it reads.
double settled(plugin_process& plugin, const std::string& series, double expected,
               std::chrono::seconds limit = 15s) {
  return settled_value(plugin.metrics_url(), series, expected, limit);
}

/// A clean cluster, then the plugin following it, ready; the objects come afterwards.
struct running_plugin {
  kube_cluster& k = cleared(kube_cluster::instance());
  plugin_process plugin{{"--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  services::kube::kube_client& api = k.admin();
  external_attacher attacher{api, client};

  running_plugin() { REQUIRE(client.wait_until_ready()); }

  static kube_cluster& cleared(kube_cluster& cluster) {
    cluster.clear();
    return cluster;
  }
};

} // namespace

TEST_CASE_FIXTURE(running_plugin, "live-cluster order: a volume provisioned, attached, migrated "
                                  "and detached while the plugin runs, with the "
                                  "external-attacher's exact writes") {

  // kubelet registers the nodes; the provisioner creates the volume and its PV.
  k.create_nodes({"node-a", "node-b"});
  auto handle = create_volume(client, "pvc-live", volume_access::rwx_block);
  REQUIRE(!handle.empty());
  create_pv(api, "pv-live", handle, true);

  // The attach/detach controller creates the VolumeAttachment: status.attached unset.
  attacher.create_attachment("pv-live", "node-a");
  CHECK(plugin.alive());
  CHECK(settled(plugin, attached, 0) == 0);
  // The attacher: finalizers and the node-id annotation, then the publish, then the status.
  attacher.add_finalizers("pv-live", "node-a");
  CHECK(json_of(api, pv_path + "pv-live").find(attacher.finalizer()) != std::string::npos);
  auto va = json_of(api, va_path + attachment_name("pv-live", "node-a"));
  CHECK(va.find(attacher.finalizer()) != std::string::npos);
  CHECK(va.find(R"("csi.alpha.kubernetes.io/node-id":"node-a")") != std::string::npos);
  std::map<std::string, std::string> context;
  REQUIRE(attacher.publish("pv-live", "node-a", context).ok());
  attacher.mark_attached("pv-live", "node-a", context);
  CHECK(settled(plugin, attached, 1) == 1);
  CHECK(settled(plugin, attach, 1) == 1);
  CHECK(published(client, handle) == names{"node-a"});

  // KubeVirt migrates the VM: a second VolumeAttachment, attached the same way.
  attacher.create_attachment("pv-live", "node-b");
  REQUIRE(attacher.attach("pv-live", "node-b").ok());
  CHECK(settled(plugin, active, 1) == 1);
  CHECK(settled(plugin, started, 1) == 1);

  // The source is detached: DELETE, and the finalizer keeps the object, being deleted.
  attacher.delete_attachment("pv-live", "node-a");
  auto deleting = json_of(api, va_path + attachment_name("pv-live", "node-a"));
  CHECK(deleting.find("deletionTimestamp") != std::string::npos);
  // The plugin sees the deletion start and keeps both nodes until the unpublish.
  std::this_thread::sleep_for(300ms);
  CHECK(published(client, handle) == names{"node-a", "node-b"});
  REQUIRE(attacher.unpublish("pv-live", "node-a").ok());
  attacher.remove_finalizer("pv-live", "node-a");
  CHECK_FALSE(exists(api, va_path + attachment_name("pv-live", "node-a")));
  CHECK(settled(plugin, success, 1) == 1);
  CHECK(settled(plugin, active, 0) == 0);
  CHECK(published(client, handle) == names{"node-b"});

  // The VM stops: the last VolumeAttachment goes the same way.
  REQUIRE(attacher.detach("pv-live", "node-b").ok());
  CHECK_FALSE(exists(api, va_path + attachment_name("pv-live", "node-b")));
  CHECK(settled(plugin, attached, 0) == 0);
  CHECK(settled(plugin, detach, 1) == 1);
  // Every change came through CSI: nothing was followed, nothing counted twice.
  auto text = http_get(plugin.metrics_url());
  CHECK(metric_value(text, follow_attach) == 0);
  CHECK(metric_value(text, follow_detach) == 0);
  CHECK(metric_value(text, failed) == 0);
  CHECK(metric_value(text, started) == 1);
  // (The PV was written first, but its watch and the VolumeAttachments' are separate streams:
  // the join may still have seen the VolumeAttachment first, and waited a moment.)
  CHECK(settled(plugin, waiting_for_pv, 0) == 0);
  expect_clean_stop(plugin);
}

TEST_CASE_FIXTURE(running_plugin,
                  "a VolumeAttachment before its PersistentVolume waits for it; a "
                  "PersistentVolume deleted while attached is counted and its attachments stay "
                  "the truth") {
  k.create_nodes({"node-a"});
  auto early = create_volume(client, "pvc-early", volume_access::rwo);
  auto other = create_volume(client, "pvc-other", volume_access::rwo);
  REQUIRE(!early.empty());
  REQUIRE(!other.empty());

  // A VolumeAttachment naming a PV that does not exist yet, marked attached by another
  // controller replica: the plugin cannot know its volume, and waits.
  attacher.create_attachment("pv-early", "node-a");
  REQUIRE(api_call(api, "PATCH", va_path + attachment_name("pv-early", "node-a") + "/status",
                   R"({"status":{"attached":true}})")
            .status.ok());
  CHECK(settled(plugin, waiting_for_pv, 1) == 1);
  // (At least this one; pv-other below may wait a moment too: its PV and VolumeAttachment come
  // on separate watches.)
  CHECK(settled(plugin, pv_waits, 1) >= 1);
  CHECK(settled(plugin, attached, 0) == 0);
  // It holds up nothing else: another volume attaches the usual way meanwhile.
  create_pv(api, "pv-other", other, false);
  attacher.create_attachment("pv-other", "node-a");
  REQUIRE(attacher.attach("pv-other", "node-a").ok());
  CHECK(settled(plugin, attached, 1) == 1);
  // The PV arrives: the waiting VolumeAttachment applies.
  create_pv(api, "pv-early", early, false);
  CHECK(settled(plugin, waiting_for_pv, 0) == 0);
  CHECK(settled(plugin, attached, 2) == 2);
  CHECK(settled(plugin, follow_attach, 1) == 1);
  CHECK(published(client, early) == names{"node-a"});

  // A PV deleted while attached: its finalizer keeps it (nothing changes) ...
  attacher.add_finalizers("pv-early", "node-a");
  REQUIRE(api_call(api, "DELETE", pv_path + "pv-early", "").status.ok());
  CHECK(json_of(api, pv_path + "pv-early").find("deletionTimestamp") != std::string::npos);
  std::this_thread::sleep_for(300ms);
  CHECK(metric_value(http_get(plugin.metrics_url()), pv_deleted) == 0);
  // ... until an operator removes the finalizers by hand: the PV is gone, attachments remain.
  REQUIRE(api_call(api, "PATCH", pv_path + "pv-early", R"({"metadata":{"finalizers":null}})")
            .status.ok());
  CHECK(settled(plugin, pv_deleted, 1) == 1);
  CHECK(plugin.alive());
  CHECK(published(client, early) == names{"node-a"});
  // The VolumeAttachment is detached without the plugin (another replica did the unpublish):
  // the plugin still knows which volume it was and follows.
  attacher.delete_attachment("pv-early", "node-a");
  attacher.remove_finalizer("pv-early", "node-a");
  CHECK(settled(plugin, follow_detach, 1) == 1);
  CHECK(settled(plugin, attached, 1) == 1);
  CHECK(published(client, early).empty());
  REQUIRE(attacher.detach("pv-other", "node-a").ok());
  CHECK(settled(plugin, attached, 0) == 0);
  CHECK(metric_value(http_get(plugin.metrics_url()), pv_waits) >= 1);
  expect_clean_stop(plugin);
}

TEST_CASE("1,000 volumes provisioned and attached while the plugin runs, with migrations and an "
          "apiserver restart in the middle: the plugin stays up and agrees with the objects") {
  auto& k = kube_cluster::instance();
  k.clear();
  const std::vector<std::string> node_names{"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"};
  plugin_process plugin{{"--kubeconfig=" + k.kubeconfig("admin-token"), "--kube-timeout=5"}};
  csi_client ready_client{plugin.endpoint()};
  REQUIRE(ready_client.wait_until_ready());
  k.create_nodes({"n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"});

  constexpr int volumes = 1000;
  constexpr int workers = 4;
  // What the objects will say, counted by the workers as they write them.
  std::atomic<int> done{0}, csi_attaches{0}, followed_attaches{0}, migrations{0}, successes{0},
    rollbacks{0}, in_flight{0}, early{0};
  std::atomic<bool> failing{false};
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  std::map<std::string, std::string> handles; // PV name -> volume id
  services::kube::kube_config admin_config;
  REQUIRE(services::kube::load_kubeconfig(k.kubeconfig("admin-token"), admin_config).ok());
  auto work = [&](int worker) {
    services::kube::kube_client api{admin_config};
    csi_client client{plugin.endpoint()};
    external_attacher attacher{api, client};
    for (int i = worker; i < volumes && !failing; i += workers) {
      auto pv = "pv-" + std::to_string(i);
      auto rwx = i % 5 == 0;
      auto& source = node_names[i % node_names.size()];
      auto& target = node_names[(i + 1) % node_names.size()];
      try {
        auto handle = create_volume(client, "pvc-" + std::to_string(i),
                                    rwx ? volume_access::rwx_block : volume_access::rwo);
        if (handle.empty())
          throw std::runtime_error("CreateVolume of " + pv + " failed");
        {
          std::lock_guard<std::mutex> lock{errors_mutex};
          handles[pv] = handle;
        }
        if (i % 10 == 3) { // the VolumeAttachment first, its PV a moment later
          attacher.create_attachment(pv, source);
          create_pv(api, pv, handle, rwx);
          ++early;
        } else {
          create_pv(api, pv, handle, rwx);
          attacher.create_attachment(pv, source);
        }
        if (!rwx && i % 7 == 1) { // attached by another controller replica
          attacher.attach_elsewhere(pv, source);
          ++followed_attaches;
        } else {
          auto status = attacher.attach(pv, source);
          if (!status.ok())
            throw std::runtime_error("attach of " + pv + ": " + status.error_message());
          ++csi_attaches;
        }
        if (rwx) {
          attacher.create_attachment(pv, target);
          auto status = attacher.attach(pv, target);
          if (!status.ok())
            throw std::runtime_error("migration of " + pv + ": " + status.error_message());
          ++migrations;
          switch ((i / 5) % 3) {
          case 0:
            status = attacher.detach(pv, source);
            ++successes;
            break;
          case 1:
            status = attacher.detach(pv, target);
            ++rollbacks;
            break;
          default:
            ++in_flight;
          }
          if (!status.ok())
            throw std::runtime_error("detach of " + pv + ": " + status.error_message());
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock{errors_mutex};
        errors.push_back(e.what());
        failing = true; // the first error is the story; stop writing
      }
      ++done;
    }
  };
  auto begin = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back(work, w);
  // The apiserver dies and comes back in the middle of it: every watch breaks.
  while (done < volumes / 2 && !failing && std::chrono::steady_clock::now() - begin < 300s)
    std::this_thread::sleep_for(20ms);
  k.restart_apiserver();
  for (auto& t : threads)
    t.join();
  MESSAGE("1,000 volumes with ", migrations.load(), " migrations written in ",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count(), " s");
  for (size_t i = 0; i < errors.size() && i < 5; ++i)
    FAIL_CHECK(errors[i]);
  REQUIRE(errors.empty());
  CHECK(plugin.alive());

  // The plugin's state equals what the objects say, volume by volume.
  auto expected = attachments_in(k.admin());
  REQUIRE(expected.size() == static_cast<size_t>(volumes));
  size_t two = 0;
  for (auto& [pv, nodes] : expected)
    two += nodes.size() == 2 ? 1 : 0;
  CHECK(two == static_cast<size_t>(in_flight.load()));
  CHECK(settled(plugin, attached, volumes, 60s) == volumes);
  CHECK(settled(plugin, active, in_flight, 30s) == in_flight);
  size_t disagreements = 0;
  for (auto& [pv, nodes] : expected) {
    auto has = published(ready_client, handles.at(pv));
    if (has != sorted(nodes) && ++disagreements <= 5)
      FAIL_CHECK(pv << ": the plugin has " << has.size() << " nodes, Kubernetes " << nodes.size());
  }
  CHECK(disagreements == 0);
  // And so do its metrics: every migration counted once, with its result.
  auto text = http_get(plugin.metrics_url());
  CHECK(metric_value(text, started) == migrations);
  CHECK(metric_value(text, success) == successes);
  CHECK(metric_value(text, failed) == rollbacks);
  CHECK(metric_value(text, timeout) == 0);
  CHECK(metric_value(text, attach) == csi_attaches);
  CHECK(metric_value(text, follow_attach) == followed_attaches);
  CHECK(metric_value(text, follow_detach) == 0);
  CHECK(settled(plugin, waiting_for_pv, 0) == 0);
  // How many VolumeAttachments the plugin saw before their PV depends on the two watches'
  // timing (those written first, and those whose PV came while the PV watch relisted after the
  // restart); none waits any more.
  MESSAGE("VolumeAttachments seen before their PersistentVolume: ", metric_value(text, pv_waits),
          " (", early.load(), " written first)");
  CHECK(metric_value(text, pv_waits) <= volumes + migrations);
  CHECK(metric_value(text, pv_deleted) == 0);
  CHECK(metric_value(text, relists) >= 1);
  CHECK(metric_value(text, pv_relists) >= 1);
  CHECK(metric_value(text, anomalies) == 0);
  expect_clean_stop(plugin);
}
