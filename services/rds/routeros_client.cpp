// libcurl requests to /rest. One easy handle keeps the connection alive between requests.
#include "services/rds/routeros_client.hpp"

#include <curl/curl.h>

#include "services/http/curl_body.hpp"
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <thread>

namespace rds::services::rds_api {

namespace {

using clock_type = std::chrono::steady_clock;

bool idempotent(const std::string& method) {
  return method == "GET" || method == "PATCH" || method == "DELETE";
}

std::string escape_id(const std::string& id) {
  // RouterOS ids are "*" and hex digits; anything else is refused before it reaches a URL.
  // Not curl_easy_escape: '*' is a sub-delim that RFC 3986 allows in a path segment, so a
  // checked id needs no escaping, and callers also put this value into POST bodies as ".id",
  // where "%2A1A" would name no record.
  for (char c : id)
    if (!(c == '*' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f')))
      return {};
  return id;
}

/// Calls `each` with every record of a RouterOS list reply (as JSON text) until it returns false.
/// A RouterOS record is a flat object of scalars (every value a string). Anything else is no
/// record, and is never written back to text: RapidJSON's writer recurses once per nesting
/// level, so a deeply nested item would overflow the stack (the parse itself is iterative).
bool flat_record(const rapidjson::Value& item) {
  if (!item.IsObject())
    return false;
  for (auto& member : item.GetObject())
    if (member.value.IsObject() || member.value.IsArray())
      return false;
  return true;
}

template <class Each> outcome for_each_record(const rest_reply& r, Each each) {
  if (!r.status.ok())
    return r.status;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(r.body.c_str(), r.body.size());
  if (doc.HasParseError() || !doc.IsArray())
    return outcome::failure(ec::internal, "RouterOS answered a list that is not a JSON array");
  for (auto& item : doc.GetArray()) {
    if (!flat_record(item))
      continue;
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    item.Accept(w);
    if (!each(std::string{buf.GetString()}))
      break;
  }
  return outcome::success();
}

template <class Record, class Parse>
outcome first_of(const rest_reply& r, Parse parse, std::optional<Record>& out) {
  out.reset();
  return for_each_record(r, [&](const std::string& json) {
    Record rec;
    if (!parse(json, rec))
      return true;
    out = rec;
    return false;
  });
}

using fields = std::vector<std::pair<std::string, std::string>>;

std::string json_object(const fields& values) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  for (auto& [key, value] : values) {
    w.Key(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  }
  w.EndObject();
  return buf.GetString();
}

/// RouterOS answers a verb it does not take on an item URL with 400 "no such command" (or 405,
/// 406 in front of some proxies).
bool verb_refused(const rest_reply& r) {
  return r.http_status == 405 || r.http_status == 406
         || (r.http_status == 400 && r.body.find("no such command") != std::string::npos);
}

} // namespace

bool record_shows(const std::string& json, const fields& values) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return false;
  for (auto& [key, value] : values) {
    auto i = doc.FindMember(key.c_str());
    if (i == doc.MemberEnd() || !i->value.IsString())
      return false;
    std::string shown = i->value.GetString();
    bool ok_shown = true, ok_sent = true;
    auto shown_bool = parse_bool(shown, ok_shown);
    auto sent_bool = parse_bool(value, ok_sent);
    if (ok_shown && ok_sent ? shown_bool != sent_bool : shown != value)
      return false;
  }
  return true;
}

outcome outcome_of(long http_status, const std::string& body, const std::string& what) {
  if (http_status >= 200 && http_status < 300)
    return outcome::success();
  std::string detail = body.substr(0, 200);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.c_str(), body.size());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("detail") && doc["detail"].IsString())
    detail = doc["detail"].GetString();
  auto message = what + ": RDS answered HTTP " + std::to_string(http_status) + ": " + detail;
  if (http_status == 401)
    return outcome::failure(ec::unauthenticated, message);
  if (http_status == 404)
    return outcome::failure(ec::not_found, message);
  if (detail.find("not allowed (9)") != std::string::npos)
    return outcome::failure(ec::permission_denied,
                            message
                              + " (the RouterOS user needs the read, write, test, api and "
                                "rest-api policies)");
  if (detail.find("not enough space") != std::string::npos)
    return outcome::failure(ec::resource_exhausted, message);
  if (http_status >= 500)
    return outcome::failure(ec::unavailable, message);
  return outcome::failure(ec::invalid_argument, message);
}

struct routeros_client::impl {
  client_config config;
  request_observer observer;
  breaker_observer on_breaker;
  CURL* curl = nullptr;
  breaker_state breaker = breaker_state::closed;
  int failures = 0;
  clock_type::time_point opened_at;

  void move_breaker(breaker_state next) {
    if (next == breaker)
      return;
    breaker = next;
    if (on_breaker)
      on_breaker(next);
  }

  /// False while the breaker is open; after the cooldown one request may try (half-open).
  bool admit() {
    if (breaker != breaker_state::open)
      return true;
    if (clock_type::now() - opened_at < config.breaker_cooldown)
      return false;
    move_breaker(breaker_state::half_open);
    return true;
  }

  void settle(const rest_reply& r) {
    bool failed = r.http_status == 0 || r.http_status >= 500;
    if (!failed) {
      failures = 0;
      move_breaker(breaker_state::closed);
      return;
    }
    if (breaker == breaker_state::half_open || ++failures >= config.breaker_failures) {
      opened_at = clock_type::now();
      move_breaker(breaker_state::open);
    }
  }

  rest_reply once(const std::string& method, const std::string& path, const std::string& body,
                  std::chrono::milliseconds timeout) {
    rest_reply r;
    curl_easy_reset(curl);
    auto url = config.base_url + path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERNAME, config.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config.password.c_str());
    if (!config.ca_file.empty())
      curl_easy_setopt(curl, CURLOPT_CAINFO, config.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, config.insecure_skip_verify ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, config.insecure_skip_verify ? 0L : 2L);
    auto ms = std::max<long>(1, static_cast<long>(timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, std::min(ms, 5000L));
    curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    // libcurl sends a request again, by itself, when a reused connection closes before any
    // answer: for a PUT or POST that the RDS carried out before the connection went, that is a
    // second create ("slot ... already exists"). A fresh connection is never "reused", so a
    // write that is not idempotent goes out exactly once; our own retries decide the rest. It is
    // closed afterwards, so it does not linger as an idle connection that holds a server thread.
    if (!idempotent(method)) {
      curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
    }
    if (!body.empty()) {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
      curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body.c_str());
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rds::services::http::append_to_string);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
    auto begin = clock_type::now();
    auto rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK)
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.http_status);
    if (observer)
      observer(method, r.http_status,
               std::chrono::duration<double>(clock_type::now() - begin).count());
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE
        || rc == CURLE_SSL_CERTPROBLEM) {
      r.transient = false;
      r.status = outcome::failure(ec::unavailable,
                                  method + " " + path + ": the RDS's TLS certificate is not "
                                    + "trusted: " + curl_easy_strerror(rc)
                                    + " (give the CA that signed it with --rds-ca-file)");
      return r;
    }
    if (rc != CURLE_OK) {
      r.status = outcome::failure(
        ec::unavailable, method + " " + path + ": cannot reach the RDS: " + curl_easy_strerror(rc));
      return r;
    }
    r.status = outcome_of(r.http_status, r.body, method + " " + path);
    return r;
  }
};

routeros_client::routeros_client(client_config config, request_observer observer,
                                 breaker_observer on_breaker)
  : impl_(std::make_unique<impl>()) {
  impl_->config = std::move(config);
  impl_->observer = std::move(observer);
  impl_->on_breaker = std::move(on_breaker);
  impl_->curl = curl_easy_init();
}

routeros_client::~routeros_client() {
  if (impl_->curl != nullptr)
    curl_easy_cleanup(impl_->curl);
}

breaker_state routeros_client::breaker() const {
  return impl_->breaker;
}

rest_reply routeros_client::request(const std::string& method, const std::string& path,
                                    const std::string& body) {
  return request(method, path, body, impl_->config.deadline);
}

rest_reply routeros_client::request(const std::string& method, const std::string& path,
                                    const std::string& body, std::chrono::milliseconds deadline) {
  auto end = clock_type::now() + deadline;
  auto backoff = impl_->config.first_backoff;
  for (int attempt = 1;; ++attempt) {
    if (!impl_->admit()) {
      rest_reply refused;
      refused.status = outcome::failure(
        ec::unavailable, method + " " + path
                           + ": the RDS failed repeatedly; requests are paused (circuit breaker "
                             "open) and will be tried again shortly");
      return refused;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock_type::now());
    auto r = impl_->once(method, path, body, std::max(left, std::chrono::milliseconds{1}));
    impl_->settle(r);
    auto transient = r.status.code == ec::unavailable && r.transient;
    if (!transient || !idempotent(method) || attempt >= impl_->config.attempts
        || clock_type::now() + backoff >= end)
      return r;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

outcome routeros_client::list_file_disks(std::vector<disk>& out) {
  out.clear();
  return for_each_record(request("GET", "/disk?type=file", ""), [&](const std::string& json) {
    disk d;
    if (disk_from_json(json, d).ok() && d.type == "file")
      out.push_back(std::move(d));
    return true;
  });
}

outcome routeros_client::find_disk(const std::string& slot, std::optional<disk>& out) {
  auto r = request("GET", "/disk?slot=" + slot, "");
  return first_of<disk>(
    r,
    [&](const std::string& json, disk& d) {
      return disk_from_json(json, d).ok() && d.slot == slot;
    },
    out);
}

outcome routeros_client::add_disk(const disk& wanted, disk& out) {
  auto r = request("PUT", "/disk",
                   json_object({{"type", "file"},
                                {"slot", wanted.slot},
                                {"file-path", wanted.file_path},
                                {"file-size", std::to_string(wanted.file_size)},
                                {"mount-filesystem", "false"}}));
  if (!r.status.ok())
    return r.status;
  return disk_from_json(r.body, out);
}

namespace {

/// Sets fields of a record with PATCH, or with POST .../set where PATCH by id is refused or
/// answered without effect (some RouterOS versions), and reads the record back.
outcome set_fields(routeros_client& c, const std::string& menu, const std::string& id,
                   const fields& values, disk& out) {
  auto safe = escape_id(id);
  if (safe.empty())
    return outcome::failure(ec::internal, "RouterOS id '" + id + "' is not an id");
  auto item = "/" + menu + "/" + safe;
  auto r = c.request("PATCH", item, json_object(values));
  if (r.status.ok() && record_shows(r.body, values))
    return disk_from_json(r.body, out);
  if (!r.status.ok() && !verb_refused(r))
    return r.status;
  auto with_id = values;
  with_id.insert(with_id.begin(), {".id", safe});
  if (auto p = c.request("POST", "/" + menu + "/set", json_object(with_id)); !p.status.ok())
    return p.status;
  auto check = c.request("GET", item, "");
  if (!check.status.ok())
    return check.status;
  if (!record_shows(check.body, values))
    return outcome::failure(ec::internal, "the RDS did not apply a change to " + menu + " " + id
                                            + " (neither PATCH nor POST set took effect)");
  return disk_from_json(check.body, out);
}

/// Removes a record with DELETE, or with POST .../remove where DELETE by id is refused or
/// answered without effect, and checks it is gone. A record already gone is done.
outcome remove_record(routeros_client& c, const std::string& menu, const std::string& id) {
  auto safe = escape_id(id);
  if (safe.empty())
    return outcome::failure(ec::internal, "RouterOS id '" + id + "' is not an id");
  auto item = "/" + menu + "/" + safe;
  auto r = c.request("DELETE", item, "");
  if (!r.status.ok() && r.status.code != ec::not_found && !verb_refused(r))
    return r.status;
  auto gone = [&](outcome& status) {
    auto check = c.request("GET", item, "");
    status = check.status.code == ec::not_found ? outcome::success() : check.status;
    return check.status.code == ec::not_found;
  };
  outcome status;
  if (gone(status) || !status.ok())
    return status;
  auto p = c.request("POST", "/" + menu + "/remove", json_object({{".id", safe}}));
  if (!p.status.ok() && p.status.code != ec::not_found)
    return p.status;
  if (gone(status) || !status.ok())
    return status;
  return outcome::failure(ec::internal, "the RDS did not remove " + menu + " " + id
                                          + " (neither DELETE nor POST remove took effect)");
}

} // namespace

outcome routeros_client::set_export(const std::string& id, bool exported, uint16_t port,
                                    const std::string& nqn, disk& out) {
  return set_fields(*this, "disk", id,
                    exported ? fields{{"nvme-tcp-export", "true"},
                                      {"nvme-tcp-server-port", std::to_string(port)},
                                      {"nvme-tcp-server-nqn", nqn}}
                             : fields{{"nvme-tcp-export", "false"}},
                    out);
}

outcome routeros_client::set_size(const std::string& id, uint64_t bytes, disk& out) {
  return set_fields(*this, "disk", id, {{"file-size", std::to_string(bytes)}}, out);
}

outcome routeros_client::set_slot(const std::string& id, const std::string& slot, disk& out) {
  return set_fields(*this, "disk", id, {{"slot", slot}}, out);
}

outcome routeros_client::remove_disk(const std::string& id) {
  return remove_record(*this, "disk", id);
}

outcome routeros_client::copy_disk(const std::string& from_slot, const std::string& to_slot) {
  // POST is not retried: a copy is repeated by the caller, which knows where it stands.
  return request("POST", "/disk/copy", json_object({{"src", from_slot}, {"dst", to_slot}}),
                 impl_->config.copy_deadline)
    .status;
}

namespace {

bool file_from_json(const std::string& json, file& f) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember(".id") || !doc.HasMember("name")
      || !doc[".id"].IsString() || !doc["name"].IsString())
    return false;
  f.id = doc[".id"].GetString();
  f.name = doc["name"].GetString();
  return true;
}

} // namespace

outcome routeros_client::list_files(std::vector<file>& out) {
  out.clear();
  return for_each_record(request("GET", "/file", ""), [&](const std::string& json) {
    file f;
    if (file_from_json(json, f))
      out.push_back(std::move(f));
    return true;
  });
}

outcome routeros_client::find_file(const std::string& name, std::optional<file>& out) {
  auto r = request("GET", "/file?name=" + name, "");
  return first_of<file>(
    r, [&](const std::string& json, file& f) { return file_from_json(json, f) && f.name == name; },
    out);
}

outcome routeros_client::remove_file(const std::string& id) {
  return remove_record(*this, "file", id);
}

} // namespace rds::services::rds_api
