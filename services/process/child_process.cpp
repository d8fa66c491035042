// fork + exec with a pipe for the output; poll until the child closes it or the deadline
// passes, then SIGKILL the child's process group.
#include "services/process/child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rds::services::process {

std::string child_result::describe(const std::string& program) const {
  if (!start_error.empty())
    return program + " could not be started: " + start_error;
  if (timed_out)
    return program + " did not finish in time and was killed";
  auto text = output.size() > 400 ? output.substr(0, 400) + "..." : output;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return program + " exited " + std::to_string(exit_code) + (text.empty() ? "" : ": " + text);
}

child_result run_child(const std::vector<std::string>& argv, std::chrono::milliseconds deadline) {
  child_result result;
  if (argv.empty()) {
    result.start_error = "no program";
    return result;
  }
  int out[2];
  int report[2]; // the exec error, if exec fails
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    result.start_error = std::strerror(errno);
    return result;
  }
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      ::dup2(devnull, 0);
    ::execvp(args[0], args.data());
    int err = errno;
    (void)!::write(report[1], &err, sizeof(err));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(report[1]);
  if (pid < 0) {
    result.start_error = std::strerror(errno);
    ::close(out[0]);
    ::close(report[0]);
    return result;
  }
  ::setpgid(pid, pid);
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[4096];
  for (;;) {
    auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      continue;
    auto n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0)
      break; // the child closed its output: it is ending
    if (result.output.size() < 65536)
      result.output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  // The output is closed; the exit normally follows at once. A child that lingers past the
  // deadline is killed all the same.
  while (!result.timed_out) {
    auto done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR))
      break;
    if (std::chrono::steady_clock::now() >= end)
      result.timed_out = true;
    else
      ::usleep(2000);
  }
  if (result.timed_out) {
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  int exec_error = 0;
  if (::read(report[0], &exec_error, sizeof(exec_error)) == sizeof(exec_error))
    result.start_error = std::strerror(exec_error);
  ::close(out[0]);
  ::close(report[0]);
  if (!result.timed_out && result.start_error.empty() && WIFEXITED(status))
    result.exit_code = WEXITSTATUS(status);
  return result;
}

} // namespace rds::services::process
