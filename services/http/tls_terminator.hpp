// TLS in front of a plain HTTP listener on loopback: rds-sim serves HTTPS this way, as a real
// RDS does on www-ssl. (Debian's civetweb 1.15 loads OpenSSL 1.1 symbols at run time and cannot
// use Debian 12's OpenSSL 3, so TLS is terminated here with OpenSSL directly.) Each connection
// gets its own thread, which copies bytes both ways until either side closes.
#pragma once

#include <memory>
#include <string>

namespace rds::services::http {

class tls_terminator {
 public:
  /// Accepts TLS on `listen` ("host:port", port 0 picks a free one) with the PEM certificate
  /// chain and key, and forwards each connection to 127.0.0.1:`backend_port`.
  tls_terminator(const std::string& listen, int backend_port, const std::string& certificate_file,
                 const std::string& key_file);
  ~tls_terminator();
  tls_terminator(const tls_terminator&) = delete;
  tls_terminator& operator=(const tls_terminator&) = delete;

  /// Empty when serving; otherwise why not.
  const std::string& error() const { return error_; }
  int port() const { return port_; }

  /// What the accept thread and the connection threads share (opaque).
  struct shared;

 private:
  std::shared_ptr<shared> shared_;
  std::string error_;
  int port_ = 0;
};

} // namespace rds::services::http
