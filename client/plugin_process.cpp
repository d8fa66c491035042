// fork/exec of the plugin, with its stdout on a pipe.
#include "client/plugin_process.hpp"

#include "client/csi_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace rds::client {

namespace {

using clock_type = std::chrono::steady_clock;

/// Forks and runs `args` with stdout (and, if `merge_stderr`, stderr) on `out_fd`.
pid_t fork_exec(const std::vector<std::string>& args, int out_fd, bool merge_stderr) {
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (out_fd >= 0) {
      ::dup2(out_fd, STDOUT_FILENO);
      if (merge_stderr)
        ::dup2(out_fd, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

pid_t spawn(const std::vector<std::string>& args, int& read_fd, bool merge_stderr) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  auto pid = fork_exec(args, fds[1], merge_stderr);
  ::close(fds[1]);
  read_fd = fds[0];
  return pid;
}

/// Reads what is available on `fd` within `limit`; false at end of file.
bool read_some(int fd, std::string& into, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0)
    return true;
  char buf[4096];
  auto n = ::read(fd, buf, sizeof(buf));
  if (n <= 0)
    return false;
  into.append(buf, static_cast<size_t>(n));
  return true;
}

int wait_exit(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = clock_type::now() + limit;
  while (clock_type::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

bool socket_accepts(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

} // namespace

std::string plugin_binary() {
  if (const char* env = std::getenv("RDS_CSI_PLUGIN"))
    return env;
  char self[PATH_MAX] = {};
  auto n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  auto dir =
    std::filesystem::path{std::string(self, n > 0 ? static_cast<size_t>(n) : 0)}.parent_path();
  return (dir / "rds-csi-plugin").string();
}

temp_dir::temp_dir() {
  char pattern[] = "/tmp/rds-csi-test-XXXXXX";
  if (::mkdtemp(pattern) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

plugin_process::plugin_process(std::vector<std::string> extra) {
  endpoint_ = "unix://" + dir_.path() + "/csi.sock";
  // Each plugin gets its own embedded RDS simulator directory.
  std::vector<std::string> args{plugin_binary(),
                                "--endpoint=" + endpoint_,
                                "--metrics-address=127.0.0.1:0",
                                "--debug-address=127.0.0.1:0",
                                "--log-level=error",
                                "--rds-sim-data-dir=" + dir_.path() + "/sim"};
  args.insert(args.end(), extra.begin(), extra.end());
  pid_ = spawn(args, stdout_fd_, false);
  std::string out;
  auto deadline = clock_type::now() + std::chrono::seconds{20};
  const std::string marker = "metrics: ";
  while (clock_type::now() < deadline) {
    auto pos = out.find(marker);
    if (pos != std::string::npos && out.find('\n', pos) != std::string::npos) {
      metrics_url_ = out.substr(pos + marker.size(), out.find('\n', pos) - pos - marker.size());
      break;
    }
    if (!read_some(stdout_fd_, out, std::chrono::milliseconds{100}))
      break;
  }
  // The plugin prints the inspection port's line before the metrics line.
  const std::string debug_marker = "\ndebug: ";
  if (auto pos = out.find(debug_marker); pos != std::string::npos) {
    auto begin = pos + debug_marker.size();
    auto url = out.substr(begin, out.find('\n', begin) - begin);
    if (url.rfind("http://", 0) == 0)
      debug_url_ = url.substr(0, url.size() - (url.back() == '/' ? 1 : 0));
  }
  if (metrics_url_.empty()) {
    terminate(std::chrono::seconds{2});
    throw std::runtime_error("the plugin did not start; it printed: " + out);
  }
  while (!socket_accepts(dir_.path() + "/csi.sock")) {
    if (clock_type::now() > deadline)
      throw std::runtime_error("the plugin's socket does not accept connections");
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

void (*plugin_process::on_unclean_end)(const std::string& problem) = nullptr;

plugin_process::~plugin_process() {
  if (pid_ > 0) {
    auto problem = stop();
    if (!problem.empty() && on_unclean_end != nullptr)
      on_unclean_end(problem);
  }
  if (stdout_fd_ >= 0)
    ::close(stdout_fd_);
}

bool plugin_process::alive() {
  if (pid_ <= 0)
    return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_)
    return true;
  exited_with_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  pid_ = -1;
  return false;
}

std::string plugin_process::stop() {
  if (pid_ <= 0 && exited_with_ < 0)
    return "the plugin was already stopped";
  if (!alive())
    return "the plugin died before the test ended (exit status " + std::to_string(exited_with_)
           + (exited_with_ > 128 ? ", signal " + std::to_string(exited_with_ - 128) : "") + ")";
  auto code = terminate(std::chrono::seconds{10});
  if (code == 0)
    return {};
  if (code < 0)
    return "the plugin did not exit within 10 s of SIGTERM (killed)";
  return "the plugin exited with status " + std::to_string(code) + " on SIGTERM";
}

pid_t start_process(const std::vector<std::string>& args, const std::string& log_path) {
  int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  auto pid = fork_exec(args, fd, true);
  if (fd >= 0)
    ::close(fd);
  return pid;
}

int stop_process(pid_t pid, std::chrono::milliseconds limit) {
  if (pid <= 0)
    return -1;
  ::kill(pid, SIGTERM);
  return wait_exit(pid, limit);
}

int plugin_process::terminate(std::chrono::milliseconds limit) {
  if (pid_ <= 0)
    return -1;
  ::kill(pid_, SIGTERM);
  auto code = wait_exit(pid_, limit);
  pid_ = -1;
  return code;
}

std::string start_rds_sim(const temp_dir& dir, const std::vector<std::string>& flags, pid_t& pid) {
  auto sim = plugin_binary();
  sim = sim.substr(0, sim.rfind('/')) + "/rds-sim";
  std::ofstream{dir.path() + "/password"} << "sim-secret\n";
  std::vector<std::string> args{sim, "--data-dir=" + dir.path() + "/data",
                                "--password-file=" + dir.path() + "/password"};
  args.insert(args.end(), flags.begin(), flags.end());
  auto log = dir.path() + "/sim.log";
  std::ofstream{log, std::ios::trunc};
  pid = start_process(args, log);
  const std::string marker = "rds-sim listening on ";
  for (int i = 0; i < 500; ++i) {
    std::ifstream in{log};
    std::string line;
    while (std::getline(in, line))
      if (line.rfind(marker, 0) == 0)
        return line.substr(marker.size());
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return {};
}

int run_plugin(const std::vector<std::string>& args, std::string& output,
               std::chrono::milliseconds limit) {
  std::vector<std::string> argv{plugin_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  int fd = -1;
  auto pid = spawn(argv, fd, true);
  auto deadline = clock_type::now() + limit;
  while (clock_type::now() < deadline && read_some(fd, output, std::chrono::milliseconds{100})) {
  }
  ::close(fd);
  return wait_exit(pid, std::chrono::seconds{5});
}

std::vector<std::string> rds_sim_flags(const temp_dir& dir, const std::string& url,
                                       std::vector<std::string> extra) {
  std::ofstream{dir.path() + "/rds-password"} << "sim-secret\n";
  extra.insert(extra.begin(),
               {"--rds-url=" + url, "--rds-password-file=" + dir.path() + "/rds-password"});
  return extra;
}

std::map<std::string, std::string> provision_volumes(const std::string& sim_dir,
                                                     const std::vector<std::string>& names) {
  plugin_process plugin{{"--rds-sim-data-dir=" + sim_dir}};
  csi_client client{plugin.endpoint()};
  std::map<std::string, std::string> ids;
  for (auto& name : names) {
    auto id = client.provision(name);
    if (id.empty())
      return {};
    ids[name] = id;
  }
  return ids;
}

} // namespace rds::client
