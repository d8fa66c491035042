// etcd + kube-apiserver on loopback ports, with static tokens and RBAC.
#include "client/kube_cluster.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace rds::client {

namespace {

using namespace std::chrono_literals;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string apiserver_binary() {
  const char* path = std::getenv("RDS_CSI_KUBE_APISERVER");
  if (path == nullptr) // where scripts/build-kube-apiserver.sh caches it by default
    path = "/var/cache/rds-csi/kube-apiserver-1.20.2/kube-apiserver";
  if (::access(path, X_OK) != 0)
    throw std::runtime_error(
      "RDS_CSI_KUBE_APISERVER must name a kube-apiserver binary: run "
      "scripts/build-kube-apiserver.sh (scripts/test.sh does) and export the path it prints");
  return path;
}

void require_ok(const services::kube::kube_response& r) {
  if (!r.status.ok())
    throw std::runtime_error(r.status.message);
}

} // namespace

std::string attachment_name(const std::string& pv, const std::string& node) {
  return "csi-" + pv + "-" + node;
}

kube_cluster& kube_cluster::instance() {
  static kube_cluster cluster;
  return cluster;
}

kube_cluster::kube_cluster() {
  apiserver_binary(); // fails early, with instructions, when it is missing
  etcd_port_ = free_port();
  etcd_peer_port_ = free_port();
  api_port_ = free_port();
  auto d = dir_.path();
  std::ofstream{d + "/tokens.csv"} << "admin-token,admin,1,\"system:masters\"\n"
                                   << "driver-token,rds-csi-driver,2\n";
  if (std::system(("openssl genrsa -out " + d + "/sa.key 2048 2>/dev/null").c_str()) != 0)
    throw std::runtime_error("openssl genrsa failed");
  // A client CA and a certificate it signed for an admin (O=system:masters), to test
  // client-certificate authentication.
  auto certs = "cd " + d
               + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout client-ca.key"
                 " -out client-ca.crt -days 2 -subj /CN=rds-csi-test-client-ca"
                 " && openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr"
                 " -subj /CN=cert-admin/O=system:masters"
                 " && openssl x509 -req -in admin.csr -CA client-ca.crt -CAkey client-ca.key"
                 " -CAcreateserial -out admin.crt -days 2";
  if (std::system((certs + " >/dev/null 2>&1").c_str()) != 0)
    throw std::runtime_error("openssl could not make the test client certificates");
  start_etcd();
  start_apiserver();
  wait_ready();
}

void kube_cluster::start_apiserver() {
  auto d = dir_.path();
  api_pid_ = start_process(
    {apiserver_binary(), "--etcd-servers=http://127.0.0.1:" + std::to_string(etcd_port_),
     "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
     "--secure-port=" + std::to_string(api_port_), "--cert-dir=" + d + "/certs",
     "--token-auth-file=" + d + "/tokens.csv", "--client-ca-file=" + d + "/client-ca.crt",
     "--authorization-mode=RBAC", "--service-account-issuer=https://kubernetes.default.svc",
     "--service-account-key-file=" + d + "/sa.key",
     "--service-account-signing-key-file=" + d + "/sa.key",
     "--service-cluster-ip-range=10.96.0.0/24", "--allow-privileged=true"},
    d + "/apiserver.log");
}

void kube_cluster::wait_ready() {
  auto d = dir_.path();
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::access((d + "/certs/apiserver.crt").c_str(), R_OK) == 0) {
      if (!admin_) {
        services::kube::kube_config cfg;
        if (!services::kube::load_kubeconfig(kubeconfig("admin-token"), cfg).ok())
          throw std::runtime_error("cannot read the test kubeconfig");
        admin_ = std::make_unique<services::kube::kube_client>(cfg);
      }
      auto r = admin_->get("/readyz", 2s);
      if (r.status.ok())
        return;
    }
    std::this_thread::sleep_for(100ms);
  }
  throw std::runtime_error("kube-apiserver did not become ready; see " + d + "/apiserver.log");
}

void kube_cluster::restart_apiserver() {
  // Killed, not stopped: a graceful stop waits about 20 s for open watches, and a crash is the
  // harsher fault anyway.
  stop_process(api_pid_, 0s);
  start_apiserver();
  wait_ready();
}

void kube_cluster::compact_etcd() {
  auto endpoint = "--endpoints=http://127.0.0.1:" + std::to_string(etcd_port_);
  auto command = "rev=$(ETCDCTL_API=3 etcdctl " + endpoint
                 + " endpoint status --write-out=json | grep -o '\"revision\":[0-9]*' | "
                   "cut -d: -f2) && ETCDCTL_API=3 etcdctl "
                 + endpoint + " compact \"$rev\" >/dev/null";
  if (std::system(command.c_str()) != 0)
    throw std::runtime_error("etcd compaction failed");
}

kube_cluster::~kube_cluster() {
  admin_.reset();
  stop_process(api_pid_, 10s);
  stop_process(etcd_pid_, 10s);
}

void kube_cluster::start_etcd() {
  auto d = dir_.path();
  auto client = "http://127.0.0.1:" + std::to_string(etcd_port_);
  etcd_pid_ = start_process(
    {"/usr/bin/etcd", "--data-dir=" + d + "/etcd", "--listen-client-urls=" + client,
     "--advertise-client-urls=" + client,
     "--listen-peer-urls=http://127.0.0.1:" + std::to_string(etcd_peer_port_),
     "--initial-advertise-peer-urls=http://127.0.0.1:" + std::to_string(etcd_peer_port_),
     "--initial-cluster=default=http://127.0.0.1:" + std::to_string(etcd_peer_port_)},
    d + "/etcd.log");
}

void kube_cluster::stop_etcd() {
  stop_process(etcd_pid_, 10s);
  etcd_pid_ = -1;
}

std::string kube_cluster::kubeconfig(const std::string& token) const {
  auto path = dir_.path() + "/kubeconfig-" + token;
  std::ofstream{path} << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                      << "clusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:"
                      << api_port_ << "\n    certificate-authority: " << dir_.path()
                      << "/certs/apiserver.crt\n"
                      << "users:\n- name: test\n  user:\n    token: " << token << "\n"
                      << "contexts:\n- name: test\n  context: {cluster: test, user: test}\n";
  return path;
}

std::string kube_cluster::kubeconfig_with_certificate() const {
  auto d = dir_.path();
  auto path = d + "/kubeconfig-certificate";
  std::ofstream{path} << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                      << "clusters:\n- name: test\n  cluster:\n    server: " << server_url()
                      << "\n    certificate-authority: " << ca_path() << "\n"
                      << "users:\n- name: test\n  user:\n    client-certificate: " << d
                      << "/admin.crt\n    client-key: " << d << "/admin.key\n"
                      << "contexts:\n- name: test\n  context: {cluster: test, user: test}\n";
  return path;
}

std::string kube_cluster::server_url() const {
  return "https://127.0.0.1:" + std::to_string(api_port_);
}

std::string kube_cluster::ca_path() const {
  return dir_.path() + "/certs/apiserver.crt";
}

namespace {

/// YAML -> JSON, with every scalar as a string (enough for RBAC objects).
void write_json(const YAML::Node& node, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (node.IsMap()) {
    w.StartObject();
    for (const auto& kv : node) {
      w.Key(kv.first.as<std::string>().c_str());
      write_json(kv.second, w);
    }
    w.EndObject();
  } else if (node.IsSequence()) {
    w.StartArray();
    for (const auto& item : node)
      write_json(item, w);
    w.EndArray();
  } else {
    w.String(node.as<std::string>("").c_str());
  }
}

} // namespace

void kube_cluster::bind_cluster_role(const std::string& manifest, const std::string& user) {
  std::string role_name;
  for (const auto& doc : YAML::LoadAllFromFile(manifest)) {
    if (!doc["kind"] || doc["kind"].as<std::string>() != "ClusterRole")
      continue;
    role_name = doc["metadata"]["name"].as<std::string>();
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    write_json(doc, w);
    admin_->request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/" + role_name, "",
                    30s);
    require_ok(admin_->request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                               buf.GetString(), 30s));
  }
  if (role_name.empty())
    throw std::runtime_error(manifest + " has no ClusterRole");
  auto binding = "test-" + role_name;
  admin_->request("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/" + binding, "",
                  30s);
  require_ok(admin_->request(
    "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":")"
      + binding
      + R"("},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":")"
      + role_name
      + R"("},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":")" + user
      + R"("}]})",
    30s));
}

services::kube::kube_client& kube_cluster::admin() {
  return *admin_;
}

void kube_cluster::clear() {
  // Finalizers (the external-attacher's) would keep objects: a test's leftovers go whole.
  for (auto collection :
       {"/apis/storage.k8s.io/v1/volumeattachments", "/api/v1/persistentvolumes"}) {
    auto r = admin_->get(collection, 30s);
    require_ok(r);
    rapidjson::Document doc;
    doc.Parse(r.body.c_str(), r.body.size());
    if (doc.HasParseError() || !doc.HasMember("items") || !doc["items"].IsArray())
      throw std::runtime_error(std::string{"cannot read "} + collection);
    for (auto& item : doc["items"].GetArray())
      if (item["metadata"].HasMember("finalizers"))
        require_ok(admin_->request(
          "PATCH", std::string{collection} + "/" + item["metadata"]["name"].GetString(),
          R"({"metadata":{"finalizers":null}})", 30s));
    require_ok(admin_->request("DELETE", collection, "", 30s));
  }
  require_ok(admin_->request("DELETE", "/apis/storage.k8s.io/v1/csinodes", "", 30s));
  require_ok(admin_->request("DELETE", "/api/v1/nodes", "", 30s));
}

void kube_cluster::create_nodes(std::initializer_list<std::string> names) {
  for (auto& name : names) {
    require_ok(admin_->request(
      "POST", "/api/v1/nodes",
      R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name + R"("}})", 30s));
    // As kubelet writes it when node-driver-registrar registers the node plugin: the
    // external-attacher reads the CSI node id from here.
    require_ok(
      admin_->request("POST", "/apis/storage.k8s.io/v1/csinodes",
                      R"({"apiVersion":"storage.k8s.io/v1","kind":"CSINode","metadata":{"name":")"
                        + name + R"("},"spec":{"drivers":[{"name":"rds.csi.srvlab.io","nodeID":")"
                        + name + R"(","topologyKeys":null}]}})",
                      30s));
  }
}

void kube_cluster::detach(const std::string& pv_name, const std::string& node) {
  require_ok(admin_->request(
    "DELETE", "/apis/storage.k8s.io/v1/volumeattachments/" + attachment_name(pv_name, node), "",
    30s));
}

std::string kube_cluster::volume_json(const std::string& pv_name, const std::string& handle,
                                      const std::string& access, const std::string& volume_mode,
                                      const std::string& migration_timeout_seconds,
                                      const std::string& annotations_json) {
  std::string attributes =
    migration_timeout_seconds.empty()
      ? "{}"
      : R"({"migrationTimeoutSeconds":")" + migration_timeout_seconds + R"("})";
  return R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":")" + pv_name
         + R"(","annotations":)" + annotations_json
         + R"(},"spec":{"capacity":{"storage":"1Gi"},"accessModes":[")" + access
         + R"("],"volumeMode":")" + volume_mode
         + R"(","persistentVolumeReclaimPolicy":"Delete","claimRef":{"namespace":"default","name":")"
         + pv_name + R"(-claim"},"csi":{"driver":"rds.csi.srvlab.io","volumeHandle":")" + handle
         + R"(","volumeAttributes":)" + attributes + "}}}";
}

void kube_cluster::create_volume(const std::string& pv_name, const std::string& handle,
                                 const std::string& access, const std::string& volume_mode,
                                 const std::string& migration_timeout_seconds,
                                 const std::string& annotations_json,
                                 services::kube::kube_client* via) {
  auto& client = via != nullptr ? *via : *admin_;
  require_ok(client.request(
    "POST", "/api/v1/persistentvolumes",
    volume_json(pv_name, handle, access, volume_mode, migration_timeout_seconds, annotations_json),
    30s));
}

void kube_cluster::attach(const std::string& pv_name, const std::string& node, bool mark_attached,
                          services::kube::kube_client* via) {
  auto& client = via != nullptr ? *via : *admin_;
  auto name = attachment_name(pv_name, node);
  auto body = R"({"apiVersion":"storage.k8s.io/v1","kind":"VolumeAttachment","metadata":{"name":")"
              + name + R"("},"spec":{"attacher":"rds.csi.srvlab.io","nodeName":")" + node
              + R"(","source":{"persistentVolumeName":")" + pv_name + R"("}}})";
  require_ok(client.request("POST", "/apis/storage.k8s.io/v1/volumeattachments", body, 30s));
  if (!mark_attached)
    return;
  require_ok(client.request("PATCH",
                            "/apis/storage.k8s.io/v1/volumeattachments/" + name + "/status",
                            R"({"status":{"attached":true}})", 30s));
}

} // namespace rds::client
