// The process's heap: jemalloc when linked (RDS_CSI_JEMALLOC), the sanitizers' allocator under
// AddressSanitizer, glibc's malloc otherwise.
#include "services/memory/heap.hpp"

#include <cstddef>
#include <cstdint>

#if defined(RDS_CSI_JEMALLOC)
#include <jemalloc/jemalloc.h>
#elif defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
#include <malloc.h>
#endif

#if defined(RDS_CSI_JEMALLOC)
// jemalloc's options, read at start-up (a program's definition takes the place of the
// library's): one background thread gives pages that stayed unused for the decay time back to
// the system, so that an idle process shrinks too (without it, only a later allocation in the
// same arena would). background_purge() tells whether it took effect.
const char* malloc_conf = "background_thread:true,max_background_threads:1";
#endif

namespace rds::services::memory {

#if defined(RDS_CSI_JEMALLOC)

namespace {

/// A statistic of jemalloc's, refreshed first (they are a snapshot taken when the epoch
/// advances); -1 if it has none of that name.
long long statistic(const char* name) {
  uint64_t epoch = 1;
  size_t epoch_size = sizeof(epoch);
  mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size);
  size_t value = 0;
  size_t size = sizeof(value);
  if (mallctl(name, &value, &size, nullptr, 0) != 0)
    return -1;
  return static_cast<long long>(value);
}

} // namespace

std::string allocator_name() {
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr)
    return "jemalloc";
  return std::string{"jemalloc "} + version;
}

bool background_purge() {
  bool on = false;
  size_t size = sizeof(on);
  return mallctl("background_thread", &on, &size, nullptr, 0) == 0 && on;
}

long long heap_in_use() {
  return statistic("stats.allocated");
}

long long heap_resident() {
  return statistic("stats.resident");
}

void release_free_memory() {
  // Every arena's unused dirty pages, now (the background thread would after the decay time).
  static_assert(MALLCTL_ARENAS_ALL == 4096, "the name below addresses every arena");
  mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}

#elif defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)

std::string allocator_name() {
  return "glibc malloc";
}

bool background_purge() {
  return false;
}

long long heap_in_use() {
  auto info = mallinfo2();
  return static_cast<long long>(info.uordblks + info.hblkhd);
}

long long heap_resident() {
  return -1;
}

void release_free_memory() {
  malloc_trim(0);
}

#else

std::string allocator_name() {
#if defined(__SANITIZE_ADDRESS__)
  return "the sanitizers' allocator";
#else
  return "the C library's malloc";
#endif
}
bool background_purge() {
  return false;
}
long long heap_in_use() {
  return -1;
}
long long heap_resident() {
  return -1;
}
void release_free_memory() {}

#endif

} // namespace rds::services::memory
