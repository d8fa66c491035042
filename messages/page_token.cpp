// Page tokens: "p1.<kind>.<16 hex digits of FNV-1a over kind and id>.<id>".
#include "messages/page_token.hpp"

#include <cstdint>

namespace rds {

namespace {

const char* name_of(page_kind kind) {
  return kind == page_kind::volumes ? "volumes" : "snapshots";
}

/// FNV-1a, 64 bits: enough to tell a token this driver made from a string it did not.
std::string checksum(page_kind kind, const std::string& id) {
  uint64_t hash = 1469598103934665603ULL;
  auto mix = [&hash](const std::string& text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
  };
  mix(name_of(kind));
  mix(std::string(1, '\0'));
  mix(id);
  static const char* hex = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4)
    out[static_cast<size_t>(i)] = hex[hash & 15];
  return out;
}

std::string prefix_of(page_kind kind) {
  return std::string{"p1."} + name_of(kind) + ".";
}

} // namespace

std::string make_page_token(page_kind kind, const std::string& last_id) {
  return prefix_of(kind) + checksum(kind, last_id) + "." + last_id;
}

bool read_page_token(page_kind kind, const std::string& token, std::string& last_id) {
  auto prefix = prefix_of(kind);
  if (token.size() <= prefix.size() + 17 || token.compare(0, prefix.size(), prefix) != 0
      || token[prefix.size() + 16] != '.')
    return false;
  auto id = token.substr(prefix.size() + 17);
  if (token.compare(prefix.size(), 16, checksum(kind, id)) != 0)
    return false;
  last_id = std::move(id);
  return true;
}

} // namespace rds
