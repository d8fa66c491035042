// The controller plugin as deploy/ runs it: with a token of its ServiceAccount, whose only rights
// are those deploy/kubernetes/controller-rbac.yaml binds to it (the ClusterRole rds-csi-plugin).
// In a cluster the same account also carries the sidecars' roles (a pod has one ServiceAccount),
// which would hide a right the plugin lacks; here the account and its binding are the file's own,
// moved into a namespace of their own, so nothing else is bound to it. The token is a TokenRequest
// one, and as root the plugin finds it as in a pod: no --kubeconfig, the token and CA under
// /var/run/secrets/kubernetes.io/serviceaccount (a mount namespace of its own) and
// KUBERNETES_SERVICE_HOST/PORT.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "client/kube_cluster.hpp"
#include "integration/clean_stop.hpp"
#include "integration/client.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/source_tree.hpp"

using namespace rds::test;
using namespace std::chrono_literals;

namespace {

const std::string source_dir = source_root();
const std::string account_namespace = "rds-csi-plugin-only";

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Replaces every `from` in `text` by `to`; how many there were.
int replace_all(std::string& text, const std::string& from, const std::string& to) {
  int count = 0;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
    ++count;
  }
  return count;
}

/// deploy/kubernetes/controller-rbac.yaml with its ServiceAccount and ClusterRoleBinding moved into
/// `account_namespace` (the binding renamed, so the base's own binding, if installed, stays).
std::string plugin_rbac_moved() {
  auto text = read_text(source_dir + "/deploy/kubernetes/controller-rbac.yaml");
  std::istringstream lines{text};
  std::string line, document, result;
  std::vector<std::string> documents;
  while (std::getline(lines, line)) {
    if (line == "---") {
      documents.push_back(document);
      document.clear();
    } else {
      document += line + "\n";
    }
  }
  documents.push_back(document);
  int moved = 0, renamed = 0;
  for (auto& d : documents) {
    moved += replace_all(d, "namespace: rds-csi\n", "namespace: " + account_namespace + "\n");
    if (d.find("\nkind: ClusterRoleBinding\n") != std::string::npos)
      renamed += replace_all(d, "metadata:\n  name: rds-csi-plugin\n",
                             "metadata:\n  name: rds-csi-plugin-only\n");
    result += "---\n" + d;
  }
  INFO(text);
  // The ServiceAccount's namespace and the binding's subject; the binding's name.
  REQUIRE(moved == 2);
  REQUIRE(renamed == 1);
  return result;
}

/// `kubectl` ($RDS_CSI_KUBECTL, else on PATH; any version applies these objects) as the test
/// apiserver's administrator; its exit code, its output in `output`.
int kubectl(const std::string& args, const rds::client::temp_dir& dir, std::string& output) {
  const char* env = std::getenv("RDS_CSI_KUBECTL");
  std::string binary = env != nullptr && *env != 0 ? env : "kubectl";
  auto log = dir.path() + "/kubectl.log";
  auto command =
    binary + " --kubeconfig=" + rds::client::kube_cluster::instance().kubeconfig("admin-token")
    + " --cache-dir=" + dir.path() + "/cache --request-timeout=60s " + args + " >" + log + " 2>&1";
  int status = std::system(command.c_str());
  output = read_text(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// A token of the ServiceAccount `name` in `ns` from the TokenRequest API (what kubelet projects
/// into a pod as /var/run/secrets/kubernetes.io/serviceaccount/token).
std::string service_account_token(const std::string& ns, const std::string& name) {
  auto r = rds::client::kube_cluster::instance().admin().request(
    "POST", "/api/v1/namespaces/" + ns + "/serviceaccounts/" + name + "/token",
    R"({"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest",)"
    R"("spec":{"expirationSeconds":3600}})",
    30s);
  INFO(r.body);
  REQUIRE(r.status.ok());
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  REQUIRE(!doc.HasParseError());
  REQUIRE(doc.HasMember("status"));
  std::string token = doc["status"]["token"].GetString();
  REQUIRE(!token.empty());
  return token;
}

/// A program that runs the plugin as a pod does: in a mount namespace of its own, a tmpfs on /run
/// (/var/run) holds `account_dir`'s token and ca.crt at
/// /var/run/secrets/kubernetes.io/serviceaccount, and KUBERNETES_SERVICE_HOST/PORT name the
/// apiserver. The process keeps its pid through each exec, so stopping it stops the plugin.
std::string in_pod_wrapper(const std::string& dir, const std::string& account_dir,
                           const std::string& server_url) {
  auto host_port = server_url.substr(server_url.find("://") + 3);
  auto colon = host_port.rfind(':');
  auto path = dir + "/in-pod";
  std::ofstream{path}
    << "#!/bin/sh\n"
    << "exec unshare --mount --propagation private /bin/sh -c '\n"
    << "  set -e\n"
    << "  mount -t tmpfs -o mode=0755 rds-csi-test-run /run\n"
    << "  mkdir -p /run/secrets/kubernetes.io/serviceaccount\n"
    << "  cp \"$0/token\" \"$0/ca.crt\" /run/secrets/kubernetes.io/serviceaccount/\n"
    << "  plugin=$1; shift\n"
    << "  exec env KUBERNETES_SERVICE_HOST=" << host_port.substr(0, colon)
    << " KUBERNETES_SERVICE_PORT=" << host_port.substr(colon + 1) << " \"$plugin\" \"$@\"' "
    << account_dir << " " << plugin_binary() << " \"$@\"\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

/// Sets $RDS_CSI_PLUGIN (which plugin_process starts) for its lifetime.
class plugin_binary_as {
 public:
  explicit plugin_binary_as(const std::string& path) {
    if (const char* old = std::getenv("RDS_CSI_PLUGIN"))
      old_ = old;
    ::setenv("RDS_CSI_PLUGIN", path.c_str(), 1);
  }
  ~plugin_binary_as() {
    if (old_)
      ::setenv("RDS_CSI_PLUGIN", old_->c_str(), 1);
    else
      ::unsetenv("RDS_CSI_PLUGIN");
  }

 private:
  std::optional<std::string> old_;
};

} // namespace

TEST_CASE("the controller plugin with a token of its ServiceAccount, bound by deploy/ to the "
          "rds-csi-plugin role alone, rebuilds and follows VolumeAttachments without a 403") {
  auto& k = rds::client::kube_cluster::instance();
  k.clear();
  temp_dir dir;

  // The namespace, then the file's objects (kubectl, server-side, as an operator applies them).
  auto ns = k.admin().request("POST", "/api/v1/namespaces",
                              R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")"
                                + account_namespace + "\"}}",
                              30s);
  CHECK((ns.status.ok() || ns.http_status == 409));
  std::ofstream{dir.path() + "/rbac.yaml"} << plugin_rbac_moved();
  std::string out;
  INFO("kubectl: ", out);
  REQUIRE(kubectl("apply --server-side --force-conflicts -f " + dir.path() + "/rbac.yaml", dir, out)
          == 0);

  // The pod's credentials: the token in a file (read again when kubelet rotates it) and the
  // apiserver's CA, as kubelet mounts them.
  auto account_dir = dir.path() + "/serviceaccount";
  ::mkdir(account_dir.c_str(), 0700);
  auto token_file = account_dir + "/token";
  std::ofstream{token_file} << service_account_token(account_namespace, "rds-csi-controller");
  std::ofstream{account_dir + "/ca.crt"} << read_text(k.ca_path());
  auto kubeconfig = dir.path() + "/kubeconfig";
  std::ofstream{kubeconfig} << "apiVersion: v1\nkind: Config\ncurrent-context: pod\n"
                            << "clusters:\n- name: pod\n  cluster:\n    server: " << k.server_url()
                            << "\n    certificate-authority: " << k.ca_path() << "\n"
                            << "users:\n- name: pod\n  user:\n    tokenFile: " << token_file << "\n"
                            << "contexts:\n- name: pod\n  context: {cluster: pod, user: pod}\n";

  // The token is that account's and carries only the role's rights: it reads VolumeAttachments
  // and is refused Secrets and writes to VolumeAttachments.
  {
    rds::services::kube::kube_config cfg;
    REQUIRE(rds::services::kube::load_kubeconfig(kubeconfig, cfg).ok());
    rds::services::kube::kube_client as_plugin{cfg};
    CHECK(as_plugin.get("/apis/storage.k8s.io/v1/volumeattachments", 10s).http_status == 200);
    CHECK(as_plugin.get("/api/v1/secrets", 10s).http_status == 403);
    CHECK(
      as_plugin
        .request("DELETE", "/apis/storage.k8s.io/v1/volumeattachments/no-such-attachment", "", 10s)
        .http_status
      == 403);
  }

  // The state it must rebuild: an RWX block volume and an RWO one, both attached to node-a
  // before it starts.
  temp_dir sim;
  auto volumes = provision_volumes(sim.path(), {"vol-sa-rwx", "vol-sa-rwo"});
  REQUIRE(volumes.size() == 2);
  auto rwx = volumes.at("vol-sa-rwx"), rwo = volumes.at("vol-sa-rwo");
  k.create_nodes({"node-a", "node-b", "node-c"});
  k.create_volume("pv-sa-rwx", rwx, "ReadWriteMany", "Block", "600");
  k.create_volume("pv-sa-rwo", rwo, "ReadWriteOnce", "Filesystem");
  k.attach("pv-sa-rwx", "node-a");
  k.attach("pv-sa-rwo", "node-a");

  // As root, exactly as in a pod: no --kubeconfig, the in-cluster files and environment (a mount
  // namespace puts them where the plugin looks). Otherwise the same token through a kubeconfig.
  std::unique_ptr<plugin_process> started;
  if (::geteuid() == 0) {
    plugin_binary_as wrapper{in_pod_wrapper(dir.path(), account_dir, k.server_url())};
    started = std::make_unique<plugin_process>(
      std::vector<std::string>{"--rds-sim-data-dir=" + sim.path()});
  } else {
    MESSAGE("not root: no mount namespace for the in-cluster files; the token goes through "
            "--kubeconfig instead");
    started = std::make_unique<plugin_process>(
      std::vector<std::string>{"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + kubeconfig});
  }
  auto& plugin = *started;
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());

  using names = std::vector<std::string>;
  // What it answers for a volume once it agrees with `expected` (its watches may trail the
  // apiserver by a moment), or after a bounded wait.
  auto settled_nodes = [&](const std::string& volume, const names& expected) {
    names nodes;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    do {
      nodes.clear();
      REQUIRE(client.published_nodes(volume, nodes).ok());
      std::sort(nodes.begin(), nodes.end());
      if (nodes == expected)
        break;
      std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return nodes;
  };

  // Rebuilt: both attachments, and the RWO volume's access mode from its PersistentVolume.
  CHECK(settled_nodes(rwx, {"node-a"}) == names{"node-a"});
  CHECK(settled_nodes(rwo, {"node-a"}) == names{"node-a"});
  CHECK(client.publish(rwo, "node-b", volume_access::rwo).error_code()
        == grpc::StatusCode::FAILED_PRECONDITION);
  // Nodes: a node that does not exist is refused, one that does is accepted.
  CHECK(client.publish(rwx, "node-x", volume_access::rwx_block).error_code()
        == grpc::StatusCode::NOT_FOUND);

  // Followed: a migration written as VolumeAttachments (another replica's attacher), with its
  // Events posted on the claim.
  k.attach("pv-sa-rwx", "node-b");
  CHECK(settled_nodes(rwx, {"node-a", "node-b"}) == names{"node-a", "node-b"});
  CHECK(settled_value(plugin.metrics_url(), "rds_csi_migration_active_migrations", 1) == 1);
  CHECK(settled_value(plugin.metrics_url(), posted("MigrationStarted"), 1) == 1);
  k.detach("pv-sa-rwx", "node-a");
  CHECK(settled_nodes(rwx, {"node-b"}) == names{"node-b"});
  CHECK(settled_value(plugin.metrics_url(), posted("MigrationCompleted"), 1) == 1);
  // And its own publish, checked against the attachments it follows.
  CHECK(client.publish(rwx, "node-c", volume_access::rwx_block).ok());

  // Not one list, watch or Event post was refused.
  auto text = http_get(plugin.metrics_url());
  for (auto resource : {"volumeattachments", "persistentvolumes", "nodes", "events"}) {
    CAPTURE(resource);
    CHECK(
      metric_value(text, std::string{"rds_csi_kube_failures_total{resource=\""} + resource + "\"}")
      == 0);
  }
  expect_clean_stop(plugin);
}
