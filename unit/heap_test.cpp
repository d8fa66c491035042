// The process's heap (services/memory): which allocator, how much is in use, giving free pages
// back.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "services/memory/heap.hpp"

using namespace rds::services::memory;

TEST_CASE("the heap names its allocator, counts what is held and gives freed pages back") {
  auto name = allocator_name();
  CHECK_FALSE(name.empty());
  auto jemalloc = name.rfind("jemalloc", 0) == 0;
  // The plugin's options took effect: a background thread returns unused pages by itself.
  CHECK(background_purge() == jemalloc);
  constexpr long long held_bytes = 4096LL * 2048;
  auto before = heap_in_use();
  // 4,096 blocks of 2 KiB, about a volume actor each, written to so that their pages are resident.
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 4096; ++i) {
    blocks.emplace_back(new char[2048]);
    std::fill_n(blocks.back().get(), 2048, static_cast<char>(i));
  }
  auto held = heap_in_use();
  auto resident_held = heap_resident();
  if (jemalloc) {
    REQUIRE(before >= 0);
    // jemalloc merges a thread's counts into its figures lazily (the thread cache): most.
    CHECK(held - before >= held_bytes * 3 / 4);
    CHECK(resident_held > held_bytes);
  } else if (name == "glibc malloc") {
    CHECK(held - before >= held_bytes);
  } else {
    CHECK(held == -1); // the sanitizers' allocator: not told
  }
  blocks.clear();
  release_free_memory();
  if (jemalloc) {
    CHECK(heap_in_use() < held - held_bytes / 2);
    // The freed blocks' pages are no longer resident.
    CHECK(heap_resident() < resident_held - held_bytes / 2);
  }
}
