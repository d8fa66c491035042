// The Kubernetes client against the real API server: verified TLS, rotating tokens, API errors
// kept with their HTTP status and message, and the plugin running with exactly the RBAC rules
// deploy/ documents.
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "client/kube_cluster.hpp"
#include "integration/clean_stop.hpp"
#include "integration/client.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/source_tree.hpp"

using namespace rds;
using namespace rds::test;
using namespace rds::services::kube;
using namespace std::chrono_literals;

namespace {

kube_config config_with(const std::string& token) {
  kube_config cfg;
  REQUIRE(load_kubeconfig(kube_cluster::instance().kubeconfig(token), cfg).ok());
  return cfg;
}

} // namespace

TEST_CASE("TLS is verified: a server the CA does not vouch for is refused") {
  auto cfg = config_with("admin-token");
  cfg.ca_pem.clear(); // only the system's CAs, which never signed the test server
  kube_client client{cfg};
  auto r = client.get("/api/v1/nodes", 10s);
  CHECK(r.status.code == ec::unauthenticated);
  CHECK(r.http_status == 0);
}

TEST_CASE("API errors keep their HTTP status and the server's message") {
  kube_client admin{config_with("admin-token")};
  auto missing = admin.get("/api/v1/persistentvolumes/no-such-pv", 10s);
  CHECK(missing.status.code == ec::not_found);
  CHECK(missing.http_status == 404);
  CHECK(missing.status.message.find("\"no-such-pv\" not found") != std::string::npos);

  kube_client driver{config_with("driver-token")}; // a user with no rights bound
  auto forbidden = driver.get("/api/v1/secrets", 10s);
  CHECK(forbidden.status.code == ec::permission_denied);
  CHECK(forbidden.http_status == 403);
  CHECK(forbidden.status.message.find("forbidden") != std::string::npos);

  auto cfg = config_with("admin-token");
  cfg.token = "not-a-token";
  kube_client stranger{cfg};
  auto refused = stranger.get("/api/v1/nodes", 10s);
  CHECK(refused.status.code == ec::unauthenticated);
  CHECK(refused.http_status == 401);
}

TEST_CASE("client-certificate authentication") {
  kube_config cfg;
  REQUIRE(load_kubeconfig(kube_cluster::instance().kubeconfig_with_certificate(), cfg).ok());
  CHECK(cfg.token.empty());
  CHECK_FALSE(cfg.client_cert_pem.empty());
  kube_client client{cfg};
  auto r = client.get("/api/v1/nodes", 10s);
  CHECK(r.status.ok());
  CHECK(r.http_status == 200);
}

TEST_CASE("a token file is read again when it changes") {
  temp_dir dir;
  auto token_file = dir.path() + "/token";
  std::ofstream{token_file} << "expired";
  auto cfg = config_with("admin-token");
  cfg.token.clear();
  cfg.token_file = token_file;
  kube_client client{cfg};
  CHECK(client.get("/api/v1/nodes", 10s).http_status == 401);
  std::ofstream{token_file} << "admin-token\n"; // the kubelet rotated it
  auto r = client.get("/api/v1/nodes", 10s);
  CHECK(r.status.ok());
  CHECK(r.http_status == 200);
}

TEST_CASE("the plugin works with exactly the RBAC rules deploy/ documents") {
  auto& k = kube_cluster::instance();
  k.clear();
  // The volumes exist on the RDS (the plugins' embedded simulator keeps them in sim).
  temp_dir sim;
  auto vol = provision_volumes(sim.path(), {"vol-r"});
  REQUIRE(vol.size() == 1);
  k.bind_cluster_role(source_path("deploy/kubernetes/controller-rbac.yaml"), "rds-csi-driver");
  k.create_nodes({"node-a", "node-b"});
  k.create_volume("pv-r", vol.at("vol-r"), "ReadWriteMany", "Block", "600");
  k.attach("pv-r", "node-a");
  plugin_process plugin{
    {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("driver-token")}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  REQUIRE(client.publish(vol.at("vol-r"), "node-b", volume_access::rwx_block).ok());
  REQUIRE(client.unpublish(vol.at("vol-r"), "node-a").ok());
  CHECK(settled_value(plugin.metrics_url(), posted("MigrationCompleted"), 1) == 1);
  auto text = http_get(plugin.metrics_url());
  for (auto resource : {"volumeattachments", "nodes", "events"}) {
    CAPTURE(resource);
    CHECK(
      metric_value(text, std::string{"rds_csi_kube_failures_total{resource=\""} + resource + "\"}")
      == 0);
  }
  expect_clean_stop(plugin);
}

TEST_CASE("a client is never re-entered: a call from inside its own watch callback is refused") {
  auto& k = kube_cluster::instance();
  k.clear();
  k.create_nodes({"node-r"});
  kube_client client{config_with("admin-token")};
  std::vector<kube_response> nested;
  int lines = 0;
  auto streamed = client.stream(
    "/api/v1/nodes?watch=1&timeoutSeconds=5",
    [&](const std::string&) {
      ++lines;
      // What the controller once did from a VolumeAttachment event: a GET on the same client.
      nested.push_back(client.get("/api/v1/nodes/node-r", 5s));
      nested.push_back(client.request("PATCH", "/api/v1/nodes/node-r", "{}", 5s));
      return false; // one event is enough
    },
    10s);
  CHECK(streamed.ok());
  REQUIRE(lines == 1);
  REQUIRE(nested.size() == 2);
  for (auto& r : nested) {
    CHECK(r.status.code == ec::internal);
    CHECK(r.http_status == 0);
    CHECK(r.status.message.find("already in a call") != std::string::npos);
  }
  // A nested stream is refused the same way, and the client works again once the call is over.
  auto inner = client.stream(
    "/api/v1/nodes?watch=1&timeoutSeconds=1",
    [&](const std::string&) {
      CHECK(client
              .stream(
                "/api/v1/nodes?watch=1", [](const std::string&) { return false; }, 1s)
              .code
            == ec::internal);
      return false;
    },
    10s);
  CHECK(inner.ok());
  CHECK(client.get("/api/v1/nodes/node-r", 5s).status.ok());
  // Two threads on one client: the second call is refused while the first runs, never mixed.
  std::atomic<bool> in_stream{false}, release{false};
  std::thread watcher{[&] {
    client.stream(
      "/api/v1/nodes?watch=1&timeoutSeconds=10",
      [&](const std::string&) {
        in_stream = true;
        while (!release)
          std::this_thread::sleep_for(10ms);
        return false;
      },
      15s);
  }};
  auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!in_stream && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  REQUIRE(in_stream);
  CHECK(client.get("/api/v1/nodes", 5s).status.code == ec::internal);
  release = true;
  watcher.join();
  CHECK(client.get("/api/v1/nodes", 5s).status.ok());
}
