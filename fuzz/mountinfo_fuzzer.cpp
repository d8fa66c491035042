// /proc/self/mountinfo lines (services/mount: read_mountinfo, whatever reads the table inside).
// The kernel writes this file, but mount points and sources come from users and containers.
#include "fuzz/input_text.hpp"
#include "services/mount/mounts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto path = (rds::fuzz::scratch_dir() / "mountinfo").string();
  rds::fuzz::write_file(path, rds::fuzz::text_of(data, size));
  auto entries = rds::services::mount::read_mountinfo(path);
  if (size == 0 && !entries.empty())
    __builtin_trap(); // nothing comes out of an empty table
  return 0;
}
