// Process-wide leveled logging to stderr through spdlog, one line per record, as text or as JSON
// lines. A record may carry structured fields (the volume, the node) next to its message:
//   log::info(log::volume(id), log::node(node_id), "published read-only");
// Arguments of type log::field become fields, everything else is streamed into the message, so
// plain calls like log::info("listening on ", address) read as before. Never pass secrets to it.
#pragma once

#include <chrono>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rds::log {

enum class level : int { debug = 0, info = 1, warning = 2, error = 3 };

/// text: `2026-11-30T16:20:00.123Z INFO  message volume=pvc-1 node=n1`;
/// json: `{"time":"2026-11-30T16:20:00.123Z","level":"info","message":"...","volume":"pvc-1"}`.
enum class format { text, json };

/// Parses "debug", "info", "warning" or "error"; false for anything else.
bool parse_level(const std::string& text, level& out);

/// Parses "text" or "json"; false for anything else.
bool parse_format(const std::string& text, format& out);

/// A field whose value is not copied unless the record is written: what volume() and node()
/// give, for records that are mostly below the threshold. It refers to its value, so it lives
/// only as long as the logging call (it is made in the call's arguments).
struct field_view {
  const char* key;
  std::string_view value;
};

/// One key and its value, written as a JSON member of its own (always a string) or as
/// key=value after a text message. "time", "level" and "message" are the record's own keys: a
/// field named so, or a second field with the same key, is left out of the line.
struct field {
  field(std::string k, std::string v)
    : key(std::move(k))
    , value(std::move(v)) {}
  field(const field_view& f)
    : key(f.key)
    , value(f.value) {}

  std::string key;
  std::string value;
};

/// The volume (CSI volume id) a record is about.
inline field_view volume(std::string_view id) {
  return field_view{"volume", id};
}

/// The node (CSI node id) a record is about.
inline field_view node(std::string_view id) {
  return field_view{"node", id};
}

void set_threshold(level l);
bool enabled(level l);
void set_format(format f);

/// Where the lines go: stderr (the default), or, for tests, `out` (it must outlive the logging).
void write_to_stderr();
void write_to(std::ostream& out);

/// Registers a secret the process holds (a password, a token, a line of a key): a record that
/// would contain it shows "[redacted]" in its place. A second line of defence only: nothing
/// passes secrets to the log. Strings shorter than 6 characters are not registered.
void redact(const std::string& secret);

void write(level l, const std::string& message, const std::vector<field>& fields = {});

/// The line (without its newline) a record becomes, as written; for tests and for programs that
/// print a record themselves.
std::string render(format f, level l, std::chrono::system_clock::time_point time,
                   const std::string& message, const std::vector<field>& fields);

namespace detail {

inline void add(std::ostringstream&, std::vector<field>& fields, const field& f) {
  fields.push_back(f);
}

inline void add(std::ostringstream&, std::vector<field>& fields, const field_view& f) {
  fields.emplace_back(f);
}

template <class T> void add(std::ostringstream& out, std::vector<field>&, const T& x) {
  out << x;
}

} // namespace detail

template <class... Ts> void emit(level l, const Ts&... xs) {
  if (!enabled(l))
    return;
  std::ostringstream out;
  std::vector<field> fields;
  (detail::add(out, fields, xs), ...);
  write(l, out.str(), fields);
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
