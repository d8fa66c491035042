// Flag definitions of rds-csi-plugin on CLI11: one table serves parsing and --help, so the help
// shows the defaults the parser really uses. Every value is checked here, once.
#include "cmd/rds-csi-plugin/plugin_options.hpp"

#include <CLI/App.hpp>
#include <CLI/Config.hpp>
#include <CLI/Formatter.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>

#include "actors/volume_test_faults.hpp"
#include "cmd/help_format.hpp"
#include "messages/validation.hpp"

namespace rds {

namespace {

constexpr const char* default_endpoint = "unix:///tmp/rds-csi/csi.sock";
constexpr long long longest_timeout_seconds = 7 * 24 * 3600;
constexpr const char* node_group = "Node plugin (--mode=node or all)";

bool parse_number(const std::string& text, long long lo, long long hi, long long& out) {
  if (text.empty() || text.size() > 9)
    return false;
  long long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + (c - '0');
  }
  if (value < lo || value > hi)
    return false;
  out = value;
  return true;
}

/// CSI: at most 63 characters, domain-name notation, alphanumeric at both ends.
bool valid_driver_name(const std::string& name) {
  if (name.empty() || name.size() > 63)
    return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name.front()) || !alnum(name.back()))
    return false;
  for (char c : name)
    if (!alnum(c) && c != '-' && c != '.')
      return false;
  return true;
}

bool valid_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return false;
  long long port = 0;
  return parse_number(address.substr(colon + 1), 0, 65535, port);
}

CLI::Validator whole_number(long long lo, long long hi, const std::string& unit = "") {
  return rule([lo, hi, unit](const std::string& v) -> std::string {
    long long n = 0;
    return parse_number(v, lo, hi, n) ? ""
                                      : "must be a whole number" + unit + " from "
                                          + std::to_string(lo) + " to " + std::to_string(hi);
  });
}

CLI::Validator one_of(std::vector<std::string> allowed, std::string wording) {
  return rule([allowed, wording](const std::string& v) -> std::string {
    return std::find(allowed.begin(), allowed.end(), v) != allowed.end() ? ""
                                                                         : "must be " + wording;
  });
}

CLI::Validator not_empty(std::string wording) {
  return rule([wording](const std::string& v) -> std::string { return v.empty() ? wording : ""; });
}

CLI::Validator absolute_path() {
  return rule([](const std::string& v) -> std::string {
    return v.empty() || v.front() != '/' ? "must be an absolute path" : "";
  });
}

/// Values that need converting after parsing; they start at the defaults.
struct flag_text {
  std::string mode = "controller";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string insecure_skip_verify = "false";
  long long migration_min = 30;
  long long migration_max = 3600;
  long long migration_default = 300;
  bool version = false;
};

void define_flags(CLI::App& app, plugin_options& o, flag_text& t) {
  app.description("Kubernetes CSI driver for MikroTik ROSE Data Server NVMe/TCP storage.");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  use_help_format(app, 36);
  auto seconds = [](long long lo, long long hi) { return whole_number(lo, hi, " of seconds"); };

  app
    .add_option("--endpoint", o.endpoint,
                "CSI socket; $CSI_ENDPOINT when set and the flag is not given")
    ->type_name("unix:///PATH")
    ->default_str(default_endpoint)
    ->check(rule([](const std::string& v) -> std::string {
      return v.rfind("unix:", 0) == 0 && v.find('/') != std::string::npos
               ? ""
               : "must be unix:///absolute/path";
    }));
  app.add_option("--driver-name", o.driver_name, "CSI driver name")
    ->type_name("NAME")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      return valid_driver_name(v) ? "" : "must be a domain name of at most 63 characters";
    }));
  app.add_option("--mode", t.mode, "which CSI services to run")
    ->type_name("controller|node|all")
    ->capture_default_str()
    ->check(one_of({"controller", "node", "all"}, "controller, node or all"));
  app.add_option("--node-id", o.node_id, "this node's id (required for node and all)")
    ->type_name("ID")
    ->check(rule([](const std::string& v) -> std::string {
      auto r = check_node_id(v);
      return r.ok() ? "" : r.message;
    }));
  app
    .add_option("--metrics-address", o.metrics_address,
                "serve Prometheus /metrics here; port 0 picks a free port; empty disables")
    ->type_name("HOST:PORT")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      return v.empty() || valid_address(v) ? "" : "must be HOST:PORT or empty";
    }));
  app.add_option("--log-level", t.log_level, "the least severe records written")
    ->type_name("debug|info|warning|error")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      log::level ignored{};
      return log::parse_level(v, ignored) ? "" : "must be debug, info, warning or error";
    }));
  app
    .add_option("--log-format", t.log_format,
                "text: one line per record; json: one JSON object per line (time, level,\n"
                "message, volume, node)")
    ->type_name("text|json")
    ->capture_default_str()
    ->check(one_of({"text", "json"}, "text or json"));
  app.add_option("--migration-timeout-min", t.migration_min, "lowest migrationTimeoutSeconds")
    ->type_name("SECONDS")
    ->capture_default_str()
    ->check(seconds(1, longest_timeout_seconds));
  app.add_option("--migration-timeout-max", t.migration_max, "highest migrationTimeoutSeconds")
    ->type_name("SECONDS")
    ->capture_default_str()
    ->check(seconds(1, longest_timeout_seconds));
  app
    .add_option("--migration-timeout-default", t.migration_default,
                "migration timeout of a volume that sets none")
    ->type_name("SECONDS")
    ->capture_default_str()
    ->check(seconds(1, longest_timeout_seconds));
  app
    .add_option("--kubeconfig", o.kubeconfig,
                "Kubernetes API access (none: in-cluster when run in a pod; otherwise\n"
                "attachment state in memory only)")
    ->type_name("PATH")
    ->check(not_empty("must be a path"));
  app
    .add_option("--kube-timeout", o.kube_timeout_seconds,
                "deadline of one Kubernetes API call, retries included")
    ->type_name("SECONDS")
    ->capture_default_str()
    ->check(seconds(1, 600));
  app
    .add_option("--kube-page-size", o.kube_page_size, "items per page when listing from Kubernetes")
    ->type_name("N")
    ->capture_default_str()
    ->check(whole_number(1, 10000));
  app
    .add_option("--rds-address", o.rds_address,
                "the RDS's REST address (none: an embedded RouterOS simulator on loopback)")
    ->type_name("HOST")
    ->check(rule([](const std::string& v) -> std::string {
      for (char c : v)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':'))
          return "must be a host name or an IP address";
      return v.empty() ? "must not be empty" : "";
    }));
  app
    .add_option("--rds-url", o.rds_url,
                "the REST base URL itself, e.g. http://127.0.0.1:8080/rest for an rds-sim\n"
                "(overrides --rds-address and --rds-port)")
    ->type_name("URL")
    ->check(rule([](const std::string& v) -> std::string {
      auto scheme_ok = v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0;
      return scheme_ok && v.size() > 12 && v.find_first_of(" \"'\n") == std::string::npos
               ? ""
               : "must be an http:// or https:// URL";
    }));
  app.add_option("--rds-port", o.rds_port, "HTTPS port of the RDS REST API")
    ->type_name("PORT")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      long long port = 0;
      return parse_number(v, 1, 65535, port) ? "" : "must be a port from 1 to 65535";
    }));
  app.add_option("--rds-user", o.rds_user, "RouterOS user")
    ->type_name("NAME")
    ->capture_default_str()
    ->check(not_empty("must not be empty"));
  app.add_option("--rds-password-file", o.rds_password_file, "the user's password (a Secret)")
    ->type_name("FILE")
    ->check(not_empty("must be a path"));
  app.add_option("--rds-ca-file", o.rds_ca_file, "CA of the RDS's certificate (PEM)")
    ->type_name("FILE")
    ->check(not_empty("must be a path"));
  app
    .add_option("--rds-insecure-skip-verify", t.insecure_skip_verify,
                "true: do not verify the RDS's certificate (lab use only)")
    ->type_name("true|false")
    ->capture_default_str()
    ->check(one_of({"true", "false"}, "true or false"));
  app.add_option("--rds-volume-base-path", o.rds_volume_base_path, "where volume files go")
    ->type_name("PATH")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      if (v.size() < 2 || v.front() != '/' || v.back() == '/' || v.find("..") != std::string::npos
          || v.find("//") != std::string::npos)
        return "must be an absolute path like /raid10 or /raid10/volumes";
      for (char c : v)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-' || c == '_'))
          return "may contain only letters, digits, '/', '-' and '_'";
      return "";
    }));
  app
    .add_option("--rds-breaker-failures", o.rds_breaker_failures,
                "consecutive RDS failures that pause requests")
    ->type_name("N")
    ->capture_default_str()
    ->check(whole_number(1, 1000));
  app
    .add_option("--rds-breaker-cooldown", o.rds_breaker_cooldown_seconds,
                "how long requests stay paused")
    ->type_name("SECONDS")
    ->capture_default_str()
    ->check(seconds(1, 3600));
  app.add_option("--rds-sim-data-dir", o.rds_sim_data_dir, "the embedded simulator's files")
    ->type_name("DIR")
    ->capture_default_str()
    ->check(absolute_path());
  app
    .add_option("--shutdown-grace", o.shutdown_grace_seconds,
                "on SIGTERM, how long in-flight RPCs may finish")
    ->type_name("SECONDS")
    ->capture_default_str()
    ->check(seconds(0, 600));
  app
    .add_option("--volume-idle-seconds", o.volume_idle_seconds,
                "controller: retire the actor of an attached, not migrating volume idle this "
                "long (revived by its next request); 0: never")
    ->type_name("SECONDS")
    ->capture_default_str()
    ->check(seconds(0, 86400));
  app
    .add_option("--debug-address", o.debug_address,
                "serve the read-only inspection port here; port 0 picks a free port; empty\n"
                "disables; a non-loopback host needs --debug-allow-remote and\n"
                "--debug-token-file")
    ->type_name("HOST:PORT")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      return v.empty() || valid_address(v) ? "" : "must be HOST:PORT or empty";
    }));
  app.add_flag("--debug-allow-remote", o.debug_allow_remote,
               "let --debug-address be a non-loopback address (needs --debug-token-file)");
  app
    .add_option("--debug-token-file", o.debug_token_file,
                "every inspection request must carry this token (Authorization: Bearer)")
    ->type_name("FILE")
    ->check(not_empty("must be a path"));
  app
    .add_option("--debug-timeout", o.debug_timeout_ms,
                "how long the inspection port waits for each actor's answer")
    ->type_name("MS")
    ->capture_default_str()
    ->check(whole_number(1, 60000, " of milliseconds"));
  app
    .add_option("--debug-max-clients", o.debug_max_clients,
                "concurrent connections of the inspection port (more get 503)")
    ->type_name("N")
    ->capture_default_str()
    ->check(whole_number(1, 256));

  app.add_option("--kubelet-dir", o.kubelet_dir, "staging and target paths must lie inside it")
    ->group(node_group)
    ->type_name("DIR")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      return v.size() < 2 || v.front() != '/' || v.find("..") != std::string::npos
               ? "must be an absolute path other than /"
               : "";
    }));
  app
    .add_option("--nvme-connector", o.nvme_connector,
                "fabrics: NVMe/TCP through /dev/nvme-fabrics; loop: the embedded simulator's\n"
                "disk files as loop devices with a laid-out sysfs (none: loop with the\n"
                "embedded simulator, fabrics with --rds-address or --rds-url)")
    ->group(node_group)
    ->type_name("fabrics|loop")
    ->check(one_of({"fabrics", "loop"}, "fabrics or loop"));
  app
    .add_option("--sysfs-root", o.sysfs_root,
                "where NVMe controllers appear (with the loop connector, /sys means\n"
                "<rds-sim-data-dir>/sysfs)")
    ->group(node_group)
    ->type_name("DIR")
    ->capture_default_str()
    ->check(absolute_path());
  app
    .add_option("--managed-nqn-prefix", o.managed_nqn_prefix,
                "only subsystems under it are ever disconnected")
    ->group(node_group)
    ->type_name("NQN")
    ->capture_default_str()
    ->check(rule([](const std::string& v) -> std::string {
      return v.size() > 5 && v.compare(0, 4, "nqn.") == 0 && v.find(':') != std::string::npos
                 && v.size() <= 223
               ? ""
               : "must be an NQN prefix: nqn.<date>.<domain>:<something>";
    }));
  app.add_option("--host-nqn-file", o.host_nqn_file, "this host's NQN (absent: the kernel's own)")
    ->group(node_group)
    ->type_name("FILE")
    ->capture_default_str()
    ->check(absolute_path());
  app
    .add_option("--max-volumes-per-node", o.max_volumes_per_node,
                "reported by NodeGetInfo (0: no limit)")
    ->group(node_group)
    ->type_name("N")
    ->capture_default_str()
    ->check(whole_number(0, 100000));
  app
    .add_option("--node-timeout", o.node_timeout_seconds,
                "deadline of one node operation and of every program it runs")
    ->group(node_group)
    ->type_name("SECONDS")
    ->capture_default_str()
    ->check(seconds(1, 3600));
  app.add_option("--blkid", o.blkid, "the blkid program (found on PATH unless a path)")
    ->group(node_group)
    ->type_name("PATH")
    ->capture_default_str()
    ->check(not_empty("must name a program"));

  // Hidden (no group): faults for the inspection port's integration tests only. Checked after
  // the parse: CLI11 names a hidden option "" in a check's message.
  app.add_option("--test-fault", o.test_faults, "test only")
    ->group("")
    ->type_name("SPEC")
    ->expected(1);

  app.add_flag("--version", t.version, "print the version and exit");
}

/// CLI11 reads `--flag=` as "--flag" wanting its value in the next argument; here it means the
/// empty value (--metrics-address= disables metrics), so it is passed on as such.
std::vector<std::string> with_empty_values(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (auto& arg : args) {
    if (arg.size() > 3 && arg.rfind("--", 0) == 0 && arg.find('=') == arg.size() - 1) {
      out.push_back(arg.substr(0, arg.size() - 1));
      out.emplace_back();
    } else {
      out.push_back(arg);
    }
  }
  return out;
}

} // namespace

bool loopback_address(const std::string& address) {
  auto colon = address.rfind(':');
  auto host = address.substr(0, colon == std::string::npos ? address.size() : colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host == "::1")
    return true;
  // 127.0.0.0/8, written as four decimal numbers.
  if (host.rfind("127.", 0) != 0)
    return false;
  int parts = 0;
  size_t at = 0;
  while (at <= host.size()) {
    auto dot = host.find('.', at);
    auto part = host.substr(at, dot == std::string::npos ? std::string::npos : dot - at);
    long long n = 0;
    if (!parse_number(part, 0, 255, n) || part.size() > 3)
      return false;
    ++parts;
    if (dot == std::string::npos)
      break;
    at = dot + 1;
  }
  return parts == 4;
}

std::string plugin_usage() {
  CLI::App app{"", "rds-csi-plugin"};
  plugin_options o;
  flag_text t;
  define_flags(app, o, t);
  return app.help();
}

parsed_options parse_plugin_options(const std::vector<std::string>& args,
                                    const std::string& env_endpoint) {
  parsed_options result;
  auto& o = result.options;
  o.endpoint = env_endpoint.empty() ? default_endpoint : env_endpoint;
  flag_text t;
  CLI::App app{"", "rds-csi-plugin"};
  define_flags(app, o, t);
  auto reversed = with_empty_values(args);
  std::reverse(reversed.begin(), reversed.end()); // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    result.help = true;
    return result;
  } catch (const CLI::ParseError& e) {
    result.error = e.what();
    std::replace(result.error.begin(), result.error.end(), '\n', ' ');
    return result;
  }
  if (t.version) {
    result.version = true;
    return result;
  }
  o.mode = t.mode == "node"  ? plugin_mode::node
           : t.mode == "all" ? plugin_mode::all
                             : plugin_mode::controller;
  log::parse_level(t.log_level, o.log_level);
  log::parse_format(t.log_format, o.log_format);
  o.rds_insecure_skip_verify = t.insecure_skip_verify == "true";
  if (t.migration_min > t.migration_max || t.migration_default < t.migration_min
      || t.migration_default > t.migration_max) {
    result.error = "migration timeouts must satisfy min <= default <= max (got min "
                   + std::to_string(t.migration_min) + ", default "
                   + std::to_string(t.migration_default) + ", max "
                   + std::to_string(t.migration_max) + ")";
    return result;
  }
  o.migrations.minimum = std::chrono::seconds{t.migration_min};
  o.migrations.maximum = std::chrono::seconds{t.migration_max};
  o.migrations.fallback = std::chrono::seconds{t.migration_default};
  if (o.runs_node() && o.node_id.empty())
    result.error = "--node-id is required with --mode=node or --mode=all";
  else if (!o.debug_address.empty() && !loopback_address(o.debug_address)
           && !(o.debug_allow_remote && !o.debug_token_file.empty()))
    result.error = "--debug-address " + o.debug_address
                   + " is not a loopback address: give --debug-allow-remote and "
                     "--debug-token-file too, or use 127.0.0.1";
  else if (o.debug_allow_remote && o.debug_token_file.empty())
    result.error = "--debug-allow-remote needs --debug-token-file";
  for (auto& fault : o.test_faults) {
    actors::volume_test_faults scratch;
    auto problem = actors::add_test_fault(fault, scratch);
    if (result.error.empty() && !problem.empty())
      result.error = "--test-fault: " + problem + " (got '" + fault + "')";
  }
  return result;
}

} // namespace rds
