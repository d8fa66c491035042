// RouterOS REST replies: a /disk record, an error body, and the check that a record shows the
// fields sent (services/rds). Every value over REST is a JSON string the device chose.
#include "fuzz/input_text.hpp"
#include "services/rds/disk.hpp"
#include "services/rds/routeros_client.hpp"

namespace api = rds::services::rds_api;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = rds::fuzz::text_of(data, size);
  api::disk d;
  if (api::disk_from_json(json, d).ok() && d.type == "file") {
    // The simulator stores a file disk as it read it and prints it again: it must round-trip.
    api::disk again;
    if (!api::disk_from_json(api::to_json(d), again).ok() || again.slot != d.slot
        || again.file_size != d.file_size || again.nvme_tcp_server_port != d.nvme_tcp_server_port)
      __builtin_trap();
  }
  api::record_shows(json, {{"slot", "csi-0123456789abcdef0123456789ab"},
                           {"nvme-tcp-export", "true"},
                           {"file-size", "1073741824"}});
  for (long status : {400L, 401L, 404L, 409L, 500L})
    api::outcome_of(status, json, "fuzz");
  bool ok = true;
  api::parse_bool(json, ok);
  uint64_t bytes = 0;
  api::parse_bytes(json, bytes);
  return 0;
}
