// One accept thread; per connection a detached thread that owns both sockets. The SSL context
// lives as long as the last connection that uses it.
#include "services/http/tls_terminator.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

namespace rds::services::http {

struct tls_terminator::shared {
  SSL_CTX* ctx = nullptr;
  int listen_fd = -1;
  int backend_port = 0;
  int stop_pipe[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  std::thread acceptor;

  ~shared() {
    if (ctx != nullptr)
      SSL_CTX_free(ctx);
  }
};

namespace {

int connect_backend(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
  }
  if (fd >= 0)
    ::close(fd);
  return -1;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    auto n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

/// Copies bytes between the TLS client and the backend until one side closes or stalls.
void serve(std::shared_ptr<tls_terminator::shared> s, int client) {
  // A client that stops talking mid-handshake or mid-request does not hold the thread forever.
  timeval limit{30, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  SSL* ssl = SSL_new(s->ctx);
  int backend = -1;
  if (ssl != nullptr && SSL_set_fd(ssl, client) == 1 && SSL_accept(ssl) == 1)
    backend = connect_backend(s->backend_port);
  char buf[16384];
  while (backend >= 0 && !s->stopping) {
    pollfd fds[2] = {{client, POLLIN, 0}, {backend, POLLIN, 0}};
    if (SSL_pending(ssl) == 0 && ::poll(fds, 2, 1000) <= 0)
      continue;
    if (SSL_pending(ssl) > 0 || (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      int n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0 || !write_all(backend, buf, static_cast<size_t>(n)))
        break;
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      auto n = ::recv(backend, buf, sizeof(buf), 0);
      if (n <= 0 || SSL_write(ssl, buf, static_cast<int>(n)) <= 0)
        break;
    }
  }
  if (backend >= 0)
    ::close(backend);
  if (ssl != nullptr) {
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  ::close(client);
}

} // namespace

tls_terminator::tls_terminator(const std::string& listen, int backend_port,
                               const std::string& certificate_file, const std::string& key_file)
  : shared_(std::make_shared<shared>()) {
  auto& s = *shared_;
  s.backend_port = backend_port;
  s.ctx = SSL_CTX_new(TLS_server_method());
  if (s.ctx == nullptr || SSL_CTX_use_certificate_chain_file(s.ctx, certificate_file.c_str()) != 1
      || SSL_CTX_use_PrivateKey_file(s.ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1
      || SSL_CTX_check_private_key(s.ctx) != 1) {
    char why[256];
    ERR_error_string_n(ERR_get_error(), why, sizeof(why));
    error_ = "cannot use certificate " + certificate_file + " and key " + key_file + ": " + why;
    return;
  }
  SSL_CTX_set_min_proto_version(s.ctx, TLS1_2_VERSION);
  auto colon = listen.rfind(':');
  auto host = colon == std::string::npos ? listen : listen.substr(0, colon);
  auto port = colon == std::string::npos ? std::string{"0"} : listen.substr(colon + 1);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(port.c_str())));
  s.listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 || s.listen_fd < 0
      || ::bind(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::listen(s.listen_fd, 64) != 0 || ::pipe2(s.stop_pipe, O_CLOEXEC) != 0) {
    error_ = "cannot listen on " + listen + ": " + std::strerror(errno);
    return;
  }
  socklen_t length = sizeof(addr);
  ::getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &length);
  port_ = ntohs(addr.sin_port);
  auto state = shared_;
  s.acceptor = std::thread{[state] {
    while (!state->stopping) {
      pollfd fds[2] = {{state->listen_fd, POLLIN, 0}, {state->stop_pipe[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) <= 0 || (fds[1].revents & POLLIN) != 0)
        continue;
      int client = ::accept4(state->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0)
        std::thread{serve, state, client}.detach();
    }
  }};
}

tls_terminator::~tls_terminator() {
  auto& s = *shared_;
  s.stopping = true;
  if (s.stop_pipe[1] >= 0 && ::write(s.stop_pipe[1], "x", 1) < 0) {
    // The acceptor also wakes when the listening socket is closed below.
  }
  if (s.acceptor.joinable())
    s.acceptor.join();
  for (int fd : {s.listen_fd, s.stop_pipe[0], s.stop_pipe[1]})
    if (fd >= 0)
      ::close(fd);
}

} // namespace rds::services::http
