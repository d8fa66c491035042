// The RouterOS /disk and /file records the driver and the simulator exchange. Over REST every
// value is a JSON string (reference/protocols.md §4.4, §8.3).
#pragma once

#include <cstdint>
#include <string>

#include "messages/error_code.hpp"

namespace rds::services::rds_api {

/// A file-backed disk (/disk with type=file), or the pool it lives on (type=raid).
struct disk {
  /// RouterOS item id, e.g. "*1A": opaque, looked up again by slot for every operation.
  std::string id;
  std::string slot;
  std::string type = "file";
  /// Absolute, e.g. "/raid10/csi-0123456789abcdef0123456789ab.img".
  std::string file_path;
  uint64_t file_size = 0;
  bool nvme_tcp_export = false;
  uint16_t nvme_tcp_server_port = 4420;
  std::string nvme_tcp_server_nqn;
  /// For the pool: where it is mounted and how much is free.
  std::string mount_point;
  uint64_t size = 0;
  uint64_t free = 0;
};

/// A /file entry: the name has no leading slash.
struct file {
  std::string id;
  std::string name;
  uint64_t size = 0;
};

/// The JSON object RouterOS prints for a record.
std::string to_json(const disk& d);
std::string to_json(const file& f);

/// Reads a record as RouterOS prints it: strings everywhere, booleans "true"/"false" or
/// "yes"/"no", sizes as decimal bytes.
outcome disk_from_json(const std::string& json, disk& out);

/// "true"/"yes" -> true, "false"/"no" -> false; anything else: false and `ok` cleared.
bool parse_bool(const std::string& text, bool& ok);

/// A decimal byte count (no sign, no unit, at most 20 digits); false otherwise.
bool parse_bytes(const std::string& text, uint64_t& out);

/// RouterOS refuses slots longer than this (7.24).
constexpr size_t max_slot_length = 32;

/// Slot prefixes: a volume (its slot is its CSI volume id), a snapshot (its CSI snapshot id),
/// and a snapshot whose copy is not finished yet (renamed to "snp-" when it is).
constexpr const char* volume_prefix = "csi-";
constexpr const char* snapshot_prefix = "snp-";
constexpr const char* partial_snapshot_prefix = "tmp-";

/// The slot of a CSI name: the prefix and 28 hex digits of the name's SHA-256, so a retried
/// CreateVolume or CreateSnapshot finds the disk it created, and the slot is always 32
/// characters.
std::string slot_for(const std::string& csi_name, const char* prefix = volume_prefix);

/// Whether `slot` is a slot slot_for() makes with this prefix (and so one this driver owns).
bool has_slot_shape(const std::string& slot, const char* prefix);

} // namespace rds::services::rds_api
