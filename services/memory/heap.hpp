// The process's heap: which allocator serves it, how much it holds, and giving free memory back
// to the system. The plugin links jemalloc (Debian's libjemalloc2) unless built with the
// sanitizers: its size classes keep the small records that stay (a dormant volume's) apart from
// the large objects that go (a retired actor), so that the pages the latter leave can be given
// back; glibc's malloc mixes them on the same pages.
#pragma once

#include <cstddef>
#include <string>

namespace rds::services::memory {

/// "jemalloc 5.3.0-0-g..." or "glibc malloc".
std::string allocator_name();

/// Bytes the application holds (allocated and not freed), or -1 if the allocator cannot tell.
long long heap_in_use();

/// Gives the free pages of every arena back to the system: jemalloc purges them, glibc trims.
/// Can take tens of milliseconds over a large heap: call it off the actor scheduler.
void release_free_memory();

} // namespace rds::services::memory
