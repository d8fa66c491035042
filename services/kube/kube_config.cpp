// kubeconfig (YAML, through yaml-cpp) and in-cluster configuration.
#include "services/kube/kube_config.hpp"

#include "services/codec/base64.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace rds::services::kube {

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return true;
}

/// The entry of `list` (clusters, users, contexts) whose name is `name`.
YAML::Node named(const YAML::Node& list, const std::string& name) {
  if (list && list.IsSequence())
    for (const auto& entry : list)
      if (entry["name"] && entry["name"].as<std::string>() == name)
        return entry;
  return YAML::Node{};
}

std::string relative_to(const std::string& base_file, const std::string& path) {
  if (path.empty() || path.front() == '/')
    return path;
  auto slash = base_file.rfind('/');
  return slash == std::string::npos ? path : base_file.substr(0, slash + 1) + path;
}

/// Reads the `<key>-data` (base64) or `<key>` (a file) form of a PEM field.
outcome pem_field(const YAML::Node& node, const std::string& key, const std::string& file,
                  std::string& out) {
  if (node[key + "-data"]) {
    if (!codec::decode_base64(node[key + "-data"].as<std::string>(), out))
      return outcome::failure(ec::invalid_argument, key + "-data in " + file + " is not base64");
  } else if (node[key]) {
    auto path = relative_to(file, node[key].as<std::string>());
    if (!read_file(path, out))
      return outcome::failure(ec::invalid_argument, "cannot read " + key + " file " + path);
  }
  return outcome::success();
}

} // namespace

outcome load_kubeconfig(const std::string& path, kube_config& out) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    return outcome::failure(ec::invalid_argument,
                            "cannot read kubeconfig " + path + ": " + e.what());
  }
  try {
    auto current = doc["current-context"] ? doc["current-context"].as<std::string>() : "";
    auto context = named(doc["contexts"], current);
    if (!context)
      return outcome::failure(ec::invalid_argument,
                              "kubeconfig " + path + " has no context '" + current + "'");
    auto cluster = named(doc["clusters"], context["context"]["cluster"].as<std::string>(""));
    auto user = named(doc["users"], context["context"]["user"].as<std::string>(""));
    if (!cluster || !cluster["cluster"]["server"])
      return outcome::failure(ec::invalid_argument,
                              "kubeconfig " + path + ": the current context has no cluster");
    kube_config cfg;
    cfg.server = cluster["cluster"]["server"].as<std::string>();
    while (!cfg.server.empty() && cfg.server.back() == '/')
      cfg.server.pop_back();
    if (cfg.server.rfind("https://", 0) != 0)
      return outcome::failure(ec::invalid_argument,
                              "kubeconfig " + path + ": the server must be https://");
    if (auto r = pem_field(cluster["cluster"], "certificate-authority", path, cfg.ca_pem); !r.ok())
      return r;
    if (user) {
      auto u = user["user"];
      if (u["token"])
        cfg.token = u["token"].as<std::string>();
      if (u["tokenFile"])
        cfg.token_file = relative_to(path, u["tokenFile"].as<std::string>());
      if (auto r = pem_field(u, "client-certificate", path, cfg.client_cert_pem); !r.ok())
        return r;
      if (auto r = pem_field(u, "client-key", path, cfg.client_key_pem); !r.ok())
        return r;
    }
    out = std::move(cfg);
    return outcome::success();
  } catch (const std::exception& e) {
    return outcome::failure(ec::invalid_argument, "kubeconfig " + path + ": " + e.what());
  }
}

outcome in_cluster_config(kube_config& out, const std::string& account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0')
    return outcome::failure(ec::unavailable, "not running in a cluster: "
                                             "KUBERNETES_SERVICE_HOST/PORT are not set");
  kube_config cfg;
  std::string h = host;
  cfg.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  cfg.token_file = account_dir + "/token";
  if (!read_file(account_dir + "/ca.crt", cfg.ca_pem))
    return outcome::failure(ec::unavailable, "cannot read " + account_dir + "/ca.crt");
  out = std::move(cfg);
  return outcome::success();
}

} // namespace rds::services::kube
