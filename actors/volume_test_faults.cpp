// Parser of the volume supervisor's test-only faults.
#include "actors/volume_test_faults.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

namespace rds::actors {

namespace {

bool all_digits(const std::string& text) {
  return !text.empty() && text.size() <= 9 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

} // namespace

std::string add_test_fault(const std::string& spec, volume_test_faults& faults) {
  const std::string crash = "crash-volume:";
  const std::string slow = "slow-status:supervisor:";
  if (spec.compare(0, crash.size(), crash) == 0) {
    auto rest = spec.substr(crash.size());
    uint32_t n = 1;
    auto colon = rest.rfind(':');
    if (colon != std::string::npos && all_digits(rest.substr(colon + 1))) {
      n = static_cast<uint32_t>(std::stoul(rest.substr(colon + 1)));
      rest = rest.substr(0, colon);
    }
    if (rest.empty() || n == 0)
      return "crash-volume needs a volume id and a publish number of at least 1 "
             "(crash-volume:<volume-id>[:<n>])";
    faults.crash_volume = rest;
    faults.crash_on_publish = n;
    return {};
  }
  if (spec.compare(0, slow.size(), slow) == 0) {
    auto ms = spec.substr(slow.size());
    if (!all_digits(ms))
      return "slow-status needs milliseconds (slow-status:supervisor:<ms>)";
    faults.slow_answers = std::chrono::milliseconds{std::stoul(ms)};
    return {};
  }
  return "unknown test fault (crash-volume:<volume-id>[:<n>] or slow-status:supervisor:<ms>)";
}

} // namespace rds::actors
