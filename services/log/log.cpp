// Leveled stderr logging with an RFC 3339 UTC timestamp per line.
#include "services/log/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace rds::log {

namespace {

std::atomic<int> threshold{static_cast<int>(level::info)};
std::mutex output_mutex;

const char* name_of(level l) {
  switch (l) {
  case level::debug:
    return "DEBUG";
  case level::info:
    return "INFO";
  case level::warning:
    return "WARN";
  case level::error:
    return "ERROR";
  }
  return "?";
}

} // namespace

bool parse_level(const std::string& text, level& out) {
  if (text == "debug")
    out = level::debug;
  else if (text == "info")
    out = level::info;
  else if (text == "warning" || text == "warn")
    out = level::warning;
  else if (text == "error")
    out = level::error;
  else
    return false;
  return true;
}

void set_threshold(level l) {
  threshold = static_cast<int>(l);
}

bool enabled(level l) {
  return static_cast<int>(l) >= threshold.load(std::memory_order_relaxed);
}

void write(level l, const std::string& line) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto seconds = system_clock::to_time_t(now);
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
  std::lock_guard<std::mutex> guard{output_mutex};
  std::fprintf(stderr, "%s.%03dZ %-5s %s\n", stamp, static_cast<int>(millis), name_of(l),
               line.c_str());
}

} // namespace rds::log
