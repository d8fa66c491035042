// Brief loopback connections that wake a civetweb listening thread during its stop.
#include "services/http/listener_wake.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace rds::services::http {

namespace {

/// Starts a non-blocking connect and closes the socket: the SYN is enough to wake a poll on
/// the listening socket (the accepted connection is closed by the server as it stops).
void knock(const listen_endpoint& at) {
  std::string host = at.host;
  if (host.empty() || host == "0.0.0.0" || host == "*")
    host = "127.0.0.1";
  else if (host == "::" || host == "[::]")
    host = "::1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(at.port));
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(at.port));
    len = sizeof(sockaddr_in6);
  } else {
    return; // a host name: not resolved here (no lookups during a stop)
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
  ::close(fd);
}

} // namespace

listen_endpoint endpoint_of(const std::string& host_port) {
  listen_endpoint out;
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    out.host = host_port;
    return out;
  }
  out.host = host_port.substr(0, colon);
  auto port = host_port.substr(colon + 1);
  // civetweb suffixes: "8080s" (TLS), "8080r" (redirect).
  while (!port.empty() && (port.back() < '0' || port.back() > '9'))
    port.pop_back();
  if (!port.empty() && port.size() <= 5)
    out.port = std::stoi(port);
  return out;
}

listener_wake::listener_wake(std::vector<listen_endpoint> endpoints) {
  thread_ = std::thread{[this, endpoints = std::move(endpoints)] {
    while (!done_.load()) {
      for (auto& e : endpoints)
        if (e.port > 0)
          knock(e);
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
  }};
}

listener_wake::~listener_wake() {
  done_ = true;
  thread_.join();
}

} // namespace rds::services::http
