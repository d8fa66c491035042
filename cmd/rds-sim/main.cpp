// rds-sim: a RouterOS REST simulator of a ROSE Data Server's /disk and /file menus, for tests,
// benchmarks and laptops. Listens on loopback by default and prints its URL.
#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <pthread.h>
#include <string>
#include <vector>

#include "cmd/help_format.hpp"
#include "services/http/http_server.hpp"
#include "services/http/tls_terminator.hpp"
#include "services/rds/routeros_simulator.hpp"

using namespace rds::services;
using rds::rule;

namespace {

bool parse_rate(const std::string& text, double& out) {
  try {
    size_t used = 0;
    out = std::stod(text, &used);
    return used == text.size() && out >= 0 && out <= 1;
  } catch (...) {
    return false;
  }
}

CLI::Validator byte_count(const char* wording, uint64_t most = UINT64_MAX) {
  return rule([wording, most](const std::string& v) -> std::string {
    uint64_t n = 0;
    return rds_api::parse_bytes(v, n) && n <= most ? "" : wording;
  });
}

/// VERB=P, with P from 0 to 1, into `rates`.
bool add_verb_rate(const std::string& value, std::map<std::string, double>& rates) {
  auto split = value.find('=');
  double rate = 0;
  if (split == std::string::npos || split == 0 || !parse_rate(value.substr(split + 1), rate))
    return false;
  rates[value.substr(0, split)] = rate;
  return true;
}

} // namespace

int main(int argc, char** argv) {
  rds_api::simulator_config cfg;
  std::string listen = "127.0.0.1:0";
  std::string tls_cert, tls_key, password_file;
  uint64_t latency_ms = 0;
  std::vector<std::string> error_rates, drop_after_rates;

  CLI::App app{"A RouterOS REST simulator (/rest/disk, /rest/file, /rest/system/resource) "
               "backed by sparse\nfiles in --data-dir; its state survives restarts.",
               "rds-sim"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  rds::use_help_format(app, 34);
  app.add_option("--data-dir", cfg.data_dir, "pool files and state")->type_name("DIR")->required();
  app
    .add_option("--listen", listen,
                "where to listen; port 0 picks a free port (the URL is printed)")
    ->type_name("HOST:PORT")
    ->capture_default_str();
  auto cert =
    app
      .add_option(
        "--tls-cert", tls_cert,
        "serve HTTPS with this PEM certificate (chain), as www-ssl does; needs\n--tls-key")
      ->type_name("FILE");
  auto key =
    app.add_option("--tls-key", tls_key, "the certificate's PEM private key (with --tls-cert)")
      ->type_name("FILE");
  cert->needs(key);
  key->needs(cert);
  app.add_option("--user", cfg.user, "HTTP Basic user")->type_name("NAME")->capture_default_str();
  app.add_option("--password-file", password_file, "HTTP Basic password (none: empty)")
    ->type_name("FILE")
    ->check(rule([](const std::string& v) -> std::string {
      return std::ifstream{v} ? "" : "cannot be read";
    }));
  app.add_option("--pool", cfg.pool, "pool slot and mount point")
    ->type_name("NAME")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      return v.empty() || v.find('/') != std::string::npos ? "must be a name without '/'" : "";
    }));
  app.add_option("--pool-size", cfg.pool_size, "the pool's size")
    ->type_name("BYTES")
    ->capture_default_str()
    ->check(byte_count("must be a byte count"));
  app.add_option("--latency-ms", latency_ms, "delay every request")
    ->type_name("N")
    ->capture_default_str()
    ->check(byte_count("must be milliseconds up to 60000", 60000));
  auto verb_rate = rule([](const std::string& v) -> std::string {
    std::map<std::string, double> ignored;
    return add_verb_rate(v, ignored) ? "" : "must be VERB=P with P from 0 to 1";
  });
  app
    .add_option("--error-rate", error_rates,
                "answer this share of VERB requests with a 500 (repeatable)")
    ->type_name("VERB=P")
    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
    ->allow_extra_args(false)
    ->check(verb_rate);
  app.add_option("--drop-rate", cfg.drop_rate, "close this share of connections without an answer")
    ->type_name("P")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      double rate = 0;
      return parse_rate(v, rate) ? "" : "must be from 0 to 1";
    }));
  app
    .add_option("--drop-after", drop_after_rates,
                "carry out this share of VERB requests, then close the connection without\n"
                "an answer (repeatable)")
    ->type_name("VERB=P")
    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
    ->allow_extra_args(false)
    ->check(verb_rate);
  app
    .add_option("--copy-rate", cfg.copy_bytes_per_second,
                "/disk copy copies this many bytes per second (0: no limit)")
    ->type_name("BYTES")
    ->capture_default_str()
    ->check(byte_count("must be a byte count per second"));
  app.add_flag("--legacy-rest", cfg.legacy_rest,
               "answer PATCH and DELETE by id without doing anything, as some RouterOS\n"
               "versions do; POST .../set and .../remove still work");
  app.add_flag("--deny-policy", cfg.deny_policy,
               "answer everything with 500 \"not allowed (9)\", as a user without the api\n"
               "policy gets");
  app.add_option("--seed", cfg.seed, "seed of the fault dice")
    ->type_name("N")
    ->capture_default_str()
    ->check(byte_count("must be a number", UINT32_MAX));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "rds-sim: %s (see --help)\n", e.what());
    return 2;
  }
  cfg.latency = std::chrono::milliseconds{latency_ms};
  for (auto& rate : error_rates)
    add_verb_rate(rate, cfg.error_rate);
  for (auto& rate : drop_after_rates)
    add_verb_rate(rate, cfg.drop_after_rate);
  if (!password_file.empty()) {
    std::ifstream in{password_file};
    std::getline(in, cfg.password);
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
