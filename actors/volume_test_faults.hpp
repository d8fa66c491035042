// The volume supervisor's test-only faults (the hidden flag --test-fault) and their parser, apart
// from the supervisor so that the flag parser (and its fuzzer) need none of the actors.
#pragma once

#include <caf/timespan.hpp>

#include <cstdint>
#include <string>

namespace rds::actors {

/// Test-only faults (the hidden flag --test-fault), so that the inspection port's integration
/// tests can show a crashed volume actor and a supervisor too slow to answer. None is ever set
/// in operation; every field's zero value means "no fault".
struct volume_test_faults {
  /// The volume whose actor exits with an error (once) on the `crash_on_publish`-th publish
  /// forwarded to it, before changing anything; the supervisor restarts it.
  std::string crash_volume;
  uint32_t crash_on_publish = 0;
  /// The supervisor answers its status and inspection requests this much later (a response
  /// promise and a delayed message: no thread waits).
  caf::timespan slow_answers{0};
};

/// Adds one --test-fault value to `faults`: "crash-volume:<volume-id>[:<n>]" (n: which publish,
/// default 1) or "slow-status:supervisor:<ms>". Returns what is wrong with it, or empty.
std::string add_test_fault(const std::string& spec, volume_test_faults& faults);

} // namespace rds::actors
