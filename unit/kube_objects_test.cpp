// Kubernetes objects, kubeconfig and the inventory the rebuild derives from them.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "messages/cluster_state.hpp"
#include "services/kube/attachment_inventory.hpp"
#include "services/kube/kube_client.hpp"
#include "services/kube/kube_config.hpp"
#include "services/kube/objects.hpp"

using namespace rds;
using namespace rds::services::kube;
using namespace std::chrono_literals;

namespace {

std::string attachment_json(const std::string& name, const std::string& pv, const std::string& node,
                            const std::string& created, bool attached = true,
                            const std::string& attacher = "rds.csi.srvlab.io") {
  return R"({"metadata":{"name":")" + name + R"(","resourceVersion":"7","creationTimestamp":")"
         + created + R"("},"spec":{"attacher":")" + attacher + R"(","nodeName":")" + node
         + R"(","source":{"persistentVolumeName":")" + pv + R"("}},"status":{"attached":)"
         + (attached ? "true" : "false") + "}}";
}

persistent_volume_object rwx_block_pv(const std::string& name, const std::string& handle) {
  persistent_volume_object pv;
  pv.name = name;
  pv.driver = "rds.csi.srvlab.io";
  pv.volume_handle = handle;
  pv.access_modes = {"ReadWriteMany"};
  pv.volume_mode = "Block";
  pv.volume_attributes = {{"migrationTimeoutSeconds", "120"}};
  return pv;
}

const std::string driver = "rds.csi.srvlab.io";

/// The inventory of `vas` with the PersistentVolumes of `pvs`, as the join builds it: from what
/// it keeps of each (their facts).
cluster_inventory inventory_of(const std::vector<const volume_attachment_object*>& vas,
                               const std::map<std::string, persistent_volume_object>& pvs,
                               const migration_policy& policy) {
  std::map<std::string, volume_facts> volumes;
  for (auto& [name, pv] : pvs)
    volumes.emplace(name, facts_of(pv, driver, policy));
  std::vector<attachment_facts> facts;
  facts.reserve(vas.size());
  std::vector<inventory_row> rows;
  for (auto* va : vas) {
    facts.push_back(facts_of(*va, driver));
    auto pv = volumes.find(va->pv_name);
    rows.push_back(
      {&va->pv_name, &va->node_name, &facts.back(), pv == volumes.end() ? nullptr : &pv->second});
  }
  return build_inventory(rows);
}

} // namespace

TEST_CASE("RFC 3339 timestamps") {
  caf::timestamp t;
  REQUIRE(parse_rfc3339("1970-01-01T00:01:40Z", t));
  CHECK(t.time_since_epoch() == std::chrono::seconds{100});
  REQUIRE(parse_rfc3339("1970-01-01T01:01:40.5+01:00", t));
  CHECK(t.time_since_epoch() == std::chrono::milliseconds{100500});
  CHECK_FALSE(parse_rfc3339("yesterday", t));
}

TEST_CASE("VolumeAttachment list with pagination fields") {
  auto json =
    R"({"kind":"VolumeAttachmentList","metadata":{"resourceVersion":"42","continue":"abc="},"items":[)"
    + attachment_json("va-1", "pv-1", "node-a", "2026-01-01T00:00:00Z") + ","
    + attachment_json("va-2", "pv-1", "node-b", "2026-01-01T00:00:10Z", false) + "]}";
  list_page<volume_attachment_object> page;
  REQUIRE(parse_volume_attachment_list(json, page).ok());
  CHECK(page.resource_version == "42");
  CHECK(page.continue_token == "abc=");
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[0].name == "va-1");
  CHECK(page.items[0].pv_name == "pv-1");
  CHECK(page.items[0].node_name == "node-a");
  CHECK(page.items[0].attached);
  CHECK_FALSE(page.items[1].attached);
  CHECK(parse_volume_attachment_list("{not json", page).code == ec::invalid_argument);
}

TEST_CASE("PersistentVolume fields") {
  auto json =
    R"({"type":"ADDED","object":{"metadata":{"name":"pv-1","resourceVersion":"12","annotations":{"rds.csi.srvlab.io/attached-node":"old"}},
    "spec":{"accessModes":["ReadWriteMany"],"volumeMode":"Block","claimRef":{"namespace":"vms","name":"disk"},
    "csi":{"driver":"rds.csi.srvlab.io","volumeHandle":"pvc-1","volumeAttributes":{"migrationTimeoutSeconds":"600"}}}}})";
  watch_event<persistent_volume_object> event;
  REQUIRE(parse_persistent_volume_event(json, event).ok());
  CHECK(event.type == watch_event_type::added);
  CHECK(event.resource_version == "12");
  auto pv = event.object;
  CHECK(pv.name == "pv-1");
  CHECK(pv.volume_handle == "pvc-1");
  CHECK(pv.claim_namespace == "vms");
  CHECK(pv.claim_name == "disk");
  CHECK(pv.volume_attributes.at("migrationTimeoutSeconds") == "600");
  auto cap = capability_of(pv);
  CHECK(cap.access == access_kind::multi_node_block);
  CHECK(cap.csi_mode == 5);
  CHECK(cap.block);
  pv.access_modes = {"ReadWriteOnce"};
  pv.volume_mode = "Filesystem";
  cap = capability_of(pv);
  CHECK(cap.access == access_kind::single_node);
  CHECK(cap.csi_mode == 1);
  CHECK_FALSE(cap.block);
  CHECK_FALSE(cap.readonly);
  // spec.csi.readOnly: the attacher publishes read-only, and the rebuild must agree.
  auto read_only = std::string{json};
  read_only.replace(read_only.find(R"("volumeHandle")"), 0, R"("readOnly":true,)");
  REQUIRE(parse_persistent_volume_event(read_only, event).ok());
  CHECK(event.object.read_only);
  CHECK(capability_of(event.object).readonly);
}

TEST_CASE("inventory: 0, 1, 2 and 3 attachments per volume") {
  std::map<std::string, persistent_volume_object> pvs{{"pv-0", rwx_block_pv("pv-0", "vol-0")},
                                                      {"pv-1", rwx_block_pv("pv-1", "vol-1")},
                                                      {"pv-2", rwx_block_pv("pv-2", "vol-2")},
                                                      {"pv-3", rwx_block_pv("pv-3", "vol-3")}};
  std::vector<volume_attachment_object> vas;
  auto add = [&](const std::string& pv, const std::string& node, int second, bool attached = true,
                 const std::string& attacher = "rds.csi.srvlab.io") {
    volume_attachment_object va;
    va.name = pv + "-" + node;
    va.pv_name = pv;
    va.node_name = node;
    va.attached = attached;
    va.attacher = attacher;
    va.created = caf::timestamp{std::chrono::seconds{second}};
    vas.push_back(va);
  };
  add("pv-0", "a", 1, false);                // not attached yet: no state
  add("pv-0", "b", 1, true, "other.driver"); // another driver's
  add("pv-1", "a", 5);
  add("pv-2", "b", 20);
  add("pv-2", "a", 10);
  add("pv-3", "a", 1);
  add("pv-3", "b", 2);
  add("pv-3", "c", 3);
  add("pv-missing", "a", 1); // no PV: skipped
  migration_policy policy;
  std::vector<const volume_attachment_object*> items;
  for (auto& va : vas)
    items.push_back(&va);
  auto inv = inventory_of(items, pvs, policy);
  REQUIRE(inv.volumes.size() == 4);
  // A VolumeAttachment not attached yet: no node, but remembered as pending.
  CHECK(inv.volumes[0].volume_id == "vol-0");
  CHECK(inv.volumes[0].nodes.empty());
  CHECK(inv.volumes[0].pending == std::vector<std::string>{"a"});
  inv.volumes.erase(inv.volumes.begin());
  CHECK(inv.volumes[0].volume_id == "vol-1");
  CHECK(inv.volumes[0].nodes.size() == 1);
  CHECK(inv.volumes[0].migration_timeout == 120s);
  CHECK(inv.volumes[1].volume_id == "vol-2");
  REQUIRE(inv.volumes[1].nodes.size() == 2);
  CHECK(inv.volumes[1].nodes[0].node_id == "a"); // oldest first
  CHECK(inv.volumes[2].nodes.size() == 3);
  CHECK(inv.anomalies == std::vector<std::string>{"vol-3"});

  // Two attachments: a migration since the newer one was created, on the actor clock.
  auto wall_now = caf::timestamp{std::chrono::seconds{50}};
  auto st = state_of(inv.volumes[1], caf::timespan{1000s}, wall_now);
  CHECK(st.migrating);
  CHECK(st.nodes[0].node_id == "a");
  CHECK(st.nodes[1].node_id == "b");
  CHECK(st.migration.started_at == caf::timespan{1000s - 30s});
  CHECK(st.migration.timeout == 120s);
  CHECK_FALSE(state_of(inv.volumes[0], caf::timespan{1000s}, wall_now).migrating);
  CHECK_FALSE(state_of(inv.volumes[2], caf::timespan{1000s}, wall_now).migrating);
}

TEST_CASE("inventory: two PersistentVolumes naming one volume are one volume") {
  // A copied manifest: pv-a and pv-b both name vol-1. The volume has one actor, so the
  // inventory holds it once, with the union of the attachments (each node once).
  std::map<std::string, persistent_volume_object> pvs{{"pv-a", rwx_block_pv("pv-a", "vol-1")},
                                                      {"pv-b", rwx_block_pv("pv-b", "vol-1")}};
  std::vector<volume_attachment_object> vas;
  auto add = [&](const std::string& pv, const std::string& node, int second, bool attached) {
    volume_attachment_object va;
    va.name = pv + "-" + node;
    va.pv_name = pv;
    va.node_name = node;
    va.attached = attached;
    va.attacher = "rds.csi.srvlab.io";
    va.created = caf::timestamp{std::chrono::seconds{second}};
    vas.push_back(va);
  };
  add("pv-a", "a", 5, true);
  add("pv-b", "a", 3, true);  // the same node through the other PV: once, since the earlier
  add("pv-b", "b", 7, false); // pending through one PV
  add("pv-a", "c", 9, false);
  add("pv-b", "c", 9, true); // pending through one, attached through the other: attached
  std::vector<const volume_attachment_object*> items;
  for (auto& va : vas)
    items.push_back(&va);
  auto inv = inventory_of(items, pvs, migration_policy{});
  REQUIRE(inv.volumes.size() == 1);
  auto& volume = inv.volumes[0];
  CHECK(volume.volume_id == "vol-1");
  REQUIRE(volume.nodes.size() == 2);
  CHECK(volume.nodes[0].node_id == "a");
  CHECK(volume.nodes[0].since == caf::timestamp{std::chrono::seconds{3}});
  CHECK(volume.nodes[1].node_id == "c");
  CHECK(volume.pending == std::vector<std::string>{"b"});
  CHECK(inv.anomalies.empty());
}

TEST_CASE("the publish time in status.attachmentMetadata orders two attachments created in the "
          "same second") {
  auto with_metadata = [](std::string va, const std::string& metadata) {
    va.replace(va.rfind("}}"), 0, R"(,"attachmentMetadata":)" + metadata);
    return va;
  };
  // The target's VolumeAttachment sorts first by name and has the same creation second.
  auto json = R"({"metadata":{"resourceVersion":"1"},"items":[)"
              + with_metadata(attachment_json("va-0", "pv-1", "node-b", "2026-01-01T00:00:07Z"),
                              R"({"rds.csi.srvlab.io/publishedAt":"1767225607900000000"})")
              + ","
              + with_metadata(attachment_json("va-1", "pv-1", "node-a", "2026-01-01T00:00:07Z"),
                              R"({"rds.csi.srvlab.io/publishedAt":"1767225607100000000",)"
                              R"("readonly":"true"})")
              + "]}";
  list_page<volume_attachment_object> page;
  REQUIRE(parse_volume_attachment_list(json, page).ok());
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[1].published_at.time_since_epoch()
        == std::chrono::nanoseconds{1767225607100000000});
  CHECK(attached_since(facts_of(page.items[1], driver)) == page.items[1].published_at);
  std::map<std::string, persistent_volume_object> pvs{{"pv-1", rwx_block_pv("pv-1", "vol-1")}};
  migration_policy policy;
  auto inv = inventory_of({&page.items[0], &page.items[1]}, pvs, policy);
  REQUIRE(inv.volumes.size() == 1);
  REQUIRE(inv.volumes[0].nodes.size() == 2);
  CHECK(inv.volumes[0].nodes[0].node_id == "node-a"); // the source: published first
  CHECK(inv.volumes[0].nodes[1].node_id == "node-b");
  // The migration started when the target's publish was asked, to the nanosecond.
  auto st = state_of(inv.volumes[0], caf::timespan{1000s},
                     caf::timestamp{std::chrono::nanoseconds{1767225608000000000}});
  CHECK(st.migrating);
  CHECK(st.migration.started_at == caf::timespan{1000s} - 100ms);

  // Absent, malformed or not a number: the creation time, as before.
  for (auto metadata : {R"({})", R"({"rds.csi.srvlab.io/publishedAt":"soon"})",
                        R"({"rds.csi.srvlab.io/publishedAt":"-5"})", R"("text")", "null"}) {
    CAPTURE(metadata);
    auto one =
      R"({"metadata":{"resourceVersion":"1"},"items":[)"
      + with_metadata(attachment_json("va-0", "pv-1", "node-b", "2026-01-01T00:00:07Z"), metadata)
      + "]}";
    REQUIRE(parse_volume_attachment_list(one, page).ok());
    CHECK(page.items[0].published_at == caf::timestamp{});
    CHECK(attached_since(facts_of(page.items[0], driver)) == page.items[0].created);
  }
}

TEST_CASE("kubeconfig: token, client certificate, relative files") {
  char dir[] = "/tmp/rds-csi-kubeconfig-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string d = dir;
  std::ofstream{d + "/ca.pem"} << "CA-PEM";
  std::ofstream{d + "/config"} << R"(apiVersion: v1
kind: Config
current-context: test
contexts:
- name: other
  context: {cluster: nowhere, user: nobody}
- name: test
  context: {cluster: local, user: driver}
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority: ca.pem
users:
- name: driver
  user:
    token: secret-token
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
)";
  kube_config cfg;
  auto r = load_kubeconfig(d + "/config", cfg);
  REQUIRE(r.ok());
  CHECK(cfg.server == "https://127.0.0.1:6443");
  CHECK(cfg.ca_pem == "CA-PEM");
  CHECK(cfg.token == "secret-token");
  CHECK(cfg.client_cert_pem == "CERT");
  CHECK(cfg.client_key_pem == "KEY");
  std::ofstream{d + "/plain"} << "current-context: x\nclusters: []\n";
  CHECK(load_kubeconfig(d + "/plain", cfg).code == ec::invalid_argument);
  CHECK(load_kubeconfig(d + "/missing", cfg).code == ec::invalid_argument);
  std::remove((d + "/ca.pem").c_str());
  std::remove((d + "/config").c_str());
  std::remove((d + "/plain").c_str());
  std::remove(d.c_str());
}

TEST_CASE("in-cluster configuration") {
  char dir[] = "/tmp/rds-csi-account-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string d = dir;
  std::ofstream{d + "/ca.crt"} << "CLUSTER-CA";
  std::ofstream{d + "/token"} << "sa-token\n";
  ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  kube_config cfg;
  REQUIRE(in_cluster_config(cfg, d).ok());
  CHECK(cfg.server == "https://10.96.0.1:443");
  CHECK(cfg.ca_pem == "CLUSTER-CA");
  CHECK(cfg.token_file == d + "/token");
  ::setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  REQUIRE(in_cluster_config(cfg, d).ok());
  CHECK(cfg.server == "https://[fd00::1]:443");
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  CHECK(in_cluster_config(cfg, d).code == ec::unavailable);
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  std::remove((d + "/ca.crt").c_str());
  std::remove((d + "/token").c_str());
  std::remove(d.c_str());
}

TEST_CASE("HTTP status codes map to the driver's error codes") {
  CHECK(code_of_http_status(200) == ec::none);
  CHECK(code_of_http_status(201) == ec::none);
  CHECK(code_of_http_status(400) == ec::invalid_argument);
  CHECK(code_of_http_status(401) == ec::unauthenticated);
  CHECK(code_of_http_status(403) == ec::permission_denied);
  CHECK(code_of_http_status(404) == ec::not_found);
  CHECK(code_of_http_status(409) == ec::conflict);
  CHECK(code_of_http_status(410) == ec::expired);
  CHECK(code_of_http_status(422) == ec::invalid_argument);
  CHECK(code_of_http_status(429) == ec::unavailable);
  CHECK(code_of_http_status(503) == ec::unavailable);
}

TEST_CASE("watch events") {
  watch_event<volume_attachment_object> e;
  REQUIRE(parse_volume_attachment_event(
            R"({"type":"MODIFIED","object":)"
              + attachment_json("va-1", "pv-1", "node-a", "2026-01-01T00:00:00Z") + "}",
            e)
            .ok());
  CHECK(e.type == watch_event_type::modified);
  CHECK(e.resource_version == "7");
  CHECK(e.object.attached);
  CHECK(phase_of(facts_of(e.object, driver), false) == attachment_phase::attached);
  CHECK(phase_of(facts_of(e.object, driver), true) == attachment_phase::gone);
  e.object.attached = false;
  CHECK(phase_of(facts_of(e.object, driver), false) == attachment_phase::pending);
  e.object.deleting = true;
  CHECK(phase_of(facts_of(e.object, driver), false) == attachment_phase::gone);
  // Attached and being deleted: Kubernetes is detaching it; kept if known, never attached.
  e.object.attached = true;
  CHECK(phase_of(facts_of(e.object, driver), false) == attachment_phase::pending);
  REQUIRE(parse_volume_attachment_event(
            R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"99"}}})", e)
            .ok());
  CHECK(e.type == watch_event_type::bookmark);
  CHECK(e.resource_version == "99");
  REQUIRE(parse_volume_attachment_event(
            R"({"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}})", e)
            .ok());
  CHECK(e.type == watch_event_type::error);
  CHECK(e.error_code == 410);
  CHECK(parse_volume_attachment_event("garbage", e).code == ec::invalid_argument);
}
