// A small HTTP/1.1 server on civetweb (Debian's libcivetweb, already a dependency of
// prometheus-cpp) for the RouterOS simulator and, later, the inspection port. Handlers run on
// civetweb's threads and must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace rds::services::http {

struct request {
  std::string method;
  /// URL-decoded path, e.g. "/rest/disk/*1A".
  std::string path;
  /// The raw query string (after '?'), or empty.
  std::string query;
  std::string body;
  /// From an "Authorization: Basic" header; empty without one.
  std::string user;
  std::string password;
};

struct response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  /// Close the connection without answering (a fault to inject).
  bool drop = false;
};

class server {
 public:
  using handler = std::function<response(const request&)>;

  /// Listens on `address` ("127.0.0.1:0" picks a free port); plain HTTP.
  server(const std::string& address, handler h, int threads = 4);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Empty when serving; otherwise why not.
  const std::string& error() const { return error_; }
  int port() const { return port_; }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string error_;
  int port_ = 0;
};

/// "Not Found" for 404 and so on.
const char* reason_phrase(int status);

/// The value of `key` in a query string ("a=1&b=2"), URL-decoded; empty if absent.
std::string query_value(const std::string& query, const std::string& key);

} // namespace rds::services::http
