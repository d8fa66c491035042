// The README's flag tables against the programs' own --help: the same flags, and the same
// default wherever the table names one. A flag added, removed or given a new default in the
// code without the README (or the other way round) fails here.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "integration/client.hpp"
#include "integration/source_tree.hpp"

using namespace rds::test;

namespace {

/// flag -> its default; nullopt: none is given.
using flag_defaults = std::map<std::string, std::optional<std::string>>;

std::string rds_sim_binary() {
  auto plugin = plugin_binary();
  return plugin.substr(0, plugin.rfind('/') + 1) + "rds-sim";
}

/// Runs `command` (through sh, stdin from /dev/null) and returns its exit code; `output` gets
/// stdout and stderr.
int run(const std::string& command, std::string& output) {
  auto* pipe = ::popen((command + " </dev/null 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    output.append(buffer, n);
  auto status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// The code spans of a piece of Markdown, in order.
std::vector<std::string> code_spans(const std::string& text) {
  std::vector<std::string> spans;
  size_t at = 0;
  while ((at = text.find('`', at)) != std::string::npos) {
    auto end = text.find('`', at + 1);
    if (end == std::string::npos)
      break;
    spans.push_back(text.substr(at + 1, end - at - 1));
    at = end + 1;
  }
  return spans;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(' ');
  auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// The table under the README heading `heading`: the flags of its first column; a default
/// cell that starts with a code span names that default, any other cell says there is none.
flag_defaults readme_table(const std::string& heading) {
  std::ifstream in{source_path("README.md")};
  REQUIRE(in);
  std::string line;
  bool under_heading = false, in_table = false;
  flag_defaults flags;
  while (std::getline(in, line)) {
    if (!under_heading) {
      under_heading = line == heading;
      continue;
    }
    if (line.rfind('|', 0) != 0) {
      if (in_table)
        break;
      if (line.rfind("#", 0) == 0)
        break; // the next section, and no table
      continue;
    }
    in_table = true;
    std::vector<std::string> cells;
    std::stringstream row{line.substr(1)};
    std::string cell;
    while (std::getline(row, cell, '|'))
      cells.push_back(trim(cell));
    if (cells.size() < 2 || cells[0] == "flag" || cells[0].rfind("---", 0) == 0)
      continue;
    std::optional<std::string> default_value;
    if (cells[1].rfind('`', 0) == 0)
      default_value = code_spans(cells[1]).front();
    auto names = code_spans(cells[0]);
    CAPTURE(line);
    CHECK_FALSE(names.empty());
    for (auto& name : names) {
      CHECK(name.rfind('-', 0) == 0);
      CHECK(flags.count(name) == 0);
      flags[name] = default_value;
    }
  }
  CAPTURE(heading);
  CHECK(under_heading);
  return flags;
}

/// The flags of a CLI11 --help in the layout of cmd/help_format.hpp: lines "  -h,--help ...",
/// "  --name TYPE [default: X]  what it does".
flag_defaults help_flags(const std::string& help) {
  std::stringstream lines{help};
  std::string line;
  flag_defaults flags;
  while (std::getline(lines, line)) {
    if (line.rfind("  -", 0) != 0)
      continue;
    auto names_end = line.find(' ', 2);
    std::stringstream names{line.substr(2, names_end - 2)};
    std::optional<std::string> default_value;
    const std::string marker = "[default: ";
    if (auto at = line.find(marker); at != std::string::npos)
      default_value = line.substr(at + marker.size(), line.find(']', at) - at - marker.size());
    std::string name;
    while (std::getline(names, name, ','))
      flags[name] = default_value;
  }
  return flags;
}

void same_flags(const flag_defaults& readme, const flag_defaults& help) {
  for (auto& [name, value] : help) {
    CAPTURE(name);
    auto row = readme.find(name);
    CHECK_MESSAGE(row != readme.end(), "in --help, not in the README's table");
    if (row == readme.end())
      continue;
    CHECK_MESSAGE(row->second == value, "README default '" << row->second.value_or("(none)")
                                                           << "', --help default '"
                                                           << value.value_or("(none)") << "'");
  }
  for (auto& [name, value] : readme) {
    CAPTURE(name);
    CHECK_MESSAGE(help.count(name) == 1, "in the README's table, not in --help");
  }
}

size_t lines_in(const std::string& text) {
  size_t n = 0;
  for (char ch : text)
    n += ch == '\n' ? 1 : 0;
  return n;
}

} // namespace

TEST_CASE("rds-csi-plugin: the README's flag table is what --help says") {
  std::string help;
  REQUIRE(run(plugin_binary() + " --help", help) == 0);
  auto from_help = help_flags(help);
  REQUIRE(from_help.size() > 30);
  CHECK(from_help.count("--log-format") == 1);
  CHECK(from_help.at("--log-format") == std::optional<std::string>{"text"});
  same_flags(readme_table("### rds-csi-plugin flags"), from_help);
}

TEST_CASE("rds-sim: the README's flag table is what --help says") {
  std::string help;
  REQUIRE(run(rds_sim_binary() + " --help", help) == 0);
  auto from_help = help_flags(help);
  REQUIRE(from_help.size() > 15);
  CHECK(from_help.at("--seed") == std::optional<std::string>{"1"});
  same_flags(readme_table("### rds-sim flags"), from_help);
}

TEST_CASE("the --help reader finds each name and default") {
  auto help = help_flags("Options:\n  -h,--help  help\n  --a N [default: 1]  a\n  --b FILE  b\n");
  CHECK(help.size() == 4);
  CHECK(help.at("-h") == std::nullopt);
  CHECK(help.at("--a") == std::optional<std::string>{"1"});
  CHECK(help.at("--b") == std::nullopt);
}

TEST_CASE("rds-sim: a bad flag is one line on stderr and exit code 2") {
  temp_dir dir;
  auto data = " --data-dir=" + dir.path() + "/data";
  for (auto args : {std::string{" --no-such-flag"} + data, std::string{""}, " --seed=x" + data,
                    " --error-rate=PUT" + data, " --drop-rate=1.5" + data,
                    " --tls-cert=/x.pem" + data, " --latency-ms=60001" + data,
                    " --password-file=" + dir.path() + "/missing" + data, " stray" + data}) {
    CAPTURE(args);
    std::string out;
    CHECK(run(rds_sim_binary() + args, out) == 2);
    CHECK(lines_in(out) == 1);
    CHECK(out.rfind("rds-sim: ", 0) == 0);
  }
}

TEST_CASE("rds-sim takes both flag forms and repeated rules") {
  temp_dir dir;
  pid_t pid = -1;
  auto url = start_rds_sim(
    dir, {"--error-rate", "PUT=0", "--error-rate=GET=0", "--drop-after", "POST=0", "--seed", "7"},
    pid);
  CHECK(url.rfind("http://127.0.0.1:", 0) == 0);
  CHECK(stop_process(pid, std::chrono::seconds{5}) == 0);
}

TEST_CASE("the deploy manifests' plugin flags are all accepted") {
  auto deploy = source_path("deploy/kubernetes/");
  auto config = YAML::LoadFile(deploy + "rds-config.yaml")["data"];
  // What the manifests' $(VAR)s expand to in a pod: the ConfigMap's values, the downward API's.
  std::map<std::string, std::string> environment{
    {"$(POD_IP)", "10.1.2.3"},
    {"$(NODE_NAME)", "worker-1"},
    {"$(RDS_ADDRESS)", config["rds-address"].as<std::string>()},
    {"$(RDS_USER)", config["rds-user"].as<std::string>()},
    {"$(RDS_VOLUME_BASE_PATH)", config["rds-volume-base-path"].as<std::string>()}};
  size_t plugins = 0;
  for (auto manifest : {"controller.yaml", "node.yaml"}) {
    for (auto& doc : YAML::LoadAllFromFile(deploy + manifest)) {
      auto containers = doc["spec"]["template"]["spec"]["containers"];
      for (auto container : containers) {
        if (container["name"].as<std::string>("") != "rds-csi-plugin")
          continue;
        ++plugins;
        std::vector<std::string> args;
        for (auto arg : container["args"]) {
          auto text = arg.as<std::string>();
          for (auto& [name, value] : environment)
            for (auto at = text.find(name); at != std::string::npos; at = text.find(name))
              text.replace(at, name.size(), value);
          CHECK(text.find("$(") == std::string::npos);
          args.push_back(text);
        }
        // --version answers only once every flag before it was accepted.
        args.push_back("--version");
        std::string out;
        CAPTURE(manifest);
        CHECK(run_plugin(args, out) == 0);
        CHECK(out == "rds-csi-plugin " RDS_CSI_VERSION "\n");
      }
    }
  }
  CHECK(plugins == 2);
}
