// civetweb glue: one catch-all request handler that hands a request struct to the handler.
#include "services/http/http_server.hpp"
#include "services/http/listener_wake.hpp"

#include <civetweb.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <filesystem>

#include <cstring>
#include <mutex>
#include <vector>

#include "services/codec/base64.hpp"

namespace rds::services::http {

namespace {

std::once_flag library_initialized;

} // namespace

const char* reason_phrase(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 406:
    return "Not Acceptable";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Unknown";
  }
}

namespace {

void read_basic_auth(mg_connection* conn, request& req) {
  const char* header = mg_get_header(conn, "Authorization");
  if (header == nullptr || std::strncmp(header, "Basic ", 6) != 0)
    return;
  std::string decoded;
  if (!codec::decode_base64(header + 6, decoded))
    return;
  auto colon = decoded.find(':');
  if (colon == std::string::npos)
    return;
  req.user = decoded.substr(0, colon);
  req.password = decoded.substr(colon + 1);
}

} // namespace

/// Writes a streamed body straight to its connection.
class connection_sink : public stream_sink {
 public:
  connection_sink(mg_connection* conn, const std::atomic<bool>& stopping)
    : conn_(conn)
    , stopping_(stopping) {}
  bool write(const std::string& chunk) override {
    return !chunk.empty() && mg_write(conn_, chunk.data(), chunk.size()) > 0;
  }
  bool open() const override { return !stopping_.load(); }

 private:
  mg_connection* conn_;
  const std::atomic<bool>& stopping_;
};

namespace {

/// Shuts down the socket of the connection whose ports `info` names (found among this process's
/// descriptors: civetweb does not hand out a connection's socket).
void shut_down_connection(const mg_request_info& info) {
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator{"/proc/self/fd", ec}) {
    int fd = -1;
    auto name = entry.path().filename().string();
    if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc{})
      continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof(local), peer_len = sizeof(peer);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0
        || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0)
      continue;
    auto port_of = [](const sockaddr_storage& a) {
      if (a.ss_family == AF_INET)
        return static_cast<int>(ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port));
      if (a.ss_family == AF_INET6)
        return static_cast<int>(ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port));
      return -1;
    };
    if (port_of(local) == info.server_port && port_of(peer) == info.remote_port) {
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
  }
}

} // namespace

struct server::impl {
  handler handle;
  mg_context* ctx = nullptr;
  int max_connections = 0;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  /// The host part of the listening address, for the wake-up connections of stop().
  std::string listen_host;

  /// Counts a request being served for as long as it lives.
  struct serving {
    std::atomic<int>& count;
    explicit serving(std::atomic<int>& c)
      : count(c) {
      ++count;
    }
    ~serving() { --count; }
  };

  static void write_answer(mg_connection* conn, const response& resp, bool close) {
    // Head and body in one write: two small writes meet Nagle and delayed ACKs (40 ms each).
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " + reason_phrase(resp.status)
                      + "\r\nContent-Type: " + resp.content_type;
    for (auto& [name, value] : resp.headers)
      out += "\r\n" + name + ": " + value;
    if (resp.stream) {
      out += "\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    } else {
      out += "\r\nContent-Length: " + std::to_string(resp.body.size())
             + (close ? "\r\nConnection: close\r\n\r\n" : "\r\nConnection: keep-alive\r\n\r\n")
             + resp.body;
    }
    mg_write(conn, out.data(), out.size());
  }

  static int on_request(mg_connection* conn, void* data) {
    auto* self = static_cast<impl*>(data);
    serving counted{self->connections};
    if (self->max_connections > 0 && self->connections.load() > self->max_connections) {
      response busy;
      busy.status = 503;
      busy.content_type = "text/plain";
      busy.body = "too many connections (at most " + std::to_string(self->max_connections) + ")\n";
      write_answer(conn, busy, true);
      return 503;
    }
    auto* info = mg_get_request_info(conn);
    request req;
    req.method = info->request_method != nullptr ? info->request_method : "";
    req.path = info->local_uri != nullptr ? info->local_uri : "";
    req.query = info->query_string != nullptr ? info->query_string : "";
    read_basic_auth(conn, req);
    if (const char* h = mg_get_header(conn, "Authorization"))
      req.authorization = h;
    if (const char* h = mg_get_header(conn, "Accept"))
      req.accept = h;
    char buf[8192];
    for (int n = mg_read(conn, buf, sizeof(buf)); n > 0; n = mg_read(conn, buf, sizeof(buf)))
      req.body.append(buf, static_cast<size_t>(n));
    auto resp = self->handle(req);
    if (resp.drop) {
      // The answer is lost on the way: the connection ends with nothing written. civetweb
      // would keep it open for a next request until its keep-alive timeout (500 ms), so it is
      // shut down here and civetweb sees it closed.
      shut_down_connection(*mg_get_request_info(conn));
      return 1;
    }
    write_answer(conn, resp, false);
    if (resp.stream) {
      connection_sink sink{conn, self->stopping};
      resp.stream(sink);
    }
    return resp.status;
  }
};

server::server(const std::string& address, handler h, int threads)
  : server(address, std::move(h), server_limits{threads, 0}) {}

server::server(const std::string& address, handler h, server_limits limits)
  : impl_(std::make_unique<impl>()) {
  std::call_once(library_initialized, [] { mg_init_library(0); });
  impl_->handle = std::move(h);
  impl_->max_connections = limits.max_connections;
  // With a connection limit, one thread more than the limit answers the one too many at once
  // (503) instead of leaving it queued.
  auto threads = limits.max_connections > 0 ? limits.max_connections + 1 : limits.threads;
  auto thread_count = std::to_string(threads);
  std::vector<const char*> options{
    "listening_ports",   address.c_str(), "num_threads", thread_count.c_str(),
    "enable_keep_alive", "yes",           "tcp_nodelay", "1"};
  auto io_timeout = std::to_string(limits.io_timeout_ms);
  if (limits.io_timeout_ms > 0) {
    options.push_back("request_timeout_ms");
    options.push_back(io_timeout.c_str());
  }
  options.push_back(nullptr);
  mg_callbacks callbacks{};
  impl_->ctx = mg_start(&callbacks, impl_.get(), options.data());
  if (impl_->ctx == nullptr) {
    error_ = "cannot listen on " + address;
    return;
  }
  mg_set_request_handler(impl_->ctx, "/", &impl::on_request, impl_.get());
  mg_server_port ports_info[4];
  int n = mg_get_server_ports(impl_->ctx, 4, ports_info);
  if (n > 0)
    port_ = ports_info[0].port;
  impl_->listen_host = endpoint_of(address).host;
}

server::~server() {
  stop();
}

void server::stop() {
  impl_->stopping = true;
  if (impl_->ctx != nullptr) {
    listener_wake wake{{listen_endpoint{impl_->listen_host, port_}}};
    mg_stop(impl_->ctx);
  }
  impl_->ctx = nullptr;
}

int server::connections() const {
  return impl_->connections.load();
}

std::string query_value(const std::string& query, const std::string& key) {
  char buf[1024];
  auto n = mg_get_var(query.c_str(), query.size(), key.c_str(), buf, sizeof(buf));
  return n >= 0 ? std::string(buf, static_cast<size_t>(n)) : std::string{};
}

} // namespace rds::services::http
