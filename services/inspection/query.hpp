// The inspection port's routes: which answer a request asks for, read from its method, path
// and query, with every parameter checked before any actor is asked. Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "messages/debug_port.hpp"

namespace rds::services::inspection {

/// Longest query string and path accepted (a longer one is 400).
constexpr size_t max_query_length = 1024;
constexpr size_t max_path_length = 512;
/// /debug/volumes pages: the default and the largest `limit`.
constexpr uint32_t default_page_size = 100;
constexpr uint32_t max_page_size = 500;

/// The `continue` value of /debug/migrations: the last shown migration's timer deadline (actor
/// clock, ns) and volume id, the order the migrations are listed in.
std::string migration_position(int64_t deadline_ns, const std::string& volume_id);
/// Whether `token` has the shape migration_position gives (the volume id is checked apart).
bool parse_migration_position(const std::string& token, int64_t& deadline_ns,
                              std::string& volume_id);

enum class route_kind : uint8_t {
  /// `/`: the HTML page with the links to every endpoint.
  index,
  /// /debug/stream: Server-Sent Events from the state feed.
  stream,
  /// Every other endpoint: a JSON answer built by the inspector.
  inspect,
};

struct route {
  /// 200 when the request is understood; otherwise the status to answer (400, 404, 405).
  int status = 200;
  /// Why it is not understood (for the answer's body).
  std::string error;
  route_kind kind = route_kind::inspect;
  debug_request request;
  /// /debug/stream?after=N: replay the changes after N first; without it, only new ones.
  bool replay = false;
  uint64_t after = 0;
  /// The metric label of the path: its template ("/debug/volumes/{id}"), "other" when unknown.
  std::string label = "other";
};

route parse_route(const std::string& method, const std::string& path, const std::string& query);

/// "a=1&b=x%20y" -> {a: 1, b: x y}; false for a malformed query (bad escape, no '=', a key
/// given twice).
bool parse_query(const std::string& query, std::map<std::string, std::string>& out);

/// Whether an Accept header prefers HTML (a browser).
bool wants_html(const std::string& accept);

} // namespace rds::services::inspection
