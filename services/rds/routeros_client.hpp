// The RouterOS REST client: /disk and /file over HTTP(S) with libcurl. Basic auth, verified TLS
// (unless explicitly skipped), a deadline on every request, bounded retries with backoff for
// idempotent requests only, and RouterOS error bodies turned into ec codes with the device's
// detail kept. Values are sent as JSON strings built from validated fields: never a command
// string. Blocking: use it from the detached rds actor only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "messages/error_code.hpp"
#include "services/rds/disk.hpp"

namespace rds::services::rds_api {

struct client_config {
  /// e.g. "https://192.0.2.10:443/rest" (never a default: it comes from --rds-address).
  std::string base_url;
  std::string user;
  std::string password;
  /// PEM file of the CA that signed the RDS's certificate.
  std::string ca_file;
  /// Skip TLS verification (an explicit flag; logged loudly by the caller).
  bool insecure_skip_verify = false;
  std::chrono::milliseconds deadline{15000};
  /// For a raw copy between disks (snapshots and clones), which takes as long as the data.
  std::chrono::milliseconds copy_deadline{std::chrono::minutes{30}};
  /// Attempts for idempotent requests (GET, PATCH, DELETE), the first included.
  int attempts = 3;
  std::chrono::milliseconds first_backoff{100};
  /// Consecutive failed requests (no answer, or a 5xx) that open the circuit breaker.
  int breaker_failures = 5;
  /// How long an open breaker refuses requests before it lets one through to try.
  std::chrono::milliseconds breaker_cooldown{10000};
};

/// The circuit breaker: closed (requests flow), open (refused at once), half-open (one trial).
enum class breaker_state { closed, open, half_open };

struct rest_reply {
  outcome status;
  long http_status = 0;
  std::string body;
  /// Worth trying again (false for an untrusted certificate: a configuration error).
  bool transient = true;
};

/// Observes every HTTP request: method, HTTP status (0: no answer) and seconds taken.
using request_observer = std::function<void(const std::string&, long, double)>;
/// Observes every change of the breaker's state.
using breaker_observer = std::function<void(breaker_state)>;

class routeros_client {
 public:
  routeros_client(client_config config, request_observer observer = {},
                  breaker_observer on_breaker = {});
  ~routeros_client();
  routeros_client(const routeros_client&) = delete;
  routeros_client& operator=(const routeros_client&) = delete;

  /// Every file disk.
  outcome list_file_disks(std::vector<disk>& out);
  /// The disk with this slot, if any.
  outcome find_disk(const std::string& slot, std::optional<disk>& out);
  /// Adds a file disk; `out` is the record as the device shows it.
  outcome add_disk(const disk& wanted, disk& out);
  /// Sets the export fields of a disk.
  outcome set_export(const std::string& id, bool exported, uint16_t port, const std::string& nqn,
                     disk& out);
  /// Removes a disk; an id that is already gone is done.
  outcome remove_disk(const std::string& id);
  /// Grows a file disk to `bytes`.
  outcome set_size(const std::string& id, uint64_t bytes, disk& out);
  /// Renames a disk (its slot).
  outcome set_slot(const std::string& id, const std::string& slot, disk& out);
  /// Copies the whole content of disk `from_slot` onto disk `to_slot` (/disk copy), which must
  /// be at least as large. Waits until the copy is done, up to the copy deadline.
  outcome copy_disk(const std::string& from_slot, const std::string& to_slot);
  /// Every /file entry.
  outcome list_files(std::vector<file>& out);
  /// The /file entry of a path (no leading slash), if any, and its removal.
  outcome find_file(const std::string& name, std::optional<file>& out);
  outcome remove_file(const std::string& id);

  /// The circuit breaker now.
  breaker_state breaker() const;

  rest_reply request(const std::string& method, const std::string& path, const std::string& body);
  rest_reply request(const std::string& method, const std::string& path, const std::string& body,
                     std::chrono::milliseconds deadline);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Whether the JSON record `json` shows every field of `fields` with the value sent (booleans
/// compared as booleans: RouterOS prints "yes" for "true" on some versions).
bool record_shows(const std::string& json,
                  const std::vector<std::pair<std::string, std::string>>& fields);

/// RouterOS error body + HTTP status -> ec with the device's detail.
outcome outcome_of(long http_status, const std::string& body, const std::string& what);

} // namespace rds::services::rds_api
