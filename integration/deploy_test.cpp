// deploy/ against the real things: every kustomize overlay rendered by kubectl 1.20 (Debian's
// kubernetes-client, kustomize v2.0.3) and applied to the test apiserver, server-side; each
// container's rights asked of the apiserver with `kubectl auth can-i`; every metric name of the
// dashboard and the alerts found in a scrape of the real plugin; the image's runtime packages
// matched against what the binary links.
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "client/kube_cluster.hpp"
#include "integration/clean_stop.hpp"
#include "integration/client.hpp"
#include "integration/external_attacher.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/source_tree.hpp"

extern char** environ;

using namespace rds::test;

namespace {

const std::string source_dir = source_root();

/// Runs `args` (args[0] found on PATH) to completion; its stdout and stderr go to `output`.
int run(const std::vector<std::string>& args, std::string& output) {
  int fds[2];
  if (::pipe(fds) != 0)
    return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  output.clear();
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0)
    output.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  if (rc != 0)
    return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// kubectl as the project's CI has it: $RDS_CSI_KUBECTL, else `kubectl` on PATH, and it must be
/// 1.20 (its kustomize v2.0.3 is the oldest the overlays must render with). Empty, with the
/// reason in `why`, when it is not.
std::string kubectl_binary(std::string& why) {
  const char* env = std::getenv("RDS_CSI_KUBECTL");
  std::string path = env != nullptr && *env != 0 ? env : "kubectl";
  std::string out;
  if (run({path, "version", "--client", "--short"}, out) != 0) {
    why = "'" + path + " version --client --short' failed (" + out
          + "): set RDS_CSI_KUBECTL to a kubectl 1.20 (scripts/kubectl-1.20.sh unpacks "
            "Debian's kubernetes-client and prints its path)";
    return "";
  }
  if (out.find("Client Version: v1.20.") == std::string::npos) {
    why = "'" + path + "' is not kubectl 1.20 (it says: " + out
          + "); the overlays are written for the kustomize built into Debian's kubectl 1.20 "
            "(v2.0.3): set RDS_CSI_KUBECTL to one";
    return "";
  }
  return path;
}

/// kubectl 1.20 talking to the shared test apiserver as its administrator.
class kubectl {
 public:
  kubectl() {
    std::string why;
    binary_ = kubectl_binary(why);
    if (binary_.empty())
      FAIL(why);
    kubeconfig_ = rds::client::kube_cluster::instance().kubeconfig("admin-token");
  }

  int operator()(std::vector<std::string> args, std::string& out) const {
    args.insert(args.begin(), {binary_, "--kubeconfig=" + kubeconfig_,
                               "--cache-dir=" + cache_.path() + "/cache", "--request-timeout=60s"});
    return run(args, out);
  }

  /// Runs and requires success; returns stdout+stderr.
  std::string must(std::vector<std::string> args) const {
    std::string out;
    auto rc = (*this)(args, out);
    std::string line;
    for (auto& a : args)
      line += a + " ";
    INFO("kubectl ", line);
    INFO(out);
    REQUIRE(rc == 0);
    return out;
  }

  const std::string& binary() const { return binary_; }

 private:
  std::string binary_, kubeconfig_;
  temp_dir cache_;
};

/// The CRDs deploy/ uses that a bare apiserver lacks (VolumeSnapshot*, ServiceMonitor,
/// PrometheusRule, KubeVirt's VirtualMachine*): minimal definitions of our own, applied once.
void install_crds(const kubectl& k) {
  static bool done = false;
  if (done)
    return;
  auto crds = source_dir + "/integration/deploy_crds.yaml";
  k.must({"apply", "--server-side", "-f", crds});
  k.must({"wait", "--for=condition=established", "--timeout=60s", "-f", crds});
  // The namespace first: a server-side dry run of namespaced objects needs it to exist.
  k.must({"apply", "--server-side", "-f", source_dir + "/deploy/kubernetes/namespace.yaml"});
  done = true;
}

/// `kubectl kustomize dir`: its YAML documents.
std::vector<std::string> render(const kubectl& k, const std::string& dir) {
  auto yaml = k.must({"kustomize", dir});
  std::vector<std::string> documents;
  std::istringstream lines{yaml};
  std::string line, document;
  while (std::getline(lines, line)) {
    if (line == "---") {
      documents.push_back(document);
      document.clear();
    } else {
      document += line + "\n";
    }
  }
  if (!document.empty())
    documents.push_back(document);
  return documents;
}

/// Writes YAML documents into one file.
void write_documents(const std::string& path, const std::vector<std::string>& documents) {
  std::ofstream out{path};
  for (auto& d : documents)
    out << "---\n" << d;
}

/// One line of a deploy/kubernetes/*.needs file.
struct permission {
  bool allowed;
  std::vector<std::string> can_i_args;
  std::string text;
};

struct needs_file {
  std::string path;
  std::string account;
  std::vector<std::string> roles; // "ClusterRole/name" or "Role/name" (in rds-csi)
  std::vector<permission> permissions;
};

needs_file read_needs(const std::string& path) {
  needs_file f;
  f.path = path;
  std::istringstream lines{read_text(path)};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream words{line};
    std::string first, w;
    words >> first;
    std::vector<std::string> rest;
    while (words >> w)
      rest.push_back(w);
    if (first == "account:") {
      REQUIRE(rest.size() == 1);
      f.account = rest[0];
    } else if (first == "roles:") {
      f.roles = rest;
    } else {
      INFO(path, ": ", line);
      REQUIRE((first == "yes" || first == "no"));
      REQUIRE(rest.size() >= 2);
      f.permissions.push_back({first == "yes", rest, line});
    }
  }
  return f;
}

/// One question to the apiserver: may `user` do what `what` says?
struct question {
  std::string user;
  permission what;
};

/// Asks `kubectl auth can-i <args> --as=<user>` for every question, a few at a time (each is a
/// kubectl process and an apiserver request); returns a description of each answer that is not
/// the expected one.
std::vector<std::string> wrong_answers(const kubectl& k, const std::vector<question>& questions) {
  std::vector<std::string> wrong;
  std::mutex lock;
  std::atomic<size_t> next{0};
  auto ask = [&] {
    for (size_t i = next++; i < questions.size(); i = next++) {
      auto& q = questions[i];
      std::vector<std::string> args{"auth", "can-i"};
      args.insert(args.end(), q.what.can_i_args.begin(), q.what.can_i_args.end());
      args.push_back("--as=" + q.user);
      std::string out;
      int rc = k(args, out);
      // can-i: exit 0 and "yes" when allowed, exit 1 and "no" when not; anything else is an
      // error of the question itself.
      bool yes = rc == 0 && out.find("yes") != std::string::npos;
      bool no = rc == 1 && out.find("no") != std::string::npos;
      if ((!yes && !no) || yes != q.what.allowed) {
        std::lock_guard<std::mutex> guard{lock};
        wrong.push_back(q.user + ": '" + q.what.text + "' answered (exit " + std::to_string(rc)
                        + "): " + out);
      }
    }
  };
  std::vector<std::thread> askers;
  for (int i = 0; i < 4; ++i)
    askers.emplace_back(ask);
  for (auto& t : askers)
    t.join();
  return wrong;
}

/// The metric names a PromQL expression reads: identifiers outside strings, label matchers,
/// ranges and grouping clauses that are not followed by '(' and are not PromQL keywords.
std::set<std::string> metric_names(std::string expr) {
  static const std::regex strings{R"("([^"\\]|\\.)*")"}, matchers{R"(\{[^}]*\})"},
    ranges{R"(\[[^\]]*\])"},
    grouping{R"(\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\))"},
    identifier{R"([A-Za-z_:][A-Za-z0-9_:]*)"};
  for (auto* re : {&strings, &matchers, &ranges, &grouping})
    expr = std::regex_replace(expr, *re, " ");
  static const std::set<std::string> keywords{"and",    "or",  "unless", "bool",
                                              "offset", "inf", "nan"};
  std::set<std::string> names;
  for (std::sregex_iterator i{expr.begin(), expr.end(), identifier}, end; i != end; ++i) {
    auto after = expr.find_first_not_of(' ', static_cast<size_t>(i->position() + i->length()));
    if (after != std::string::npos && expr[after] == '(')
      continue; // a function or aggregation
    auto name = i->str();
    bool number_part = i->position() > 0
                       && (std::isdigit(static_cast<unsigned char>(expr[i->position() - 1]))
                           || expr[i->position() - 1] == '.');
    if (keywords.count(name) == 0 && !number_part)
      names.insert(name);
  }
  return names;
}

/// Every PromQL expression of the dashboard ("expr" of its panels' targets) and the alerts.
std::vector<std::string> dashboard_and_alert_expressions() {
  std::vector<std::string> exprs;
  rapidjson::Document dashboard;
  auto json = read_text(source_dir + "/deploy/addons/monitoring/rds-csi-dashboard.json");
  dashboard.Parse(json.c_str());
  REQUIRE(!dashboard.HasParseError());
  for (auto& panel : dashboard["panels"].GetArray())
    if (panel.HasMember("targets"))
      for (auto& target : panel["targets"].GetArray())
        exprs.push_back(target["expr"].GetString());
  std::istringstream rules{read_text(source_dir + "/deploy/addons/monitoring/prometheusrule.yaml")};
  std::string line;
  static const std::regex expr_line{R"(^\s*expr:\s*(.*)$)"};
  std::smatch m;
  while (std::getline(rules, line))
    if (std::regex_match(line, m, expr_line))
      exprs.push_back(m[1]);
  return exprs;
}

/// Series names (before '{' or ' ') of a /metrics text.
std::set<std::string> scraped_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] != '#')
      names.insert(line.substr(0, line.find_first_of("{ ")));
  return names;
}

/// Label names per series name of a /metrics text.
std::map<std::string, std::set<std::string>> scraped_labels(const std::string& text) {
  static const std::regex label{R"(([A-Za-z_][A-Za-z0-9_]*)=")"};
  std::map<std::string, std::set<std::string>> labels;
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto brace = line.find('{');
    auto& of = labels[line.substr(0, line.find_first_of("{ "))];
    if (brace == std::string::npos)
      continue;
    auto set = line.substr(brace, line.rfind('}') - brace);
    for (std::sregex_iterator i{set.begin(), set.end(), label}, end; i != end; ++i)
      of.insert((*i)[1]);
  }
  return labels;
}

/// The labels a PromQL expression expects on the series it reads: metric -> label names, from
/// its matchers (`name{a="x",b=~"y"}`) and, when it reads one metric only, its `by (...)`
/// clauses. Prometheus' target labels (job, pod, ...) are not the driver's and are left out.
std::map<std::string, std::set<std::string>> labels_used(const std::string& expr) {
  static const std::regex selector{R"(([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\})"},
    matcher{R"(([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=))"}, by{R"(\bby\s*\(([^)]*)\))"},
    word{R"([A-Za-z_][A-Za-z0-9_]*)"};
  static const std::set<std::string> target_labels{"job",     "pod",      "instance", "namespace",
                                                   "service", "endpoint", "container"};
  std::map<std::string, std::set<std::string>> used;
  auto add = [&](const std::string& metric, const std::string& label) {
    if (target_labels.count(label) == 0)
      used[metric].insert(label);
  };
  for (std::sregex_iterator i{expr.begin(), expr.end(), selector}, end; i != end; ++i) {
    auto list = (*i)[2].str();
    for (std::sregex_iterator j{list.begin(), list.end(), matcher}; j != end; ++j)
      add((*i)[1], (*j)[1]);
  }
  auto metrics = metric_names(expr);
  if (metrics.size() == 1)
    for (std::sregex_iterator i{expr.begin(), expr.end(), by}, end; i != end; ++i) {
      auto list = (*i)[1].str();
      for (std::sregex_iterator j{list.begin(), list.end(), word}; j != end; ++j)
        add(*metrics.begin(), (*j)[0]);
    }
  return used;
}

/// The packages of one `ENV NAME="..."` list of the runtime stage of deploy/image/Dockerfile.
std::set<std::string> dockerfile_list(const std::string& name) {
  auto text = read_text(source_dir + "/deploy/image/Dockerfile");
  std::regex list{name + R"(=\"([^\"]*)\")"};
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(text, m, list), ("deploy/image/Dockerfile has no " + name));
  std::set<std::string> packages;
  std::istringstream words{std::regex_replace(m[1].str(), std::regex{R"(\\\n)"}, " ")};
  std::string w;
  while (words >> w)
    if (w != "\\")
      packages.insert(w);
  return packages;
}

/// The Debian packages that installed `paths` (one `dpkg -S` for all): path -> package, without
/// its architecture; a path no package installed is missing.
std::map<std::string, std::string> packages_of(const std::vector<std::string>& paths) {
  // /lib is /usr/lib on Debian 12 (merged /usr): dpkg knows one of the two spellings.
  std::vector<std::string> args{"dpkg", "-S"};
  for (auto& p : paths) {
    args.push_back(p);
    args.push_back(p.rfind("/usr/", 0) == 0 ? p.substr(4) : "/usr" + p);
  }
  std::string out;
  run(args, out); // exit 1: some spelling was not found, which is expected
  std::map<std::string, std::string> by_spelling;
  std::istringstream lines{out};
  std::string line;
  while (std::getline(lines, line)) {
    auto colon_space = line.find(": ");
    if (line.rfind("dpkg-query:", 0) == 0 || colon_space == std::string::npos)
      continue;
    auto package = line.substr(0, colon_space);
    by_spelling[line.substr(colon_space + 2)] = package.substr(0, package.find(':'));
  }
  std::map<std::string, std::string> result;
  for (auto& p : paths) {
    auto other = p.rfind("/usr/", 0) == 0 ? p.substr(4) : "/usr" + p;
    if (by_spelling.count(p) != 0)
      result[p] = by_spelling[p];
    else if (by_spelling.count(other) != 0)
      result[p] = by_spelling[other];
  }
  return result;
}

} // namespace

TEST_CASE("every kustomize overlay renders with kubectl 1.20 and applies to the apiserver") {
  kubectl k;
  install_crds(k);
  temp_dir out;
  // Every overlay, and the example (a kustomization too; it needs the rds-block-rwx class).
  // They share most objects: each distinct object of any of them is applied once.
  std::vector<std::string> all;
  for (auto dir : {"overlays/plain", "overlays/kubevirt", "overlays/monitoring",
                   "overlays/kubevirt-monitoring", "examples/kubevirt-migration"}) {
    CAPTURE(dir);
    auto documents = render(k, source_dir + "/deploy/" + dir);
    CHECK(documents.size() >= 3);
    for (auto& d : documents)
      if (std::find(all.begin(), all.end(), d) == all.end())
        all.push_back(d);
  }
  // The example's objects last: its claim names the StorageClass of the overlays.
  auto file = out.path() + "/all.yaml";
  write_documents(file, all);
  // Server-side dry run first (validation, defaulting and admission, nothing stored), then for
  // real; server-side apply refuses an object that does not fit its schema either way.
  k.must({"apply", "--server-side", "--dry-run=server", "-f", file});
  k.must({"apply", "--server-side", "--force-conflicts", "-f", file});
  auto stored = k.must({"get", "-f", file, "-o", "name"});
  CHECK(static_cast<size_t>(std::count(stored.begin(), stored.end(), '\n')) == all.size());

  INFO("what the apiserver stored is what the issue asks for");
  auto csidriver = k.must({"get", "csidriver", "rds.csi.srvlab.io", "-o",
                           "jsonpath={.spec.attachRequired} {.spec.podInfoOnMount} "
                           "{.spec.fsGroupPolicy} {.spec.volumeLifecycleModes}"});
  CHECK(csidriver == "true true File [\"Persistent\"]");
  auto sc = k.must({"get", "storageclass", "rds-block-rwx", "-o",
                    "jsonpath={.parameters.migrationTimeoutSeconds}"});
  CHECK(sc == "900");
  k.must({"get", "volumesnapshotclass", "rds-csi-snapshots"});
  k.must({"-n", "rds-csi", "get", "servicemonitor/rds-csi", "prometheusrule/rds-csi",
          "configmap/rds-csi-dashboard"});

  rapidjson::Document workloads;
  auto json = k.must({"-n", "rds-csi", "get", "deployment/rds-csi-controller",
                      "daemonset/rds-csi-node", "-o", "json"});
  workloads.Parse(json.c_str());
  REQUIRE(!workloads.HasParseError());
  for (auto& workload : workloads["items"].GetArray()) {
    std::string kind = workload["kind"].GetString();
    CAPTURE(kind);
    auto& pod = workload["spec"]["template"]["spec"];
    CHECK(pod.HasMember("priorityClassName"));
    std::string health_port; // the livenessprobe sidecar's
    for (auto& c : pod["containers"].GetArray())
      for (auto& a : c["args"].GetArray())
        if (std::string{c["name"].GetString()} == "liveness-probe"
            && std::string{a.GetString()}.rfind("--health-port=", 0) == 0)
          health_port = std::string{a.GetString()}.substr(14);
    for (auto& c : pod["containers"].GetArray()) {
      std::string name = c["name"].GetString();
      CAPTURE(name);
      CHECK(c["resources"].HasMember("requests"));
      CHECK(c["resources"].HasMember("limits"));
      std::vector<std::string> args;
      for (auto& a : c["args"].GetArray())
        args.push_back(a.GetString());
      auto has = [&](const std::string& prefix) {
        return std::any_of(args.begin(), args.end(),
                           [&](auto& a) { return a.rfind(prefix, 0) == 0; });
      };
      if (name.rfind("csi-", 0) == 0 && kind == "Deployment")
        CHECK(has("--leader-election"));
      if (name == "rds-csi-plugin") {
        // The inspection port stays on its loopback default: never declared, never remote.
        CHECK(!has("--debug-address"));
        CHECK(!has("--debug-allow-remote"));
        for (auto& p : c["ports"].GetArray())
          CHECK(p["containerPort"].GetInt() != 9810);
        REQUIRE(c.HasMember("livenessProbe"));
        auto& probe_port = c["livenessProbe"]["httpGet"]["port"];
        std::string port = probe_port.IsString() ? probe_port.GetString() : "";
        for (auto& p : c["ports"].GetArray())
          if (port == p["name"].GetString())
            port = std::to_string(p["containerPort"].GetInt());
        CHECK(!health_port.empty());
        CHECK_MESSAGE(port == health_port, "livenessProbe must reach the livenessprobe sidecar");
      }
    }
    if (kind == "Deployment") {
      CHECK(workload["spec"]["replicas"].GetInt() == 2);
      CHECK(pod["securityContext"]["runAsNonRoot"].GetBool());
    } else {
      std::set<std::string> host_paths;
      for (auto& v : pod["volumes"].GetArray())
        if (v.HasMember("hostPath"))
          host_paths.insert(v["hostPath"]["path"].GetString());
      CHECK(host_paths
            == std::set<std::string>{"/dev", "/etc/nvme", "/sys", "/var/lib/kubelet",
                                     "/var/lib/kubelet/plugins/rds.csi.srvlab.io",
                                     "/var/lib/kubelet/plugins_registry"});
      CHECK_FALSE(pod["automountServiceAccountToken"].GetBool());
    }
  }
}

TEST_CASE("each container's ServiceAccount has the rights its needs file lists and no others") {
  kubectl k;
  install_crds(k);
  // The roles and bindings themselves, as the base installs them.
  temp_dir out;
  write_documents(out.path() + "/base.yaml", render(k, source_dir + "/deploy/kubernetes"));
  k.must({"apply", "--server-side", "--force-conflicts", "-f", out.path() + "/base.yaml"});

  std::vector<needs_file> files;
  for (auto name : {"controller-rbac", "attacher-rbac", "provisioner-rbac", "resizer-rbac",
                    "snapshotter-rbac", "node-rbac"})
    files.push_back(read_needs(source_dir + "/deploy/kubernetes/" + name + ".needs"));

  // Each file alone: a ServiceAccount (in a namespace of its own) bound to only the roles the
  // file names, so one component's rights cannot hide another's missing ones.
  std::ostringstream bindings;
  for (auto& f : files) {
    auto component = f.path.substr(f.path.rfind('/') + 1);
    component = component.substr(0, component.find('.'));
    for (auto& role : f.roles) {
      auto kind = role.substr(0, role.find('/'));
      auto name = role.substr(role.find('/') + 1);
      REQUIRE((kind == "ClusterRole" || kind == "Role"));
      bindings << "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: " << kind
               << "Binding\nmetadata:\n  name: check-" << component << "-" << name << "\n"
               << (kind == "Role" ? "  namespace: rds-csi\n" : "")
               << "subjects:\n- kind: ServiceAccount\n  name: " << component
               << "\n  namespace: rds-csi-check\nroleRef:\n  apiGroup: "
                  "rbac.authorization.k8s.io\n  kind: "
               << kind << "\n  name: " << name << "\n";
    }
  }
  std::ofstream{out.path() + "/bindings.yaml"} << bindings.str();
  k.must({"apply", "--server-side", "-f", out.path() + "/bindings.yaml"});

  std::vector<question> questions;
  std::map<std::string, std::vector<permission>> of_account;
  for (auto& f : files) {
    auto component = f.path.substr(f.path.rfind('/') + 1);
    component = component.substr(0, component.find('.'));
    for (auto& p : f.permissions)
      questions.push_back({"system:serviceaccount:rds-csi-check:" + component, p});
    // The real account is bound to every role of every file naming it: one needed right per
    // file shows the binding works (each right itself is proven above, on the roles alone).
    for (auto& p : f.permissions)
      if (p.allowed) {
        of_account[f.account].push_back(p);
        break;
      }
  }
  // The real ServiceAccounts: and a sample of what none of their containers may do.
  for (auto account : {"rds-csi-controller", "rds-csi-node"}) {
    auto& list = of_account[account];
    for (auto forbidden :
         {"list secrets --all-namespaces", "get secrets -n rds-csi", "delete pods --all-namespaces",
          "update nodes", "create clusterrolebindings.rbac.authorization.k8s.io"}) {
      std::istringstream words{forbidden};
      std::vector<std::string> args;
      std::string w;
      while (words >> w)
        args.push_back(w);
      list.push_back({false, args, std::string{"no "} + forbidden});
    }
    for (auto& p : list)
      questions.push_back({std::string{"system:serviceaccount:rds-csi:"} + account, p});
  }
  size_t asked = 0;
  for (auto& f : files)
    asked += f.permissions.size();
  CHECK(asked > 100);
  for (auto& wrong : wrong_answers(k, questions))
    FAIL_CHECK(wrong);
}

TEST_CASE("every metric the dashboard and the alerts use is in a scrape of the real plugin") {
  std::set<std::string> used;
  auto exprs = dashboard_and_alert_expressions();
  REQUIRE(exprs.size() > 30);
  for (auto& e : exprs)
    for (auto& name : metric_names(e))
      used.insert(name);
  // Prometheus' own series, not the driver's.
  used.erase("up");
  REQUIRE(used.size() > 15);

  // Controller and node in one process, so both kinds of series show; a migration followed
  // from the cluster and CSI calls, so the series that appear only once used exist.
  auto& cluster = rds::client::kube_cluster::instance();
  cluster.clear();
  temp_dir sim, kubelet;
  auto volume = provision_volumes(sim.path(), {"vol-dashboard"});
  REQUIRE(volume.size() == 1);
  cluster.create_nodes({"node-a", "node-b"});
  cluster.create_volume("pv-dashboard", volume.at("vol-dashboard"), "ReadWriteMany", "Block",
                        "600");
  cluster.attach("pv-dashboard", "node-a");
  plugin_process plugin{{"--mode=all", "--node-id=node-a", "--kubelet-dir=" + kubelet.path(),
                         "--rds-sim-data-dir=" + sim.path(),
                         "--kubeconfig=" + cluster.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  REQUIRE(client.wait_until_ready());
  for (auto step : {client.publish(volume.at("vol-dashboard"), "node-b", volume_access::rwx_block),
                    client.unpublish(volume.at("vol-dashboard"), "node-a")})
    REQUIRE_MESSAGE(step.ok(), step.error_message());
  auto text = http_get(plugin.metrics_url());
  auto scraped = scraped_names(text);
  for (auto& name : used) {
    CAPTURE(name);
    CHECK(scraped.count(name) == 1);
  }
  // And the labels they match on or group by are on those series (a misspelt label selects
  // nothing and an alert on it never fires).
  auto labels = scraped_labels(text);
  size_t label_checks = 0;
  for (auto& e : exprs)
    for (auto& [metric, names] : labels_used(e))
      for (auto& label : names) {
        CAPTURE(e);
        CAPTURE(metric);
        CAPTURE(label);
        CHECK(labels[metric].count(label) == 1);
        ++label_checks;
      }
  CHECK(label_checks > 20);
  expect_clean_stop(plugin);
}

TEST_CASE("the image's runtime packages are exactly those of the libraries the plugin links") {
  auto binary = plugin_binary();
  std::string out;
  REQUIRE(run({"ldd", binary}, out) == 0);
  // "libfoo.so.1 => /usr/lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" and the loader's own line.
  std::vector<std::string> libraries;
  static const std::regex library{R"((?:=>\s*)?(/\S+)\s+\(0x)"};
  std::istringstream lines{out};
  std::string line;
  std::smatch m;
  while (std::getline(lines, line)) {
    INFO(line);
    CHECK(line.find("not found") == std::string::npos);
    if (std::regex_search(line, m, library))
      libraries.push_back(m[1]);
  }
  auto owners = packages_of(libraries);
  std::set<std::string> needed;
  for (auto& l : libraries) {
    CHECK_MESSAGE(owners.count(l) == 1, (l + " belongs to no Debian package"));
    if (owners.count(l) != 0)
      needed.insert(owners[l]);
  }
  REQUIRE(needed.size() > 10);
  auto listed = dockerfile_list("RUNTIME_LIBRARIES");
  for (auto& p : needed)
    CHECK_MESSAGE(listed.count(p) == 1, ("RUNTIME_LIBRARIES lacks " + p));
  for (auto& p : listed)
    CHECK_MESSAGE(needed.count(p) == 1,
                  ("RUNTIME_LIBRARIES lists " + p + ", which the plugin does not link"));

  // The programs the node plugin runs come from RUNTIME_TOOLS.
  auto tools = dockerfile_list("RUNTIME_TOOLS");
  // (services/mount: mkfs.<type>, blkid, resize2fs, xfs_growfs; mounts are system calls.)
  std::vector<std::string> programs{"/usr/sbin/mkfs.ext4", "/usr/sbin/mkfs.xfs", "/usr/sbin/blkid",
                                    "/usr/sbin/resize2fs", "/usr/sbin/xfs_growfs"};
  auto program_owners = packages_of(programs);
  std::set<std::string> tool_packages;
  for (auto& program : programs) {
    CAPTURE(program);
    CHECK(program_owners.count(program) == 1);
    tool_packages.insert(program_owners[program]);
  }
  CHECK(tools == tool_packages);
}

TEST_CASE("upgrade from the Go driver: a volume it attached is refused a new publish and its "
          "delete leaves the RDS alone, as the README says") {
  auto& k = rds::client::kube_cluster::instance();
  k.clear();
  k.create_nodes({"node-a", "node-b"});
  // One of ours beside it, so the plugin's own state is there to be disturbed.
  temp_dir sim;
  auto ours = provision_volumes(sim.path(), {"vol-ours"});
  REQUIRE(ours.size() == 1);
  // What the Go driver left: a PV named by its id (pvc-<uuid>, also its RDS slot) with a KubeVirt
  // disk's access, attached to node-a.
  const std::string go_volume = "pvc-6d1c2a8e-0f3b-4c59-9a7e-2b1d5e8f4a10";
  k.create_volume("pv-go", go_volume, "ReadWriteMany", "Block", "600");
  k.attach("pv-go", "node-a");
  k.create_volume("pv-ours", ours.at("vol-ours"), "ReadWriteMany", "Block", "600");
  k.attach("pv-ours", "node-a");
  plugin_process plugin{
    {"--rds-sim-data-dir=" + sim.path(), "--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client client{plugin.endpoint()};
  // Its VolumeAttachment does not keep the plugin from rebuilding.
  REQUIRE(client.wait_until_ready());
  // A live migration of it (or its pod rescheduled): NOT_FOUND, the id is no slot of this driver.
  CHECK(client.publish(go_volume, "node-b", volume_access::rwx_block).error_code()
        == grpc::StatusCode::NOT_FOUND);
  // Deleting its claim: success, and not one request reaches the RDS.
  auto rds_requests = [&] {
    std::istringstream lines{http_get(plugin.metrics_url())};
    std::string line;
    double total = 0;
    while (std::getline(lines, line))
      if (line.rfind("rds_csi_rds_requests_total{", 0) == 0)
        total += std::stod(line.substr(line.rfind(' ') + 1));
    return total;
  };
  // The driver's own volume migrates as usual (and its publish asks the RDS, so the count below
  // is seen to move).
  CHECK(client.publish(ours.at("vol-ours"), "node-b", volume_access::rwx_block).ok());
  auto before = rds_requests();
  CHECK(before > 0);
  auto deleted = client.delete_volume(go_volume);
  CHECK_MESSAGE(deleted.ok(), deleted.error_message());
  CHECK(rds_requests() == before);
  expect_clean_stop(plugin);
}

TEST_CASE("two controller replicas: the standby follows a migration storm and answers at once "
          "when the leader is gone") {
  using namespace std::chrono_literals;
  using names = std::vector<std::string>;
  auto& k = rds::client::kube_cluster::instance();
  k.clear();
  k.create_nodes({"node-a", "node-b", "node-c"});
  // One RDS for both replicas, as in a cluster.
  temp_dir sim;
  pid_t sim_pid = -1;
  auto url = start_rds_sim(sim, {}, sim_pid);
  REQUIRE(!url.empty());
  struct stop_sim {
    pid_t pid;
    ~stop_sim() { stop_process(pid, 5s); }
  } sim_stopper{sim_pid};
  auto flags = [&] {
    return rds_sim_flags(sim, url, {"--kubeconfig=" + k.kubeconfig("admin-token")});
  };
  plugin_process leader{flags()}, standby{flags()};
  csi_client to_leader{leader.endpoint()}, to_standby{standby.endpoint()};
  REQUIRE(to_leader.wait_until_ready());
  REQUIRE(to_standby.wait_until_ready());
  auto& api = k.admin();
  // The leader's sidecars: only its plugin is called.
  external_attacher attacher{api, to_leader};

  // pv-storm-0: RWO filesystem; the others RWX block, which migrate.
  const int volumes = 6;
  std::vector<std::string> pvs, handles;
  for (int i = 0; i < volumes; ++i) {
    auto mode = i == 0 ? volume_access::rwo : volume_access::rwx_block;
    ::csi::v1::Volume created;
    auto name = "pvc-storm-" + std::to_string(i);
    REQUIRE(to_leader.create_volume(name, int64_t{1} << 20, mode, {}, created).ok());
    pvs.push_back("pv-storm-" + std::to_string(i));
    handles.push_back(created.volume_id());
    REQUIRE(api_call(api, "POST", "/api/v1/persistentvolumes",
                     rds::client::kube_cluster::volume_json(
                       pvs.back(), handles.back(), i == 0 ? "ReadWriteOnce" : "ReadWriteMany",
                       i == 0 ? "Filesystem" : "Block", "600"))
              .status.ok());
  }

  // What the VolumeAttachments say, against what each replica answers (ControllerGetVolume);
  // the standby learns by watch, so it gets a bounded time to catch up.
  auto attached_nodes = [&](const std::string& pv) {
    auto r = api_call(api, "GET", "/apis/storage.k8s.io/v1/volumeattachments", "");
    REQUIRE(r.status.ok());
    rapidjson::Document doc;
    doc.Parse(r.body.c_str(), r.body.size());
    names nodes;
    for (auto& item : doc["items"].GetArray())
      if (pv == item["spec"]["source"]["persistentVolumeName"].GetString()
          && item["status"].HasMember("attached") && item["status"]["attached"].GetBool()
          && !item["metadata"].HasMember("deletionTimestamp"))
        nodes.push_back(item["spec"]["nodeName"].GetString());
    std::sort(nodes.begin(), nodes.end());
    return nodes;
  };
  auto answers = [](csi_client& replica, const std::string& handle) {
    names nodes;
    REQUIRE(replica.published_nodes(handle, nodes).ok());
    std::sort(nodes.begin(), nodes.end());
    return nodes;
  };
  auto replicas_agree = [&](const std::string& step) {
    INFO(step);
    for (int i = 0; i < volumes; ++i) {
      CAPTURE(pvs[i]);
      auto expected = attached_nodes(pvs[i]);
      CHECK(answers(to_leader, handles[i]) == expected);
      auto deadline = std::chrono::steady_clock::now() + 10s;
      while (answers(to_standby, handles[i]) != expected
             && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(20ms);
      CHECK(answers(to_standby, handles[i]) == expected);
    }
  };

  for (auto& pv : pvs) {
    attacher.create_attachment(pv, "node-a");
    REQUIRE(attacher.attach(pv, "node-a").ok());
  }
  replicas_agree("all attached to node-a");
  // The storm: every RWX volume migrates to node-b, the attaches interleaved, then the source
  // detaches; both replicas are compared with the VolumeAttachments after every single write.
  for (int i = 1; i < volumes; ++i) {
    attacher.create_attachment(pvs[i], "node-b");
    replicas_agree(pvs[i] + " has a VolumeAttachment to node-b, not yet attached");
  }
  for (int i = 1; i < volumes; ++i) {
    REQUIRE(attacher.attach(pvs[i], "node-b").ok());
    replicas_agree(pvs[i] + " attached to node-b too");
  }
  replicas_agree("every RWX volume on node-a and node-b");
  for (int i = 1; i < volumes; ++i) {
    REQUIRE(attacher.detach(pvs[i], "node-a").ok());
    replicas_agree(pvs[i] + " detached from node-a");
  }
  replicas_agree("every RWX volume migrated to node-b");

  // The leader goes; the standby's sidecars win the election and call its plugin at once.
  expect_clean_stop(leader);
  external_attacher new_leader{api, to_standby};
  // An RWO volume attached elsewhere is refused, as the old leader would have.
  new_leader.create_attachment(pvs[0], "node-c");
  std::map<std::string, std::string> context;
  CHECK(new_leader.publish(pvs[0], "node-c", context).error_code()
        == grpc::StatusCode::FAILED_PRECONDITION);
  // An RWX volume on node-b migrates on to node-c.
  new_leader.create_attachment(pvs[1], "node-c");
  REQUIRE(new_leader.attach(pvs[1], "node-c").ok());
  CHECK(answers(to_standby, handles[1]) == names{"node-b", "node-c"});
  CHECK(settled_value(standby.metrics_url(), "rds_csi_migration_active_migrations", 1) == 1);
  expect_clean_stop(standby);
}
