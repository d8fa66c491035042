// The process's heap: which allocator serves it, how much it holds, and giving free memory back
// to the system. The plugin links jemalloc (Debian's libjemalloc2) unless built with the
// sanitizers: objects of one size class share their own slabs, so the records that stay (a
// dormant volume's, a few hundred bytes) do not sit on the slabs of the objects that go (a
// retired volume actor's, about 1.6 KB), whose slabs empty whole and can be given back; glibc's
// malloc mixes them on the same pages.
#pragma once

#include <string>

namespace rds::services::memory {

/// "jemalloc 5.3.0-0-g...", "glibc malloc" or "the sanitizers' allocator".
std::string allocator_name();

/// Whether a background thread gives unused pages back to the system on its own (jemalloc's
/// background_thread, set by this module's options; false for the others).
bool background_purge();

/// Bytes the application holds (allocated and not freed), or -1 if the allocator cannot tell.
long long heap_in_use();

/// Bytes of the allocator's pages that are resident, or -1 if it cannot tell.
long long heap_resident();

/// Gives the free pages of every arena back to the system: jemalloc purges them, glibc trims.
/// Can take tens of milliseconds over a large heap: call it off the actor scheduler.
void release_free_memory();

} // namespace rds::services::memory
