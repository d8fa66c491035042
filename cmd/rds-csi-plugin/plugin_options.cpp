// Flag parsing: --flag=value or --flag value; every value is checked here, once.
#include "cmd/rds-csi-plugin/plugin_options.hpp"

#include <cctype>
#include <chrono>
#include <functional>
#include <map>

#include "messages/validation.hpp"

namespace rds {

namespace {

constexpr const char* default_endpoint = "unix:///tmp/rds-csi/csi.sock";
constexpr long long longest_timeout_seconds = 7 * 24 * 3600;

bool parse_seconds(const std::string& text, long long lo, long long hi, long long& out) {
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
  return parse_seconds(address.substr(colon + 1), 0, 65535, port);
}

} // namespace

std::string plugin_usage() {
  return R"(Usage: rds-csi-plugin [flags]

Kubernetes CSI driver for MikroTik ROSE Data Server NVMe/TCP storage.

Flags:
  --endpoint=unix:///path.sock     CSI socket (default: $CSI_ENDPOINT, else )"
         + std::string{default_endpoint} + R"()
  --driver-name=NAME               CSI driver name (default: rds.csi.srvlab.io)
  --mode=controller|node|all       which CSI services to run (default: controller)
  --node-id=ID                     this node's id (required for node and all)
  --metrics-address=HOST:PORT      serve Prometheus /metrics here; empty disables
                                   (default: 127.0.0.1:9809; port 0 picks a free port)
  --log-level=debug|info|warning|error
                                   (default: info)
  --migration-timeout-min=SECONDS  lowest migrationTimeoutSeconds accepted (default: 30)
  --migration-timeout-max=SECONDS  highest migrationTimeoutSeconds accepted (default: 3600)
  --migration-timeout-default=SECONDS
                                   timeout when a volume sets none (default: 300)
  --kubeconfig=PATH                Kubernetes API access (default: in-cluster when run in a
                                   pod; otherwise none: attachment state in memory only)
  --kube-timeout=SECONDS           deadline of one Kubernetes API call, retries included
                                   (default: 30)
  --kube-page-size=N               items per page when listing from Kubernetes (default: 500)
  --rds-address=HOST               the RDS's REST address; none: an embedded RouterOS
                                   simulator on loopback with sparse files (default)
  --rds-url=URL                    the REST base URL itself, e.g. http://127.0.0.1:8080/rest for
                                   an rds-sim (overrides --rds-address and --rds-port)
  --rds-port=PORT                  HTTPS port of the RDS REST API (default: 443)
  --rds-user=NAME                  RouterOS user (default: rds-csi)
  --rds-password-file=FILE         the user's password (a mounted Secret)
  --rds-ca-file=FILE               CA of the RDS's certificate (PEM)
  --rds-insecure-skip-verify=true  do not verify the RDS's certificate (lab use only)
  --rds-volume-base-path=PATH      where volume files go (default: /raid10)
  --rds-breaker-failures=N         consecutive RDS failures that pause requests (default: 5)
  --rds-breaker-cooldown=SECONDS   how long requests stay paused (default: 10)
  --rds-sim-data-dir=DIR           the embedded simulator's files (default: /tmp/rds-csi/rds-sim)
  --shutdown-grace=SECONDS         on SIGTERM, how long in-flight RPCs may finish (default: 5)
Node plugin (--mode=node or all):
  --kubelet-dir=DIR                staging and target paths must lie inside it
                                   (default: /var/lib/kubelet)
  --nvme-connector=fabrics|loop    fabrics: NVMe/TCP through /dev/nvme-fabrics; loop: the
                                   embedded simulator's disk files as loop devices with a
                                   laid-out sysfs (default: loop with the embedded simulator,
                                   fabrics with --rds-address)
  --sysfs-root=DIR                 where NVMe controllers appear (default: /sys; with the loop
                                   connector: <rds-sim-data-dir>/sysfs)
  --managed-nqn-prefix=NQN         only subsystems under it are ever disconnected
                                   (default: nqn.2000-02.com.mikrotik:csi-)
  --host-nqn-file=FILE             this host's NQN (default: /etc/nvme/hostnqn; absent: the
                                   kernel's own)
  --max-volumes-per-node=N         reported by NodeGetInfo (default: 0, no limit)
  --node-timeout=SECONDS           deadline of one node operation and of every program it runs
                                   (default: 180)
  --blkid=PATH                     the blkid program (default: blkid from PATH)
  --help                           print this and exit
  --version                        print the version and exit
)";
}

parsed_options parse_plugin_options(const std::vector<std::string>& args,
                                    const std::string& env_endpoint) {
  parsed_options result;
  auto& o = result.options;
  o.endpoint = env_endpoint.empty() ? default_endpoint : env_endpoint;
  long long min_s = 30, max_s = 3600, default_s = 300;
  using setter = std::function<std::string(const std::string&)>;
  auto seconds_into = [](long long& target, long long lo) {
    return [&target, lo](const std::string& v) -> std::string {
      return parse_seconds(v, lo, longest_timeout_seconds, target)
               ? ""
               : "must be a whole number of seconds from " + std::to_string(lo) + " to "
                   + std::to_string(longest_timeout_seconds);
    };
  };
  std::map<std::string, setter> flags{
    {"--endpoint",
     [&](const std::string& v) -> std::string {
       o.endpoint = v;
       return v.rfind("unix:", 0) == 0 && v.find('/') != std::string::npos
                ? ""
                : "must be unix:///absolute/path";
     }},
    {"--driver-name",
     [&](const std::string& v) -> std::string {
       o.driver_name = v;
       return valid_driver_name(v) ? "" : "must be a domain name of at most 63 characters";
     }},
    {"--mode",
     [&](const std::string& v) -> std::string {
       if (v == "controller")
         o.mode = plugin_mode::controller;
       else if (v == "node")
         o.mode = plugin_mode::node;
       else if (v == "all")
         o.mode = plugin_mode::all;
       else
         return "must be controller, node or all";
       return "";
     }},
    {"--node-id",
     [&](const std::string& v) -> std::string {
       o.node_id = v;
       auto r = check_node_id(v);
       return r.ok() ? "" : r.message;
     }},
    {"--metrics-address",
     [&](const std::string& v) -> std::string {
       o.metrics_address = v;
       return v.empty() || valid_address(v) ? "" : "must be HOST:PORT or empty";
     }},
    {"--log-level",
     [&](const std::string& v) -> std::string {
       return log::parse_level(v, o.log_level) ? "" : "must be debug, info, warning or error";
     }},
    {"--migration-timeout-min", seconds_into(min_s, 1)},
    {"--migration-timeout-max", seconds_into(max_s, 1)},
    {"--migration-timeout-default", seconds_into(default_s, 1)},
    {"--kubeconfig",
     [&](const std::string& v) -> std::string {
       o.kubeconfig = v;
       return v.empty() ? "must be a path" : "";
     }},
    {"--kube-timeout",
     [&](const std::string& v) -> std::string {
       long long s = 0;
       if (!parse_seconds(v, 1, 600, s))
         return "must be a whole number of seconds from 1 to 600";
       o.kube_timeout_seconds = static_cast<int>(s);
       return "";
     }},
    {"--kube-page-size",
     [&](const std::string& v) -> std::string {
       long long n = 0;
       if (!parse_seconds(v, 1, 10000, n))
         return "must be a whole number from 1 to 10000";
       o.kube_page_size = static_cast<int>(n);
       return "";
     }},
    {"--rds-address",
     [&](const std::string& v) -> std::string {
       o.rds_address = v;
       for (char c : v)
         if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':'))
           return "must be a host name or an IP address";
       return v.empty() ? "must not be empty" : "";
     }},
    {"--rds-url",
     [&](const std::string& v) -> std::string {
       o.rds_url = v;
       auto scheme_ok = v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0;
       return scheme_ok && v.size() > 12 && v.find_first_of(" \"'\n") == std::string::npos
                ? ""
                : "must be an http:// or https:// URL";
     }},
    {"--rds-port",
     [&](const std::string& v) -> std::string {
       long long port = 0;
       if (!parse_seconds(v, 1, 65535, port))
         return "must be a port from 1 to 65535";
       o.rds_port = static_cast<int>(port);
       return "";
     }},
    {"--rds-user",
     [&](const std::string& v) -> std::string {
       o.rds_user = v;
       return v.empty() ? "must not be empty" : "";
     }},
    {"--rds-password-file",
     [&](const std::string& v) -> std::string {
       o.rds_password_file = v;
       return v.empty() ? "must be a path" : "";
     }},
    {"--rds-ca-file",
     [&](const std::string& v) -> std::string {
       o.rds_ca_file = v;
       return v.empty() ? "must be a path" : "";
     }},
    {"--rds-insecure-skip-verify",
     [&](const std::string& v) -> std::string {
       if (v != "true" && v != "false")
         return "must be true or false";
       o.rds_insecure_skip_verify = v == "true";
       return "";
     }},
    {"--rds-volume-base-path",
     [&](const std::string& v) -> std::string {
       o.rds_volume_base_path = v;
       if (v.size() < 2 || v.front() != '/' || v.back() == '/' || v.find("..") != std::string::npos
           || v.find("//") != std::string::npos)
         return "must be an absolute path like /raid10 or /raid10/volumes";
       for (char c : v)
         if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '-' || c == '_'))
           return "may contain only letters, digits, '/', '-' and '_'";
       return "";
     }},
    {"--rds-breaker-failures",
     [&](const std::string& v) -> std::string {
       long long n = 0;
       if (!parse_seconds(v, 1, 1000, n))
         return "must be a whole number from 1 to 1000";
       o.rds_breaker_failures = static_cast<int>(n);
       return "";
     }},
    {"--rds-breaker-cooldown",
     [&](const std::string& v) -> std::string {
       long long n = 0;
       if (!parse_seconds(v, 1, 3600, n))
         return "must be a whole number of seconds from 1 to 3600";
       o.rds_breaker_cooldown_seconds = static_cast<int>(n);
       return "";
     }},
    {"--rds-sim-data-dir",
     [&](const std::string& v) -> std::string {
       o.rds_sim_data_dir = v;
       return v.empty() || v.front() != '/' ? "must be an absolute path" : "";
     }},
    {"--kubelet-dir",
     [&](const std::string& v) -> std::string {
       o.kubelet_dir = v;
       return v.size() < 2 || v.front() != '/' || v.find("..") != std::string::npos
                ? "must be an absolute path other than /"
                : "";
     }},
    {"--nvme-connector",
     [&](const std::string& v) -> std::string {
       o.nvme_connector = v;
       return v == "fabrics" || v == "loop" ? "" : "must be fabrics or loop";
     }},
    {"--sysfs-root",
     [&](const std::string& v) -> std::string {
       o.sysfs_root = v;
       return v.empty() || v.front() != '/' ? "must be an absolute path" : "";
     }},
    {"--managed-nqn-prefix",
     [&](const std::string& v) -> std::string {
       o.managed_nqn_prefix = v;
       return v.size() > 5 && v.compare(0, 4, "nqn.") == 0 && v.find(':') != std::string::npos
                  && v.size() <= 223
                ? ""
                : "must be an NQN prefix: nqn.<date>.<domain>:<something>";
     }},
    {"--host-nqn-file",
     [&](const std::string& v) -> std::string {
       o.host_nqn_file = v;
       return v.empty() || v.front() != '/' ? "must be an absolute path" : "";
     }},
    {"--max-volumes-per-node",
     [&](const std::string& v) -> std::string {
       return parse_seconds(v, 0, 100000, o.max_volumes_per_node)
                ? ""
                : "must be a whole number from 0 to 100000";
     }},
    {"--node-timeout",
     [&](const std::string& v) -> std::string {
       long long s = 0;
       if (!parse_seconds(v, 1, 3600, s))
         return "must be a whole number of seconds from 1 to 3600";
       o.node_timeout_seconds = static_cast<int>(s);
       return "";
     }},
    {"--blkid",
     [&](const std::string& v) -> std::string {
       o.blkid = v;
       return v.empty() ? "must name a program" : "";
     }},
    {"--shutdown-grace",
     [&](const std::string& v) -> std::string {
       long long s = 0;
       if (!parse_seconds(v, 0, 600, s))
         return "must be a whole number of seconds from 0 to 600";
       o.shutdown_grace_seconds = static_cast<int>(s);
       return "";
     }},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    auto& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      return result;
    }
    if (arg == "--version") {
      result.version = true;
      return result;
    }
    auto eq = arg.find('=');
    auto name = arg.substr(0, eq);
    auto flag = flags.find(name);
    if (flag == flags.end()) {
      result.error = "unknown flag " + name;
      return result;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      result.error = "flag " + name + " needs a value";
      return result;
    }
    if (auto problem = flag->second(value); !problem.empty()) {
      result.error = name + " " + problem + " (got '" + value + "')";
      return result;
    }
  }
  if (min_s > max_s || default_s < min_s || default_s > max_s) {
    result.error = "migration timeouts must satisfy min <= default <= max (got min "
                   + std::to_string(min_s) + ", default " + std::to_string(default_s) + ", max "
                   + std::to_string(max_s) + ")";
    return result;
  }
  o.migrations.minimum = std::chrono::seconds{min_s};
  o.migrations.maximum = std::chrono::seconds{max_s};
  o.migrations.fallback = std::chrono::seconds{default_s};
  if (o.runs_node() && o.node_id.empty())
    result.error = "--node-id is required with --mode=node or --mode=all";
  return result;
}

} // namespace rds
