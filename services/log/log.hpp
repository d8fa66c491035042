// Process-wide leveled logging to stderr, one line per record. Never pass secrets to it.
#pragma once

#include <sstream>
#include <string>

namespace rds::log {

enum class level : int { debug = 0, info = 1, warning = 2, error = 3 };

/// Parses "debug", "info", "warning" or "error"; false for anything else.
bool parse_level(const std::string& text, level& out);

void set_threshold(level l);
bool enabled(level l);
void write(level l, const std::string& line);

template <class... Ts> void emit(level l, const Ts&... xs) {
  if (!enabled(l))
    return;
  std::ostringstream out;
  (out << ... << xs);
  write(l, out.str());
}

template <class... Ts> void debug(const Ts&... xs) {
  emit(level::debug, xs...);
}
template <class... Ts> void info(const Ts&... xs) {
  emit(level::info, xs...);
}
template <class... Ts> void warning(const Ts&... xs) {
  emit(level::warning, xs...);
}
template <class... Ts> void error(const Ts&... xs) {
  emit(level::error, xs...);
}

} // namespace rds::log
