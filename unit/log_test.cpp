// The log line formats: JSON lines that any JSON parser reads back exactly (whatever bytes the
// message holds), text lines that stay one line, and the structured fields of both.
#include <doctest/doctest.h>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <sstream>

#include "services/log/log.hpp"

using namespace rds;
using namespace std::chrono;

namespace {

/// 2026-11-30T16:20:05.123Z
system_clock::time_point at_test_time() {
  return system_clock::time_point{seconds{1796055605} + milliseconds{123}};
}

/// Parses one JSON line strictly (valid UTF-8 required) into `doc`; the parser's complaint, or "".
std::string parse_line(const std::string& line, rapidjson::Document& doc) {
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.c_str(), line.size());
  if (doc.HasParseError())
    return std::string{rapidjson::GetParseError_En(doc.GetParseError())} + " at "
           + std::to_string(doc.GetErrorOffset());
  return doc.IsObject() ? "" : "not an object";
}

std::string member(const rapidjson::Document& doc, const char* key) {
  auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || !it->value.IsString())
    return "<absent>";
  return {it->value.GetString(), it->value.GetStringLength()};
}

/// Restores the process-wide logging state a test changed.
struct log_state_guard {
  ~log_state_guard() {
    log::write_to_stderr();
    log::set_format(log::format::text);
    log::set_threshold(log::level::info);
  }
};

} // namespace

TEST_CASE("a JSON line carries time, level, message and the fields") {
  auto line = log::render(log::format::json, log::level::warning, at_test_time(),
                          "published to worker-2", {log::volume("pvc-1"), log::node("worker-2")});
  CHECK(line
        == R"({"time":"2026-11-30T16:20:05.123Z","level":"warning","message":"published to )"
           R"(worker-2","volume":"pvc-1","node":"worker-2"})");
  for (auto [l, name] : {std::pair{log::level::debug, "debug"},
                         {log::level::info, "info"},
                         {log::level::error, "error"}}) {
    rapidjson::Document doc;
    REQUIRE(parse_line(log::render(log::format::json, l, at_test_time(), "m", {}), doc) == "");
    CHECK(member(doc, "level") == name);
    CHECK(doc.MemberCount() == 3);
  }
}

TEST_CASE("the time is RFC 3339 in UTC with milliseconds, also before 1970") {
  auto line = log::render(log::format::json, log::level::info,
                          system_clock::time_point{milliseconds{-500}}, "m", {});
  rapidjson::Document doc;
  REQUIRE(parse_line(line, doc) == "");
  CHECK(member(doc, "time") == "1969-12-31T23:59:59.500Z");
  CHECK(log::render(log::format::text, log::level::info, system_clock::time_point{}, "m", {})
        == "1970-01-01T00:00:00.000Z INFO  m");
}

TEST_CASE("any message is valid JSON and reads back as it was, bad UTF-8 as U+FFFD") {
  const std::string replacement = "\xEF\xBF\xBD";
  struct example {
    std::string message, read_back;
  };
  std::vector<example> examples{
    {R"(say "hi" \ bye)", R"(say "hi" \ bye)"},
    {"two\nlines\r\tand \x01\x1f\x7f", "two\nlines\r\tand \x01\x1f\x7f"},
    {std::string{"nul\0inside", 10}, std::string{"nul\0inside", 10}},
    {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
    {"lone \xFF byte", "lone " + replacement + " byte"},
    {"cut \xE2\x82", "cut " + replacement + replacement},
    {"overlong \xC0\xAF", "overlong " + replacement + replacement},
    {"surrogate \xED\xA0\x80", "surrogate " + replacement + replacement + replacement},
    {"too high \xF4\x90\x80\x80",
     "too high " + replacement + replacement + replacement + replacement},
    {"continuation \x80 alone", "continuation " + replacement + " alone"},
    {"", ""},
  };
  for (auto& e : examples) {
    CAPTURE(e.message);
    auto line = log::render(log::format::json, log::level::info, at_test_time(), e.message,
                            {log::volume(e.message), {"pv\"name", e.message}});
    CHECK(line.find('\n') == std::string::npos);
    rapidjson::Document doc;
    REQUIRE(parse_line(line, doc) == "");
    CHECK(member(doc, "message") == e.read_back);
    CHECK(member(doc, "volume") == e.read_back);
    CHECK(member(doc, "pv\"name") == e.read_back);
  }
}

TEST_CASE("fields named like the record's own keys, or repeated, are left out") {
  auto line = log::render(log::format::json, log::level::info, at_test_time(), "m",
                          {{"message", "forged"},
                           {"time", "x"},
                           {"level", "x"},
                           {"", "x"},
                           log::volume("v1"),
                           log::volume("v2")});
  rapidjson::Document doc;
  REQUIRE(parse_line(line, doc) == "");
  CHECK(doc.MemberCount() == 4);
  CHECK(member(doc, "message") == "m");
  CHECK(member(doc, "volume") == "v1");
}

TEST_CASE("a text line stays one line; its fields follow as key=value") {
  CHECK(log::render(log::format::text, log::level::warning, at_test_time(), "published",
                    {log::volume("pvc-1"), log::node("worker 2"), {"reason", "a=\"b\"\n"}})
        == R"(2026-11-30T16:20:05.123Z WARN  published volume=pvc-1 node="worker 2" )"
           R"(reason="a=\"b\"\n")");
  CHECK(log::render(log::format::text, log::level::error, at_test_time(), "a\nb\x01", {})
        == R"(2026-11-30T16:20:05.123Z ERROR a\nb\u0001)");
}

TEST_CASE("records go through the logger: threshold, format, fields from the call") {
  log_state_guard restore;
  std::ostringstream out;
  log::write_to(out);
  log::set_threshold(log::level::info);
  log::set_format(log::format::json);
  log::debug(log::volume("pvc-0"), "not written");
  log::info(log::volume("pvc-1"), "published to ", 2, " nodes", log::node("worker-1"));
  log::warning("no fields");
  std::istringstream lines{out.str()};
  std::string first, second, third;
  REQUIRE(std::getline(lines, first));
  REQUIRE(std::getline(lines, second));
  CHECK_FALSE(std::getline(lines, third));
  rapidjson::Document doc;
  REQUIRE(parse_line(first, doc) == "");
  CHECK(member(doc, "level") == "info");
  CHECK(member(doc, "message") == "published to 2 nodes");
  CHECK(member(doc, "volume") == "pvc-1");
  CHECK(member(doc, "node") == "worker-1");
  REQUIRE(parse_line(second, doc) == "");
  CHECK(member(doc, "message") == "no fields");
  CHECK(member(doc, "volume") == "<absent>");

  out.str("");
  log::set_format(log::format::text);
  log::error(log::node("n1"), "gone");
  auto text = out.str();
  REQUIRE(text.size() > 24);
  CHECK(text.substr(24) == " ERROR gone node=n1\n");
}

TEST_CASE("level and format names") {
  log::level l{};
  CHECK(log::parse_level("warning", l));
  CHECK(l == log::level::warning);
  CHECK_FALSE(log::parse_level("loud", l));
  log::format f{};
  CHECK(log::parse_format("json", f));
  CHECK(f == log::format::json);
  CHECK(log::parse_format("text", f));
  CHECK(f == log::format::text);
  CHECK_FALSE(log::parse_format("JSON", f));
  CHECK_FALSE(log::parse_format("", f));
}

TEST_CASE("a registered secret never reaches a line, in the message or in a field") {
  log_state_guard restore;
  std::ostringstream out;
  log::write_to(out);
  const std::string secret = "unit-test-secret-4f9a27";
  log::redact(secret);
  log::redact("short"); // too short to register: common words stay readable
  for (auto f : {log::format::text, log::format::json}) {
    log::set_format(f);
    log::warning(log::field{"token", "Bearer " + secret}, "login with ", secret, " and ", secret,
                 " failed, short");
  }
  auto text = out.str();
  CHECK(text.find(secret) == std::string::npos);
  CHECK(text.find("login with [redacted] and [redacted] failed, short") != std::string::npos);
  CHECK(text.find("token=\"Bearer [redacted]\"") != std::string::npos);
  CHECK(text.find(R"("token":"Bearer [redacted]")") != std::string::npos);
}
