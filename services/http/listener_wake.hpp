// Stopping a civetweb server at once. civetweb's mg_stop (and so prometheus-cpp's Exposer
// destructor) waits for the listening thread, which sees the stop flag only when its poll returns:
// up to 2 s later with no traffic (civetweb's SOCKET_TIMEOUT_QUANTUM). A connection to the
// listening socket makes that poll return, so the stop takes milliseconds instead.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace rds::services::http {

/// Where a server listens, as given to it: host (empty, "0.0.0.0", "*", "::" or "[::]" mean every
/// address and are reached on loopback) and port.
struct listen_endpoint {
  std::string host;
  int port = 0;
};

/// "host:port" or "[v6]:port" into a listen_endpoint (port 0 when there is none).
listen_endpoint endpoint_of(const std::string& host_port);

/// While alive, connects to each endpoint every few milliseconds and closes at once. Create it
/// right before the blocking stop call and let it go out of scope after.
class listener_wake {
 public:
  explicit listener_wake(std::vector<listen_endpoint> endpoints);
  ~listener_wake();
  listener_wake(const listener_wake&) = delete;
  listener_wake& operator=(const listener_wake&) = delete;

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

} // namespace rds::services::http
