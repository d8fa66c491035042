// No secret in any log line: the plugin runs at --log-level=debug, in text and in JSON, with an
// RDS password (right and wrong), Kubernetes bearer tokens (valid and refused) and a client key
// given inline in the kubeconfig; CSI calls that succeed and calls that fail go through it, and
// none of the secret strings may appear in anything it writes to stdout or stderr. In JSON,
// every line but the three start-up lines on stdout must be a JSON object with time, level and
// message.
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "client/kube_cluster.hpp"
#include "integration/client.hpp"

using namespace rds::test;
using namespace std::chrono_literals;

namespace {

const std::string rds_password = "rds-pw-5e1f0c7a93d2";
const std::string wrong_rds_password = "wrong-rds-pw-b64d17e0";
const std::string refused_token = "refused-token-7c2e9a0f41b8";

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream all;
  all << in.rdbuf();
  return all.str();
}

std::string base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto n = (static_cast<unsigned char>(bytes[i]) << 16)
             | (static_cast<unsigned char>(bytes[i + 1]) << 8)
             | static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0})
      out += alphabet[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    auto n = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size())
      n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// Waits until a line starting with `marker` is in the file at `path`; the rest of that line.
std::string wait_for_line(const std::string& path, const std::string& marker,
                          std::chrono::seconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    std::istringstream lines{read_file(path)};
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind(marker, 0) == 0)
        return line.substr(marker.size());
    std::this_thread::sleep_for(20ms);
  }
  return {};
}

/// A kubeconfig for the test cluster with `user_yaml` as its user (indented four spaces).
std::string write_kubeconfig(const temp_dir& dir, const std::string& name,
                             const std::string& user_yaml) {
  auto& k = kube_cluster::instance();
  auto path = dir.path() + "/" + name;
  std::ofstream{path} << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
                      << "clusters:\n- name: test\n  cluster:\n    server: " << k.server_url()
                      << "\n    certificate-authority: " << k.ca_path() << "\n"
                      << "users:\n- name: test\n  user:\n"
                      << user_yaml << "contexts:\n- name: test\n  context: {cluster: test, "
                      << "user: test}\n";
  return path;
}

/// The strings that must never be logged: each secret, and each line of a PEM key's body.
std::vector<std::string> secret_strings(const std::string& client_key_pem) {
  std::vector<std::string> secrets{rds_password, wrong_rds_password, refused_token, "admin-token",
                                   base64(client_key_pem)};
  std::istringstream lines{client_key_pem};
  std::string line;
  while (std::getline(lines, line))
    if (line.size() >= 16 && line.rfind("-----", 0) != 0)
      secrets.push_back(line);
  return secrets;
}

struct run_setup {
  std::string name;
  std::string password;
  std::string kubeconfig;
  /// The RDS and the cluster refuse these credentials.
  bool refused = false;
};

/// Starts the plugin with `setup` against the rds-sim at `rds_url`, drives CSI calls that
/// succeed and fail through it, stops it and returns all it wrote.
std::string run_plugin_logged(const temp_dir& dir, const run_setup& setup,
                              const std::string& format, const std::string& rds_url) {
  auto tag = setup.name + "-" + format;
  auto password_file = dir.path() + "/password-" + tag;
  std::ofstream{password_file} << setup.password << "\n";
  auto log_path = dir.path() + "/plugin-" + tag + ".log";
  auto endpoint = "unix://" + dir.path() + "/csi-" + tag + ".sock";
  auto pid = start_process(
    {plugin_binary(), "--endpoint=" + endpoint, "--metrics-address=127.0.0.1:0",
     "--debug-address=127.0.0.1:0", "--log-level=debug", "--log-format=" + format,
     "--rds-url=" + rds_url, "--rds-password-file=" + password_file,
     "--kubeconfig=" + setup.kubeconfig, "--kube-timeout=2", "--rds-breaker-failures=1000"},
    log_path);
  CAPTURE(tag);
  auto started = wait_for_line(log_path, "metrics: ");
  CHECK_MESSAGE(!started.empty(), read_file(log_path));
  if (!started.empty()) {
    csi_client client{endpoint};
    // With every credential refused the plugin never gets ready; its calls fail meanwhile.
    client.wait_until_ready(setup.refused ? 1s : 10s);
    ::csi::v1::Volume volume;
    auto created = client.create_volume("pvc-log-" + tag, 1 << 20, volume_access::rwo, {}, volume);
    CHECK(created.ok() != setup.refused);
    if (created.ok()) {
      client.publish(volume.volume_id(), "log-node-1", volume_access::rwo);
      client.publish(volume.volume_id(), "log-node-absent", volume_access::rwo);
      client.unpublish(volume.volume_id(), "log-node-1");
      CHECK(client.delete_volume(volume.volume_id()).ok());
    }
    CHECK_FALSE(client.create_volume("pvc-bad-" + tag, -1, volume_access::rwo, {}, volume).ok());
    // Calls that need the RDS's or the cluster's answer: only where they answer (a refused
    // login is seen above; here the calls would wait for their deadline).
    if (!setup.refused) {
      client.publish("not-a-volume", "log-node-1", volume_access::rwo);
      client.delete_volume("csi-00000000-0000-0000-0000-000000000000");
    }
    // The calls' records are written before their answers, and the watches ran meanwhile.
    std::this_thread::sleep_for(200ms);
  }
  CHECK(stop_process(pid, 10s) == 0);
  return read_file(log_path);
}

/// In JSON, every line is a JSON object with time, level and message, but for the four plain
/// start-up lines on stdout.
void check_json_lines(const std::string& output) {
  std::istringstream lines{output};
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("rds-csi-plugin ", 0) == 0 || line.rfind("csi endpoint: ", 0) == 0
        || line.rfind("debug: ", 0) == 0 || line.rfind("metrics: ", 0) == 0)
      continue;
    CAPTURE(line);
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.c_str(), line.size());
    REQUIRE_FALSE(doc.HasParseError());
    REQUIRE(doc.IsObject());
    for (auto key : {"time", "level", "message"})
      CHECK((doc.HasMember(key) && doc[key].IsString()));
  }
}

} // namespace

TEST_CASE("no secret appears in the plugin's output, in text or JSON, at debug level") {
  auto& k = kube_cluster::instance();
  k.clear();
  k.create_nodes({"log-node-1"});
  temp_dir dir;

  // The RDS: an rds-sim whose user has rds_password.
  std::ofstream{dir.path() + "/sim-password"} << rds_password << "\n";
  auto sim_log = dir.path() + "/sim.log";
  auto sim_binary = plugin_binary().substr(0, plugin_binary().rfind('/') + 1) + "rds-sim";
  auto sim_pid = start_process({sim_binary, "--data-dir=" + dir.path() + "/sim",
                                "--password-file=" + dir.path() + "/sim-password"},
                               sim_log);
  auto rds_url = wait_for_line(sim_log, "rds-sim listening on ");
  REQUIRE(!rds_url.empty());

  // The test cluster's admin key, inline in a kubeconfig (client-key-data).
  auto cluster_dir = k.ca_path().substr(0, k.ca_path().rfind("/certs/"));
  auto client_key = read_file(cluster_dir + "/admin.key");
  auto client_certificate = read_file(cluster_dir + "/admin.crt");
  REQUIRE(client_key.find("PRIVATE KEY") != std::string::npos);

  std::vector<run_setup> setups{
    {"token", rds_password, write_kubeconfig(dir, "kubeconfig-a", "    token: admin-token\n")},
    {"refused", wrong_rds_password,
     write_kubeconfig(dir, "kubeconfig-b", "    token: " + refused_token + "\n"), true},
    {"client-key", rds_password,
     write_kubeconfig(dir, "kubeconfig-c",
                      "    client-certificate-data: " + base64(client_certificate)
                        + "\n    client-key-data: " + base64(client_key) + "\n")},
  };
  auto secrets = secret_strings(client_key);
  for (auto format : {"text", "json"}) {
    for (auto& setup : setups) {
      auto output = run_plugin_logged(dir, setup, format, rds_url);
      CAPTURE(setup.name);
      CAPTURE(format);
      // The runs did log: debug records of the calls, and the failures of the refused run.
      CHECK(
        output.find(std::string{format} == std::string{"json"} ? R"("level":"debug")" : " DEBUG ")
        != std::string::npos);
      // The refused logins were seen and logged (the RDS's and the API server's 401).
      if (setup.refused)
        CHECK(output.find("invalid user name or password") != std::string::npos);
      if (setup.refused)
        CHECK(output.find("HTTP 401: Unauthorized") != std::string::npos);
      for (auto& secret : secrets) {
        CAPTURE(secret);
        CHECK(output.find(secret) == std::string::npos);
      }
      // The log's redaction is a second line of defence only: no record tried to show a secret.
      CHECK(output.find("[redacted]") == std::string::npos);
      if (std::string{format} == "json") {
        check_json_lines(output);
        // Records about a volume and a node carry both as fields.
        if (!setup.refused)
          CHECK(output.find(R"("volume":"csi-)") != std::string::npos);
        if (!setup.refused)
          CHECK(output.find(R"("node":"log-node-1")") != std::string::npos);
      }
    }
  }
  CHECK(stop_process(sim_pid, 10s) == 0);
  for (auto& secret : secrets) {
    CAPTURE(secret);
    CHECK(read_file(sim_log).find(secret) == std::string::npos);
  }
}
