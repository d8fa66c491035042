// Route and query parsing of the inspection port.
#include "services/inspection/query.hpp"

#include <charconv>

#include "messages/validation.hpp"

namespace rds::services::inspection {

std::string migration_position(int64_t deadline_ns, const std::string& volume_id) {
  return std::to_string(deadline_ns) + ":" + volume_id;
}

bool parse_migration_position(const std::string& token, int64_t& deadline_ns,
                              std::string& volume_id) {
  auto colon = token.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= token.size())
    return false;
  const char* first = token.data();
  auto [end, ec] = std::from_chars(first, first + colon, deadline_ns);
  if (ec != std::errc{} || end != first + colon)
    return false;
  volume_id = token.substr(colon + 1);
  return true;
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool url_decode(const std::string& in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%') {
      if (i + 2 >= in.size())
        return false;
      int hi = hex_digit(in[i + 1]);
      int lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return true;
}

bool parse_bool(const std::string& text, bool& out) {
  if (text == "true" || text == "1") {
    out = true;
    return true;
  }
  if (text == "false" || text == "0") {
    out = false;
    return true;
  }
  return false;
}

route bad(route r, int status, std::string why) {
  r.status = status;
  r.error = std::move(why);
  return r;
}

} // namespace

bool parse_query(const std::string& query, std::map<std::string, std::string>& out) {
  out.clear();
  size_t at = 0;
  while (at < query.size()) {
    auto end = query.find('&', at);
    if (end == std::string::npos)
      end = query.size();
    auto pair = query.substr(at, end - at);
    at = end + 1;
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0)
      return false;
    std::string key, value;
    if (!url_decode(pair.substr(0, eq), key) || !url_decode(pair.substr(eq + 1), value))
      return false;
    if (!out.emplace(key, value).second)
      return false;
  }
  return true;
}

bool wants_html(const std::string& accept) {
  return accept.find("text/html") != std::string::npos;
}

route parse_route(const std::string& method, const std::string& raw_path,
                  const std::string& query) {
  route r;
  if (raw_path.size() > max_path_length)
    return bad(r, 400, "the path is longer than " + std::to_string(max_path_length) + " bytes");
  auto path = raw_path;
  if (path.size() > 1 && path.back() == '/')
    path.pop_back();
  const std::string volumes_prefix = "/debug/volumes/";
  std::string volume_id;
  if (path == "/") {
    r.kind = route_kind::index;
    r.label = "/";
  } else if (path == "/debug/stream") {
    r.kind = route_kind::stream;
    r.label = path;
  } else if (path == "/debug/actors") {
    r.request.endpoint = debug_endpoint::actors;
    r.label = path;
  } else if (path == "/debug/volumes") {
    r.request.endpoint = debug_endpoint::volumes;
    r.label = path;
  } else if (path.rfind(volumes_prefix, 0) == 0) {
    r.request.endpoint = debug_endpoint::volume;
    r.label = "/debug/volumes/{id}";
    volume_id = path.substr(volumes_prefix.size());
  } else if (path == "/debug/migrations") {
    r.request.endpoint = debug_endpoint::migrations;
    r.label = path;
  } else if (path == "/debug/watches") {
    r.request.endpoint = debug_endpoint::watches;
    r.label = path;
  } else if (path == "/debug/rds") {
    r.request.endpoint = debug_endpoint::rds;
    r.label = path;
  } else if (path == "/debug/node") {
    r.request.endpoint = debug_endpoint::node;
    r.label = path;
  } else {
    return bad(r, 404, "no such path: see / for the endpoints");
  }
  // A known path with another method is 405; an unknown path is 404 whatever the method.
  if (method != "GET")
    return bad(r, 405, "read-only: only GET is served");
  if (query.size() > max_query_length)
    return bad(r, 400, "the query is longer than " + std::to_string(max_query_length) + " bytes");
  std::map<std::string, std::string> params;
  if (!parse_query(query, params))
    return bad(r, 400, "malformed query (each parameter once, as key=value, %-escaped)");
  if (r.request.endpoint == debug_endpoint::volume && r.kind == route_kind::inspect) {
    auto checked = check_volume_id(volume_id);
    if (!checked.ok())
      return bad(r, 400, checked.message);
    r.request.volume_id = volume_id;
  }
  for (auto& [key, value] : params) {
    if (r.kind == route_kind::stream && key == "after") {
      if (value.empty() || value.size() > 19
          || value.find_first_not_of("0123456789") != std::string::npos)
        return bad(r, 400, "after must be a sequence number");
      r.replay = true;
      r.after = std::stoull(value);
      continue;
    }
    bool is_page = r.kind == route_kind::inspect && r.request.endpoint == debug_endpoint::volumes;
    bool is_migrations =
      r.kind == route_kind::inspect && r.request.endpoint == debug_endpoint::migrations;
    auto& page = r.request.page;
    if (is_migrations && key == "continue") {
      int64_t deadline_ns = 0;
      std::string volume_id;
      if (!parse_migration_position(value, deadline_ns, volume_id)
          || !check_volume_id(volume_id).ok())
        return bad(r, 400, "continue must be the value a previous answer gave");
      page.after = value;
    } else if ((is_page || is_migrations) && key == "limit") {
      if (value.empty() || value.size() > 4
          || value.find_first_not_of("0123456789") != std::string::npos || std::stoul(value) < 1
          || std::stoul(value) > max_page_size)
        return bad(r, 400,
                   "limit must be a whole number from 1 to " + std::to_string(max_page_size));
      page.limit = static_cast<uint32_t>(std::stoul(value));
    } else if (is_page && key == "continue") {
      auto checked = check_volume_id(value);
      if (!checked.ok())
        return bad(r, 400, "continue must be the value a previous page gave");
      page.after = value;
    } else if (is_page && key == "node") {
      auto checked = check_node_id(value);
      if (!checked.ok())
        return bad(r, 400, checked.message);
      page.node_id = value;
    } else if (is_page && key == "migrating") {
      if (!parse_bool(value, page.migrating_only))
        return bad(r, 400, "migrating must be true or false");
    } else if (is_page && key == "timed_out") {
      if (!parse_bool(value, page.timed_out_only))
        return bad(r, 400, "timed_out must be true or false");
    } else if (is_page && key == "anomaly") {
      if (!parse_bool(value, page.anomaly_only))
        return bad(r, 400, "anomaly must be true or false");
    } else {
      return bad(r, 400, "unknown parameter '" + key.substr(0, 64) + "' for " + r.label);
    }
  }
  if (r.request.endpoint == debug_endpoint::volumes && params.count("limit") == 0)
    r.request.page.limit = default_page_size;
  // Migrations: as many as a page may hold unless asked for fewer (a cluster rarely has more
  // in flight; beyond that, `continue`).
  if (r.request.endpoint == debug_endpoint::migrations && params.count("limit") == 0)
    r.request.page.limit = max_page_size;
  return r;
}

} // namespace rds::services::inspection
