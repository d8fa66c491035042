// Runs a program as a child process with a deadline: a child that overruns is killed (its whole
// process group), so a hung mkfs or losetup never holds a node operation forever (the Go
// driver's exec calls had timeouts that never fired, reference/go-driver.md §3.1).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace rds::services::process {

struct child_result {
  /// The exit code; -1 if it did not start, was killed or died of a signal.
  int exit_code = -1;
  bool timed_out = false;
  /// stdout and stderr together, at most 64 KiB.
  std::string output;
  /// Why it could not be started, or empty.
  std::string start_error;

  bool ok() const { return exit_code == 0; }
  /// "<program> exited 1: <output>" for error messages.
  std::string describe(const std::string& program) const;
};

/// Runs argv[0] (looked up in PATH unless it has a '/') with argv; waits up to `deadline`.
child_result run_child(const std::vector<std::string>& argv, std::chrono::milliseconds deadline);

} // namespace rds::services::process
