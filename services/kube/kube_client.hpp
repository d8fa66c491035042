// HTTP to the Kubernetes API over libcurl: verified TLS, bearer token or client certificate,
// a deadline on every call, bounded retries for transient failures, and API errors turned into
// the driver's ec codes with the HTTP status and the server's message kept. Blocking: use it
// only from a detached actor or a test thread.
//
// One client is one curl handle and serves one call at a time. A call made while another is in
// progress on the same client (from inside a stream's line callback, or from a second thread) is
// refused with ec::internal and never reaches libcurl: re-entering a handle mid-transfer is
// undefined behaviour in libcurl (a GET from a watch callback once crashed the controller).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "messages/error_code.hpp"
#include "services/kube/kube_config.hpp"

namespace rds::services::kube {

struct kube_response {
  outcome status;
  /// HTTP status code; 0 when no answer arrived.
  long http_status = 0;
  std::string body;
};

struct retry_policy {
  /// Attempts for a transient failure (transport error, 429, 5xx), the first one included.
  int attempts = 4;
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{1000};
};

class kube_client {
 public:
  explicit kube_client(kube_config config, retry_policy retries = {});
  ~kube_client();
  kube_client(const kube_client&) = delete;
  kube_client& operator=(const kube_client&) = delete;

  /// One API call (path starts with /api or /apis), retried while transient and time is left.
  /// Refused (ec::internal) while another call of this client is in progress.
  kube_response request(const std::string& method, const std::string& path, const std::string& body,
                        std::chrono::milliseconds deadline);

  kube_response get(const std::string& path, std::chrono::milliseconds deadline) {
    return request("GET", path, "", deadline);
  }

  /// A streaming GET (a watch): `on_line` gets each newline-terminated line as it arrives and
  /// returns false to stop. Ends when the server closes, `limit` passes, `on_line` stops or
  /// `stop` becomes true (checked about once a second even when nothing arrives). `on_line` must
  /// not use this client: such a call is refused.
  outcome stream(const std::string& path, const std::function<bool(const std::string&)>& on_line,
                 std::chrono::milliseconds limit, const std::atomic<bool>* stop = nullptr);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Percent-encodes a query parameter value.
std::string url_escape(const std::string& text);

/// The ec code of an HTTP status from the API server.
ec code_of_http_status(long http_status);

} // namespace rds::services::kube
