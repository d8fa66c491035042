// A small HTTP/1.1 server on civetweb (Debian's libcivetweb, already a dependency of
// prometheus-cpp) for the RouterOS simulator and the inspection port. Handlers run on
// civetweb's threads and must be thread-safe. A handler may answer with a stream (Server-Sent
// Events): it then writes on its connection's thread until the client goes or the server stops.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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
  /// The raw Authorization and Accept headers (empty without them).
  std::string authorization{};
  std::string accept{};
};

/// Where a streamed answer goes, chunk by chunk.
class stream_sink {
 public:
  virtual ~stream_sink() = default;
  /// Writes and flushes `chunk`; false once the client is gone (stop streaming then).
  virtual bool write(const std::string& chunk) = 0;
  /// False once the server is stopping: a stream must end soon after.
  virtual bool open() const = 0;
};

struct response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  /// Close the connection without answering (a fault to inject).
  bool drop = false;
  /// More header lines ("Allow", "WWW-Authenticate", ...).
  std::vector<std::pair<std::string, std::string>> headers{};
  /// Set: the head is sent without a length, then this writes the body until it returns; the
  /// connection is closed after it.
  std::function<void(stream_sink&)> stream{};
};

struct server_limits {
  /// Worker threads: each serves one connection at a time.
  int threads = 4;
  /// Requests served at once (a stream is served until it ends); one more is answered 503 (0: no
  /// limit but threads). The server has one thread more than this, so the one too many is
  /// answered at once; further connections wait for a thread.
  int max_connections = 0;
  /// A client that sends its request or reads its answer slower than this loses its
  /// connection (0: civetweb's default, 30 s).
  int io_timeout_ms = 0;
};

class server {
 public:
  using handler = std::function<response(const request&)>;

  /// Listens on `address` ("127.0.0.1:0" picks a free port); plain HTTP.
  server(const std::string& address, handler h, int threads = 4);
  server(const std::string& address, handler h, server_limits limits);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Empty when serving; otherwise why not.
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  /// Requests being served now.
  int connections() const;
  /// Ends the streams and stops serving (the destructor does it too).
  void stop();

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
