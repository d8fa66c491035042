// The process's heap: jemalloc when linked (RDS_CSI_JEMALLOC), glibc's malloc otherwise.
#include "services/memory/heap.hpp"

#include <cstdint>

#if defined(RDS_CSI_JEMALLOC)
#include <jemalloc/jemalloc.h>
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(RDS_CSI_JEMALLOC)
// jemalloc's options, read at start-up (a program's definition takes the place of the
// library's): a background thread gives pages that stay unused for the decay time (10 s) back
// to the system, so that an idle process shrinks too (without it, only a later allocation
// would).
const char* malloc_conf = "background_thread:true,max_background_threads:1";
#endif

namespace rds::services::memory {

#if defined(RDS_CSI_JEMALLOC)

std::string allocator_name() {
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr)
    return "jemalloc";
  return std::string{"jemalloc "} + version;
}

long long heap_in_use() {
  // The statistics are a snapshot taken when the epoch advances.
  uint64_t epoch = 1;
  size_t epoch_size = sizeof(epoch);
  mallctl("epoch", &epoch, &epoch_size, &epoch, epoch_size);
  size_t allocated = 0;
  size_t size = sizeof(allocated);
  if (mallctl("stats.allocated", &allocated, &size, nullptr, 0) != 0)
    return -1;
  return static_cast<long long>(allocated);
}

void release_free_memory() {
  // Every arena's unused dirty pages, now (the background thread would do so after the decay
  // time).
  static_assert(MALLCTL_ARENAS_ALL == 4096, "the name below addresses every arena");
  mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}

#elif defined(__GLIBC__)

std::string allocator_name() {
  return "glibc malloc";
}

long long heap_in_use() {
  auto info = mallinfo2();
  return static_cast<long long>(info.uordblks + info.hblkhd);
}

void release_free_memory() {
  malloc_trim(0);
}

#else

std::string allocator_name() {
  return "the C library's malloc";
}
long long heap_in_use() {
  return -1;
}
void release_free_memory() {}

#endif

} // namespace rds::services::memory
