// rds-sim: a RouterOS REST simulator of a ROSE Data Server's /disk and /file menus, for tests,
// benchmarks and laptops. Listens on loopback by default and prints its URL.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <pthread.h>
#include <string>
#include <vector>

#include "services/http/http_server.hpp"
#include "services/http/tls_terminator.hpp"
#include "services/rds/routeros_simulator.hpp"

using namespace rds::services;

namespace {

const char* usage = R"usage(Usage: rds-sim --data-dir=DIR [flags]

A RouterOS REST simulator (/rest/disk, /rest/file, /rest/system/resource) backed by sparse
files in DIR; its state survives restarts.

Flags:
  --data-dir=DIR          pool files and state (required)
  --listen=HOST:PORT      (default: 127.0.0.1:0, a free port; the URL is printed)
  --tls-cert=FILE         serve HTTPS with this PEM certificate (chain), as www-ssl does
  --tls-key=FILE          the certificate's PEM private key (with --tls-cert)
  --user=NAME             HTTP Basic user (default: rds-csi)
  --password-file=FILE    HTTP Basic password (default: empty)
  --pool=NAME             pool slot and mount point (default: raid10)
  --pool-size=BYTES       (default: 1099511627776)
  --latency-ms=N          delay every request
  --error-rate=VERB=P     answer this share of VERB requests with a 500 (repeatable)
  --drop-rate=P           close this share of connections without an answer
  --drop-after=VERB=P     carry out this share of VERB requests, then close the connection
                          without an answer (repeatable)
  --copy-rate=BYTES       /disk copy copies this many bytes per second (default: no limit)
  --legacy-rest           answer PATCH and DELETE by id without doing anything, as some
                          RouterOS versions do; POST .../set and .../remove still work
  --deny-policy           answer everything with 500 "not allowed (9)", as a user without
                          the api policy gets
  --seed=N                seed of the fault dice (default: 1)
)usage";

bool parse_rate(const std::string& text, double& out) {
  try {
    size_t used = 0;
    out = std::stod(text, &used);
    return used == text.size() && out >= 0 && out <= 1;
  } catch (...) {
    return false;
  }
}

} // namespace

int main(int argc, char** argv) {
  rds_api::simulator_config cfg;
  std::string listen = "127.0.0.1:0";
  std::string tls_cert, tls_key;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    auto name = arg.substr(0, eq);
    auto value = eq == std::string::npos ? std::string{} : arg.substr(eq + 1);
    auto bad = [&](const char* why) {
      std::fprintf(stderr, "rds-sim: %s %s (see --help)\n", name.c_str(), why);
      return 2;
    };
    if (name == "--help") {
      std::cout << usage;
      return 0;
    } else if (name == "--data-dir") {
      cfg.data_dir = value;
    } else if (name == "--listen") {
      listen = value;
    } else if (name == "--tls-cert") {
      tls_cert = value;
    } else if (name == "--tls-key") {
      tls_key = value;
    } else if (name == "--user") {
      cfg.user = value;
    } else if (name == "--password-file") {
      std::ifstream in{value};
      if (!in)
        return bad("cannot be read");
      std::getline(in, cfg.password);
    } else if (name == "--pool") {
      cfg.pool = value;
    } else if (name == "--pool-size") {
      if (!rds_api::parse_bytes(value, cfg.pool_size))
        return bad("must be a byte count");
    } else if (name == "--latency-ms") {
      uint64_t ms = 0;
      if (!rds_api::parse_bytes(value, ms) || ms > 60000)
        return bad("must be milliseconds up to 60000");
      cfg.latency = std::chrono::milliseconds{ms};
    } else if (name == "--error-rate" || name == "--drop-after") {
      auto split = value.find('=');
      double rate = 0;
      if (split == std::string::npos || !parse_rate(value.substr(split + 1), rate))
        return bad("must be VERB=P with P from 0 to 1");
      (name == "--error-rate" ? cfg.error_rate : cfg.drop_after_rate)[value.substr(0, split)] =
        rate;
    } else if (name == "--copy-rate") {
      if (!rds_api::parse_bytes(value, cfg.copy_bytes_per_second))
        return bad("must be a byte count per second");
    } else if (name == "--legacy-rest") {
      cfg.legacy_rest = true;
    } else if (name == "--drop-rate") {
      if (!parse_rate(value, cfg.drop_rate))
        return bad("must be from 0 to 1");
    } else if (name == "--deny-policy") {
      cfg.deny_policy = true;
    } else if (name == "--seed") {
      uint64_t seed = 0;
      if (!rds_api::parse_bytes(value, seed))
        return bad("must be a number");
      cfg.seed = static_cast<uint32_t>(seed);
    } else {
      std::fprintf(stderr, "rds-sim: unknown flag %s (see --help)\n", name.c_str());
      return 2;
    }
  }
  if (cfg.data_dir.empty()) {
    std::fprintf(stderr, "rds-sim: --data-dir is required (see --help)\n");
    return 2;
  }
  if (tls_cert.empty() != tls_key.empty()) {
    std::fprintf(stderr, "rds-sim: --tls-cert and --tls-key go together (see --help)\n");
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  rds_api::routeros_simulator sim{cfg};
  if (!sim.error().empty()) {
    std::fprintf(stderr, "rds-sim: %s\n", sim.error().c_str());
    return 1;
  }
  bool tls = !tls_cert.empty();
  // With TLS, plain HTTP listens on loopback only, behind the TLS terminator.
  http::server server{tls ? "127.0.0.1:0" : listen,
                      [&sim](const http::request& req) { return sim.handle(req); }};
  if (!server.error().empty()) {
    std::fprintf(stderr, "rds-sim: %s\n", server.error().c_str());
    return 1;
  }
  std::unique_ptr<http::tls_terminator> terminator;
  int port = server.port();
  if (tls) {
    terminator = std::make_unique<http::tls_terminator>(listen, port, tls_cert, tls_key);
    if (!terminator->error().empty()) {
      std::fprintf(stderr, "rds-sim: %s\n", terminator->error().c_str());
      return 1;
    }
    port = terminator->port();
  }
  auto host = listen.substr(0, listen.rfind(':'));
  std::cout << "rds-sim listening on " << (tls ? "https://" : "http://") << host << ":" << port
            << "/rest" << std::endl;
  int signal = 0;
  sigwait(&stop, &signal);
  return 0;
}
