// Where the Kubernetes API is and how to authenticate to it: a kubeconfig file, or the pod's
// in-cluster service account.
#pragma once

#include <string>

#include "messages/error_code.hpp"

namespace rds::services::kube {

struct kube_config {
  /// https://host:port, without a trailing slash.
  std::string server;
  /// PEM bundle the server's certificate must chain to. TLS is always verified.
  std::string ca_pem;
  /// A bearer token given inline...
  std::string token;
  /// ...or a file holding it, re-read whenever it changes (service-account tokens rotate).
  std::string token_file;
  /// Client-certificate authentication (PEM).
  std::string client_cert_pem;
  std::string client_key_pem;
};

/// Reads a kubeconfig file: its current context's cluster (server, certificate-authority or
/// -data) and user (token, tokenFile, client-certificate/-key or their -data forms).
outcome load_kubeconfig(const std::string& path, kube_config& out);

/// The in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT and the service account's token
/// and CA under `account_dir` (normally /var/run/secrets/kubernetes.io/serviceaccount).
outcome
in_cluster_config(kube_config& out,
                  const std::string& account_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

} // namespace rds::services::kube
