// libcurl requests to the API server. One easy handle per client keeps the TLS connection
// alive between calls.
#include "services/kube/kube_client.hpp"

#include <curl/curl.h>

#include "services/http/curl_body.hpp"
#include <rapidjson/document.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <thread>

namespace rds::services::kube {

namespace {

using clock_type = std::chrono::steady_clock;

struct line_sink {
  const std::function<bool(const std::string&)>* on_line;
  std::string pending;
  bool stopped = false;
};

size_t split_lines(char* data, size_t size, size_t count, void* target) {
  auto* sink = static_cast<line_sink*>(target);
  sink->pending.append(data, size * count);
  size_t start = 0;
  for (auto nl = sink->pending.find('\n'); nl != std::string::npos;
       nl = sink->pending.find('\n', start)) {
    auto line = sink->pending.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && !(*sink->on_line)(line)) {
      sink->stopped = true;
      return 0; // makes curl stop with CURLE_WRITE_ERROR
    }
  }
  sink->pending.erase(0, start);
  return size * count;
}

int abort_when_stopped(void* stop, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(stop)->load() ? 1 : 0;
}

/// The `message` of a Kubernetes Status object, or a short excerpt of the body.
std::string api_message(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.c_str(), body.size());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("message")
      && doc["message"].IsString())
    return doc["message"].GetString();
  return body.substr(0, 200);
}

/// Marks a client busy for the length of one call.
class call_guard {
 public:
  explicit call_guard(std::atomic<bool>& busy)
    : busy_(busy)
    , owned_(!busy.exchange(true)) {}
  ~call_guard() {
    if (owned_)
      busy_.store(false);
  }
  call_guard(const call_guard&) = delete;
  call_guard& operator=(const call_guard&) = delete;
  /// False: another call of the same client is in progress.
  bool owned() const { return owned_; }

 private:
  std::atomic<bool>& busy_;
  bool owned_;
};

outcome reentered(const std::string& method, const std::string& path) {
  return outcome::failure(ec::internal,
                          method + " " + path
                            + ": refused: this Kubernetes client is already in a call (a request "
                              "from inside a watch callback, or from a second thread); one client "
                              "serves one call at a time");
}

bool transient_http(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

curl_blob blob_of(const std::string& pem) {
  return curl_blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
}

} // namespace

std::string url_escape(const std::string& text) {
  // libcurl leaves A-Z a-z 0-9 - . _ ~ as they are and percent-encodes every other byte
  // (RFC 3986 unreserved). The handle argument is unused by libcurl since 7.82.
  std::unique_ptr<char, decltype(&curl_free)> escaped{
    curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size())), &curl_free};
  if (!escaped)
    throw std::bad_alloc{};
  return escaped.get();
}

ec code_of_http_status(long http_status) {
  if (http_status >= 200 && http_status < 300)
    return ec::none;
  switch (http_status) {
  case 400:
  case 422:
    return ec::invalid_argument;
  case 401:
    return ec::unauthenticated;
  case 403:
    return ec::permission_denied;
  case 404:
    return ec::not_found;
  case 409:
    return ec::conflict;
  case 410:
    return ec::expired;
  default:
    return transient_http(http_status) || http_status >= 500 ? ec::unavailable : ec::internal;
  }
}

struct kube_client::impl {
  kube_config config;
  retry_policy retries;
  CURL* curl = nullptr;
  /// A call is in progress on `curl`.
  std::atomic<bool> busy{false};
  std::string token;
  struct timespec token_mtime {};
  off_t token_size = -1;

  /// Re-reads the token file when it changed (or when forced after a 401).
  void refresh_token(bool force) {
    if (config.token_file.empty()) {
      token = config.token;
      return;
    }
    struct stat st {};
    if (::stat(config.token_file.c_str(), &st) != 0)
      return;
    if (!force && st.st_mtim.tv_sec == token_mtime.tv_sec
        && st.st_mtim.tv_nsec == token_mtime.tv_nsec && st.st_size == token_size)
      return;
    std::ifstream in{config.token_file};
    std::ostringstream buf;
    buf << in.rdbuf();
    token = buf.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
      token.pop_back();
    token_mtime = st.st_mtim;
    token_size = st.st_size;
  }

  /// Sets up the handle for one call; returns the header list to free afterwards.
  curl_slist* prepare(const std::string& method, const std::string& path, const std::string& body,
                      std::chrono::milliseconds timeout) {
    curl_easy_reset(curl);
    auto url = config.server + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!config.ca_pem.empty()) {
      auto ca = blob_of(config.ca_pem);
      curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!config.client_cert_pem.empty()) {
      auto cert = blob_of(config.client_cert_pem);
      auto key = blob_of(config.client_key_pem);
      curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
      curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    }
    auto ms = std::max<long>(1, static_cast<long>(timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(ms, 5000L));
    curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
    if (!token.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
    if (!body.empty()) {
      auto type = method == "PATCH" ? "Content-Type: application/merge-patch+json"
                                    : "Content-Type: application/json";
      headers = curl_slist_append(headers, type);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    return headers;
  }

  kube_response once(const std::string& method, const std::string& path, const std::string& body,
                     std::chrono::milliseconds timeout) {
    kube_response r;
    auto headers = prepare(method, path, body, timeout);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rds::services::http::append_to_string);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
    auto rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
      auto tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE
                 || rc == CURLE_SSL_CERTPROBLEM;
      r.status = outcome::failure(tls ? ec::unauthenticated : ec::unavailable,
                                  method + " " + path + ": " + curl_easy_strerror(rc));
      return r;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.http_status);
    auto code = code_of_http_status(r.http_status);
    if (code != ec::none)
      r.status =
        outcome::failure(code, method + " " + path + ": HTTP " + std::to_string(r.http_status)
                                 + ": " + api_message(r.body));
    return r;
  }
};

kube_client::kube_client(kube_config config, retry_policy retries)
  : impl_(std::make_unique<impl>()) {
  impl_->config = std::move(config);
  impl_->retries = retries;
  impl_->curl = curl_easy_init();
  impl_->refresh_token(true);
}

kube_client::~kube_client() {
  if (impl_->curl != nullptr)
    curl_easy_cleanup(impl_->curl);
}

kube_response kube_client::request(const std::string& method, const std::string& path,
                                   const std::string& body, std::chrono::milliseconds deadline) {
  call_guard guard{impl_->busy};
  if (!guard.owned())
    return kube_response{reentered(method, path), 0, {}};
  auto end = clock_type::now() + deadline;
  auto backoff = impl_->retries.first_backoff;
  bool token_refreshed = false;
  kube_response r;
  for (int attempt = 1;; ++attempt) {
    impl_->refresh_token(false);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock_type::now());
    if (left.count() <= 0) {
      if (r.status.ok())
        r.status = outcome::failure(ec::unavailable, method + " " + path + ": deadline passed");
      return r;
    }
    r = impl_->once(method, path, body, left);
    if (r.http_status == 401 && !token_refreshed && !impl_->config.token_file.empty()) {
      impl_->refresh_token(true); // the token may have rotated under us
      token_refreshed = true;
      continue;
    }
    bool transient =
      (r.http_status == 0 && r.status.code == ec::unavailable) || transient_http(r.http_status);
    if (!transient || attempt >= impl_->retries.attempts)
      return r;
    if (clock_type::now() + backoff >= end)
      return r;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, impl_->retries.max_backoff);
  }
}

outcome kube_client::stream(const std::string& path,
                            const std::function<bool(const std::string&)>& on_line,
                            std::chrono::milliseconds limit, const std::atomic<bool>* stop) {
  call_guard guard{impl_->busy};
  if (!guard.owned())
    return reentered("GET", path);
  impl_->refresh_token(false);
  line_sink sink{&on_line, {}, false};
  auto headers = impl_->prepare("GET", path, "", limit);
  curl_easy_setopt(impl_->curl, CURLOPT_WRITEFUNCTION, split_lines);
  curl_easy_setopt(impl_->curl, CURLOPT_WRITEDATA, &sink);
  if (stop != nullptr) {
    curl_easy_setopt(impl_->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(impl_->curl, CURLOPT_XFERINFOFUNCTION, abort_when_stopped);
    curl_easy_setopt(impl_->curl, CURLOPT_XFERINFODATA, stop);
  }
  auto rc = curl_easy_perform(impl_->curl);
  curl_slist_free_all(headers);
  long http_status = 0;
  curl_easy_getinfo(impl_->curl, CURLINFO_RESPONSE_CODE, &http_status);
  if (sink.stopped || (stop != nullptr && stop->load()))
    return outcome::success();
  if (http_status != 0 && code_of_http_status(http_status) != ec::none)
    return outcome::failure(code_of_http_status(http_status), "watch " + path + ": HTTP "
                                                                + std::to_string(http_status) + ": "
                                                                + api_message(sink.pending));
  if (rc != CURLE_OK && rc != CURLE_OPERATION_TIMEDOUT)
    return outcome::failure(ec::unavailable,
                            "watch " + path + ": " + std::string{curl_easy_strerror(rc)});
  return outcome::success();
}

} // namespace rds::services::kube
