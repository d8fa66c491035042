// spdlog carries the records (level filter, one locked sink, flush per line); the line itself is
// rendered here, so text and JSON share one time stamp and one escaping rule. The logger is
// synchronous: its formatter runs in the thread that logs, which hands the record's fields over
// in a thread-local.
#include "services/log/log.hpp"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace rds::log {

namespace {

std::atomic<int> threshold{static_cast<int>(level::info)};
std::atomic<int> line_format{static_cast<int>(format::text)};
thread_local const std::vector<field>* record_fields = nullptr;

std::mutex secrets_mutex;
std::vector<std::string> secrets;
std::atomic<bool> any_secret{false};

/// `text` with every registered secret in it replaced.
std::string without_secrets(std::string text) {
  std::lock_guard<std::mutex> guard{secrets_mutex};
  for (auto& secret : secrets)
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
      text.replace(at, secret.size(), "[redacted]");
  return text;
}

spdlog::level::level_enum to_spdlog(level l) {
  switch (l) {
  case level::debug:
    return spdlog::level::debug;
  case level::info:
    return spdlog::level::info;
  case level::warning:
    return spdlog::level::warn;
  case level::error:
    return spdlog::level::err;
  }
  return spdlog::level::err;
}

level from_spdlog(spdlog::level::level_enum l) {
  switch (l) {
  case spdlog::level::trace:
  case spdlog::level::debug:
    return level::debug;
  case spdlog::level::info:
    return level::info;
  case spdlog::level::warn:
    return level::warning;
  default:
    return level::error;
  }
}

const char* text_name(level l) {
  switch (l) {
  case level::debug:
    return "DEBUG";
  case level::info:
    return "INFO ";
  case level::warning:
    return "WARN ";
  case level::error:
    return "ERROR";
  }
  return "?";
}

const char* json_name(level l) {
  switch (l) {
  case level::debug:
    return "debug";
  case level::info:
    return "info";
  case level::warning:
    return "warning";
  case level::error:
    return "error";
  }
  return "?";
}

/// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one.
size_t utf8_sequence(const std::string& s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto c = byte(i);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size())
    return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi)
    return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF)
      return 0;
  return n;
}

/// `s` as the inside of a JSON string: quotes, backslashes and control characters escaped,
/// each byte that is not part of well-formed UTF-8 replaced by U+FFFD.
void append_escaped(std::string& out, const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (auto n = utf8_sequence(s, i); n > 0) {
        out.append(s, i, n);
        i += n;
      } else {
        out += "\\ufffd";
        ++i;
      }
      continue;
    }
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20 || c == 0x7F)
        out += fmt::format("\\u{:04x}", c);
      else
        out += static_cast<char>(c);
    }
    ++i;
  }
}

bool reserved_or_repeated(const std::vector<field>& fields, size_t index) {
  auto& key = fields[index].key;
  if (key.empty() || key == "time" || key == "level" || key == "message")
    return true;
  for (size_t k = 0; k < index; ++k)
    if (fields[k].key == key)
      return true;
  return false;
}

/// A text value as it is: one word of printable characters; anything else quoted and escaped.
void append_text_value(std::string& out, const std::string& value) {
  bool plain = !value.empty();
  for (unsigned char c : value)
    if (c <= 0x20 || c == '"' || c == '=' || c == 0x7F || c == '\\')
      plain = false;
  if (plain) {
    out += value;
    return;
  }
  out += '"';
  append_escaped(out, value);
  out += '"';
}

class record_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    static const std::vector<field> none;
    auto line =
      render(static_cast<log::format>(line_format.load(std::memory_order_relaxed)),
             from_spdlog(msg.level), msg.time, std::string{msg.payload.data(), msg.payload.size()},
             record_fields != nullptr ? *record_fields : none);
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<record_formatter>();
  }
};

std::shared_ptr<spdlog::logger> make_logger(spdlog::sink_ptr sink) {
  sink->set_formatter(std::make_unique<record_formatter>());
  auto logger = std::make_shared<spdlog::logger>("rds-csi", std::move(sink));
  // Filtering is done once, by `threshold`, before a record is built.
  logger->set_level(spdlog::level::trace);
  return logger;
}

std::shared_ptr<spdlog::logger>& logger_slot() {
  static std::shared_ptr<spdlog::logger> slot =
    make_logger(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  return slot;
}

std::shared_ptr<spdlog::logger> current_logger() {
  return std::atomic_load(&logger_slot());
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

bool parse_format(const std::string& text, format& out) {
  if (text == "text")
    out = format::text;
  else if (text == "json")
    out = format::json;
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

void set_format(format f) {
  line_format = static_cast<int>(f);
}

void write_to_stderr() {
  std::atomic_store(&logger_slot(), make_logger(std::make_shared<spdlog::sinks::stderr_sink_mt>()));
}

void write_to(std::ostream& out) {
  std::atomic_store(&logger_slot(),
                    make_logger(std::make_shared<spdlog::sinks::ostream_sink_mt>(out, true)));
}

void redact(const std::string& secret) {
  if (secret.size() < 6)
    return;
  std::lock_guard<std::mutex> guard{secrets_mutex};
  if (std::find(secrets.begin(), secrets.end(), secret) == secrets.end())
    secrets.push_back(secret);
  any_secret = true;
}

void write(level l, const std::string& message, const std::vector<field>& fields) {
  auto logger = current_logger();
  if (any_secret.load(std::memory_order_relaxed)) {
    auto clean_fields = fields;
    for (auto& f : clean_fields)
      f.value = without_secrets(std::move(f.value));
    auto clean = without_secrets(message);
    record_fields = &clean_fields;
    logger->log(to_spdlog(l), spdlog::string_view_t{clean.data(), clean.size()});
    record_fields = nullptr;
    return;
  }
  record_fields = &fields;
  logger->log(to_spdlog(l), spdlog::string_view_t{message.data(), message.size()});
  record_fields = nullptr;
}

std::string render(format f, level l, std::chrono::system_clock::time_point time,
                   const std::string& message, const std::vector<field>& fields) {
  using namespace std::chrono;
  auto since_epoch = time.time_since_epoch();
  auto seconds = duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = duration_cast<milliseconds>(since_epoch - seconds).count();
  if (millis < 0) // before 1970: the second below, plus a positive fraction
    seconds -= std::chrono::seconds{1}, millis += 1000;
  auto stamp = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                           fmt::gmtime(static_cast<std::time_t>(seconds.count())), millis);
  std::string line;
  line.reserve(64 + message.size());
  if (f == format::json) {
    line += R"({"time":")";
    line += stamp;
    line += R"(","level":")";
    line += json_name(l);
    line += R"(","message":")";
    append_escaped(line, message);
    line += '"';
    for (size_t i = 0; i < fields.size(); ++i) {
      if (reserved_or_repeated(fields, i))
        continue;
      line += ",\"";
      append_escaped(line, fields[i].key);
      line += "\":\"";
      append_escaped(line, fields[i].value);
      line += '"';
    }
    line += '}';
    return line;
  }
  line += stamp;
  line += ' ';
  line += text_name(l);
  line += ' ';
  // One record stays one line: control characters are escaped as in JSON.
  for (char c : message) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F)
      append_escaped(line, std::string(1, c));
    else
      line += c;
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (reserved_or_repeated(fields, i))
      continue;
    line += ' ';
    line += fields[i].key;
    line += '=';
    append_text_value(line, fields[i].value);
  }
  return line;
}

} // namespace rds::log
