// A RouterOS REST simulator for /disk and /file: the same URLs, verbs, JSON shapes and error
// bodies as a ROSE Data Server (reference/protocols.md §4 and §8), backed by sparse files in a
// data directory and keeping its state across restarts. Fault injection makes the driver's
// retries and breaker testable. Thread-safe: HTTP threads call handle() concurrently.
//
// State on disk: a snapshot (state.json) and a journal (state.journal) of changes since it, one
// JSON line each (a disk or file written whole, or removed), appended per change and folded into
// a new snapshot once it holds as many lines as there are objects, so a change costs O(1)
// amortised at any pool size. Each line sets or removes one object whole, so replaying the
// journal over any snapshot written since gives the same state; a torn last line is ignored.
// Lookups by slot, file name and id go through indexes, never a scan of the pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>

#include "services/http/http_server.hpp"
#include "services/rds/disk.hpp"

namespace rds::services::rds_api {

struct simulator_config {
  /// Where the pool's files and the simulator's state live.
  std::string data_dir;
  /// The pool: its slot and mount point (file paths start with "/<pool>/").
  std::string pool = "raid10";
  uint64_t pool_size = uint64_t{1} << 40;
  /// HTTP Basic credentials every request must carry.
  std::string user = "rds-csi";
  std::string password;
  /// The user lacks a RouterOS policy: every call answers 500 "not allowed (9)".
  bool deny_policy = false;
  /// Added to every request.
  std::chrono::milliseconds latency{0};
  /// Per verb (GET, PUT, PATCH, DELETE, POST): the share of requests answered with a 500.
  std::map<std::string, double> error_rate;
  /// How fast /disk copy copies (bytes of the source per second); 0: as fast as the disk.
  uint64_t copy_bytes_per_second = 0;
  /// The share of requests whose connection is closed without an answer (nothing is done).
  double drop_rate = 0;
  /// Per verb: the share of requests that are carried out, then closed without an answer (the
  /// answer is lost on the way back).
  std::map<std::string, double> drop_after_rate;
  /// Behave like RouterOS versions that answer PATCH and DELETE by id without doing anything;
  /// only POST /rest/<menu>/set and /rest/<menu>/remove change records there.
  bool legacy_rest = false;
  /// For the fault dice, so a run can be repeated.
  uint32_t seed = 1;
};

class routeros_simulator {
 public:
  /// Loads the state from the data directory (creating it and the pool directory if needed).
  explicit routeros_simulator(simulator_config config);
  ~routeros_simulator();
  routeros_simulator(const routeros_simulator&) = delete;
  routeros_simulator& operator=(const routeros_simulator&) = delete;

  /// Why the simulator cannot run (e.g. the data directory is not writable); empty if fine.
  const std::string& error() const { return error_; }

  http::response handle(const http::request& req);

  /// Requests answered so far (for a benchmark's raw rate).
  uint64_t requests() const;

 private:
  http::response handle_locked(const http::request& req);
  http::response route(const http::request& req);
  http::response list_disks(const http::request& req);
  http::response add_disk(const std::string& body);
  http::response set_disk(const std::string& id, const std::string& body);
  http::response remove_disk(const std::string& id);
  http::response copy_disk(const std::string& body);
  http::response post_command(const std::string& menu, const std::string& command,
                              const std::string& body);
  http::response list_files(const http::request& req);
  http::response remove_file(const std::string& id);
  disk pool_record() const;
  std::string path_on_disk(const std::string& file_path) const;
  /// Records a change in the journal (and folds the journal into a snapshot when it is long).
  void journal_disk(const disk& d);
  void journal_disk_removed(const std::string& id);
  void journal_file(const std::string& name, const std::string& id);
  void journal_file_removed(const std::string& name);
  void append(const std::string& line);
  void write_snapshot();
  void load();
  bool apply(const std::string& line);
  /// Index upkeep: every change of disks_ and file_ids_ goes through these.
  void put_disk(const disk& d);
  void drop_disk(const std::string& id);
  void put_file(const std::string& name, const std::string& id);
  void drop_file(const std::string& name);
  /// The id of a file, given it exists on disk: assigned (and journaled) on first sight.
  std::string file_id(const std::string& name);

  simulator_config config_;
  mutable std::mutex mutex_;
  std::map<std::string, disk> disks_;                       // by .id
  std::map<std::string, std::string> file_ids_;             // file name -> .id
  std::unordered_map<std::string, std::string> slot_ids_;   // slot -> disk .id
  std::unordered_map<std::string, std::string> file_names_; // file .id -> name
  uint64_t used_bytes_ = 0;
  int journal_fd_ = -1;
  size_t journal_lines_ = 0;
  uint64_t next_id_ = 0x10;
  uint64_t requests_ = 0;
  /// What the request being handled copied (for the copy rate).
  uint64_t copied_bytes_ = 0;
  std::mt19937 dice_;
  std::string error_;
};

/// A RouterOS error body: {"error":<status>,"message":<reason>,"detail":<detail>}.
http::response routeros_error(int status, const std::string& detail);

} // namespace rds::services::rds_api
