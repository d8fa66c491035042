// The inspection port's HTTP edge: checks the method, the bearer token and the query, asks the
// inspector for the answer (or follows the state feed for /debug/stream) and writes it as JSON,
// HTML or Server-Sent Events. Read-only: nothing it serves changes anything. Bounded: at most
// `max_clients` connections, each answer paged or small.
#pragma once

#include <caf/actor_system.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "messages/actors.hpp"
#include "messages/debug_port.hpp"
#include "services/http/http_server.hpp"

namespace rds::services::inspection {

struct debug_port_config {
  /// host:port ("127.0.0.1:0" picks a free port).
  std::string address;
  /// The bearer token every request must carry; empty: none asked.
  std::string token;
  /// The inspector's deadline per actor; the port waits a little longer for the inspector.
  caf::timespan timeout = std::chrono::milliseconds{500};
  int max_clients = 8;
  /// Which roles run (for the page at `/`).
  bool controller = true;
  bool node = false;
  /// How long one poll of the state feed waits for a change (a stream sees the port stopping
  /// within it).
  caf::timespan stream_poll = std::chrono::milliseconds{500};
  /// A stream sends a comment line when nothing happened for this long, so a gone client is
  /// noticed (and its connection freed) and proxies keep the connection.
  caf::timespan heartbeat = std::chrono::seconds{1};
};

class debug_port {
 public:
  debug_port(caf::actor_system& sys, debug_port_config config, inspector_actor inspector,
             state_feed_actor feed, metrics_actor metrics);
  ~debug_port();
  debug_port(const debug_port&) = delete;
  debug_port& operator=(const debug_port&) = delete;

  /// Empty when serving; otherwise why not ("cannot listen on ...").
  const std::string& error() const;
  int port() const;
  /// Ends the streams and stops serving.
  void stop();

 private:
  http::response handle(const http::request& req);
  http::response answer(const http::request& req, std::string& label);
  void stream(http::stream_sink& sink, bool replay, uint64_t after);

  caf::actor_system& sys_;
  debug_port_config config_;
  inspector_actor inspector_;
  state_feed_actor feed_;
  metrics_actor metrics_;
  std::unique_ptr<http::server> server_;
  std::string error_;
};

} // namespace rds::services::inspection
