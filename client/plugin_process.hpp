// Runs the real rds-csi-plugin binary as a child process for tests and benchmarks, reads where
// it listens from its stdout, and stops it the way Kubernetes does (SIGTERM).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace rds::client {

/// Path of the rds-csi-plugin binary: $RDS_CSI_PLUGIN, else next to the running program.
std::string plugin_binary();

/// A fresh private directory under /tmp, removed with its contents by the destructor.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class plugin_process {
 public:
  /// Starts the plugin with a socket in its own temp dir, metrics and the inspection port on
  /// 127.0.0.1:0 and `extra` flags (which may override them); waits until it prints where it
  /// listens and the socket accepts connections.
  explicit plugin_process(std::vector<std::string> extra = {});
  ~plugin_process();
  plugin_process(const plugin_process&) = delete;
  plugin_process& operator=(const plugin_process&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  /// http://127.0.0.1:PORT/metrics
  const std::string& metrics_url() const { return metrics_url_; }
  /// http://127.0.0.1:PORT (no trailing slash) of the inspection port; empty when disabled.
  const std::string& debug_url() const { return debug_url_; }
  pid_t pid() const { return pid_; }

  /// Sends SIGTERM and waits up to `limit`; returns the exit code, or -1 if it did not exit
  /// (it is then killed).
  int terminate(std::chrono::milliseconds limit = std::chrono::seconds{10});

  /// How a test ends with the plugin: it must still be running (it did not crash while the test
  /// talked to it) and exit 0 on SIGTERM. Returns what went wrong, or "" when both hold.
  std::string stop();

  /// Whether the process is still running (it has not exited or been killed).
  bool alive();

  /// Called with what went wrong when a plugin_process that no test stopped finds, at its
  /// destruction, that the plugin died or did not exit cleanly (the integration tests report it
  /// as a failed check; unset, it is ignored).
  static void (*on_unclean_end)(const std::string& problem);

 private:
  temp_dir dir_;
  std::string endpoint_;
  std::string metrics_url_;
  std::string debug_url_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  /// Set once the process was found dead: its exit status as wait_exit reports it.
  int exited_with_ = -1;
};

/// Starts `args` (args[0] is the program) with stdout and stderr appended to `log_path`.
pid_t start_process(const std::vector<std::string>& args, const std::string& log_path);

/// SIGTERM, then SIGKILL once `limit` passed; the exit code, or -1 if it had to be killed.
int stop_process(pid_t pid, std::chrono::milliseconds limit);

/// Starts rds-sim (next to the plugin binary) on a free loopback port with its data in
/// `dir`/data, the password "sim-secret" and `flags`; returns its /rest URL ("" if it did not
/// start) and its pid.
std::string start_rds_sim(const temp_dir& dir, const std::vector<std::string>& flags, pid_t& pid);

/// Flags that point the plugin at an rds-sim that start_rds_sim(dir, ...) started at `url`: the
/// URL and a password file in `dir` (written here), then `extra`.
std::vector<std::string> rds_sim_flags(const temp_dir& dir, const std::string& url,
                                       std::vector<std::string> extra = {});

/// Creates the volumes `names` (1 MiB each) through CreateVolume of a plugin, without a cluster,
/// whose embedded RDS keeps its disks in `sim_dir`, then stops it: name -> volume id. A plugin
/// started later with --rds-sim-data-dir=`sim_dir` finds them on its RDS. Empty if one failed.
std::map<std::string, std::string> provision_volumes(const std::string& sim_dir,
                                                     const std::vector<std::string>& names);

/// Runs the plugin binary with `args` to completion (for --help, bad flags...). Returns the exit
/// code and fills `output` with what it wrote to stdout and stderr.
int run_plugin(const std::vector<std::string>& args, std::string& output,
               std::chrono::milliseconds limit = std::chrono::seconds{10});

} // namespace rds::client
