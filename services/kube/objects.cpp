// JSON -> object structs. Missing optional fields leave defaults; a malformed document or a
// wrong type where a field is required is invalid_argument.
#include "services/kube/objects.hpp"

#include <rapidjson/document.h>

#include <ctime>
#include <limits>

#include "messages/volume_context.hpp"

namespace rds::services::kube {

namespace {

using json = rapidjson::Value;

const json* member(const json& v, const char* name) {
  if (!v.IsObject())
    return nullptr;
  auto i = v.FindMember(name);
  return i == v.MemberEnd() ? nullptr : &i->value;
}

std::string string_at(const json& v, std::initializer_list<const char*> path) {
  const json* cur = &v;
  for (auto name : path) {
    cur = member(*cur, name);
    if (cur == nullptr)
      return {};
  }
  return cur->IsString() ? std::string{cur->GetString(), cur->GetStringLength()} : std::string{};
}

const json* object_at(const json& v, std::initializer_list<const char*> path) {
  const json* cur = &v;
  for (auto name : path) {
    cur = member(*cur, name);
    if (cur == nullptr)
      return nullptr;
  }
  return cur;
}

volume_attachment_object attachment_of(const json& item) {
  volume_attachment_object va;
  va.name = string_at(item, {"metadata", "name"});
  va.resource_version = string_at(item, {"metadata", "resourceVersion"});
  parse_rfc3339(string_at(item, {"metadata", "creationTimestamp"}), va.created);
  va.deleting = object_at(item, {"metadata", "deletionTimestamp"}) != nullptr;
  va.attacher = string_at(item, {"spec", "attacher"});
  va.node_name = string_at(item, {"spec", "nodeName"});
  va.pv_name = string_at(item, {"spec", "source", "persistentVolumeName"});
  auto attached = object_at(item, {"status", "attached"});
  va.attached = attached != nullptr && attached->IsBool() && attached->GetBool();
  // Written by the external-attacher from this driver's publish context; anything else in it
  // (absent, edited by hand, out of range) leaves the creation time to order by.
  long long published_ns = 0;
  if (read_integer(string_at(item, {"status", "attachmentMetadata", publish_published_at_key}), 1,
                   std::numeric_limits<long long>::max(), published_ns))
    va.published_at = caf::timestamp{std::chrono::nanoseconds{published_ns}};
  return va;
}

persistent_volume_object volume_of(const json& item) {
  persistent_volume_object pv;
  pv.name = string_at(item, {"metadata", "name"});
  pv.driver = string_at(item, {"spec", "csi", "driver"});
  pv.volume_handle = string_at(item, {"spec", "csi", "volumeHandle"});
  auto read_only = object_at(item, {"spec", "csi", "readOnly"});
  pv.read_only = read_only != nullptr && read_only->IsBool() && read_only->GetBool();
  pv.volume_mode = string_at(item, {"spec", "volumeMode"});
  if (pv.volume_mode.empty())
    pv.volume_mode = "Filesystem";
  if (auto modes = object_at(item, {"spec", "accessModes"}); modes && modes->IsArray())
    for (auto& m : modes->GetArray())
      if (m.IsString())
        pv.access_modes.emplace_back(m.GetString());
  if (auto attrs = object_at(item, {"spec", "csi", "volumeAttributes"}); attrs && attrs->IsObject())
    for (auto& kv : attrs->GetObject())
      if (kv.value.IsString())
        pv.volume_attributes[kv.name.GetString()] = kv.value.GetString();
  pv.claim_namespace = string_at(item, {"spec", "claimRef", "namespace"});
  pv.claim_name = string_at(item, {"spec", "claimRef", "name"});
  return pv;
}

node_object node_of(const json& item) {
  return node_object{string_at(item, {"metadata", "name"})};
}

template <class T, class Convert>
outcome parse_event(const std::string& line, watch_event<T>& out, Convert convert) {
  rapidjson::Document doc;
  // Iterative: the recursive parser overflows the stack on deeply nested input (fuzz/).
  doc.Parse<rapidjson::kParseIterativeFlag>(line.c_str(), line.size());
  if (doc.HasParseError() || !doc.IsObject())
    return outcome::failure(ec::invalid_argument, "watch event is not JSON");
  auto type = string_at(doc, {"type"});
  auto object = member(doc, "object");
  if (object == nullptr)
    return outcome::failure(ec::invalid_argument, "watch event without object");
  out = watch_event<T>{};
  if (type == "ADDED")
    out.type = watch_event_type::added;
  else if (type == "MODIFIED")
    out.type = watch_event_type::modified;
  else if (type == "DELETED")
    out.type = watch_event_type::deleted;
  else if (type == "BOOKMARK")
    out.type = watch_event_type::bookmark;
  else if (type == "ERROR")
    out.type = watch_event_type::error;
  else
    return outcome::failure(ec::invalid_argument, "unknown watch event type " + type);
  if (out.type == watch_event_type::error) {
    auto code = member(*object, "code");
    out.error_code = code != nullptr && code->IsInt() ? code->GetInt() : 0;
    out.error_message = string_at(*object, {"message"});
    return outcome::success();
  }
  out.resource_version = string_at(*object, {"metadata", "resourceVersion"});
  if (out.type != watch_event_type::bookmark)
    out.object = convert(*object);
  return outcome::success();
}

template <class T, class Convert>
outcome parse_list(const std::string& text, const char* kind, list_page<T>& out, Convert convert) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.c_str(), text.size());
  if (doc.HasParseError() || !doc.IsObject())
    return outcome::failure(ec::invalid_argument, std::string{kind} + " list is not JSON");
  auto items = member(doc, "items");
  if (items == nullptr || !(items->IsArray() || items->IsNull()))
    return outcome::failure(ec::invalid_argument, std::string{kind} + " list has no items");
  out.items.clear();
  if (items->IsArray())
    for (auto& item : items->GetArray())
      out.items.push_back(convert(item));
  out.continue_token = string_at(doc, {"metadata", "continue"});
  out.resource_version = string_at(doc, {"metadata", "resourceVersion"});
  return outcome::success();
}

} // namespace

bool parse_rfc3339(const std::string& text, caf::timestamp& out) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr)
    return false;
  long long nanos = 0;
  if (*rest == '.') {
    long long scale = 100000000;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10)
      nanos += (*rest - '0') * scale;
  }
  long offset = 0;
  if (*rest == '+' || *rest == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
      return false;
    offset = (hh * 3600 + mm * 60) * (*rest == '+' ? 1 : -1);
  } else if (*rest != 'Z') {
    return false;
  }
  auto seconds = static_cast<long long>(timegm(&tm)) - offset;
  // caf::timestamp counts nanoseconds in 64 bits: a time past the year 2262 does not fit.
  constexpr long long max_seconds = std::numeric_limits<long long>::max() / 1000000000 - 1;
  if (seconds > max_seconds || seconds < -max_seconds)
    return false;
  out = caf::timestamp{std::chrono::seconds{seconds} + std::chrono::nanoseconds{nanos}};
  return true;
}

outcome parse_volume_attachment_list(const std::string& json_text,
                                     list_page<volume_attachment_object>& out) {
  return parse_list(json_text, "VolumeAttachment", out, attachment_of);
}

outcome parse_persistent_volume_list(const std::string& json_text,
                                     list_page<persistent_volume_object>& out) {
  return parse_list(json_text, "PersistentVolume", out, volume_of);
}

outcome parse_volume_attachment_event(const std::string& line,
                                      watch_event<volume_attachment_object>& out) {
  return parse_event(line, out, attachment_of);
}

outcome parse_node_list(const std::string& json_text, list_page<node_object>& out) {
  return parse_list(json_text, "Node", out, node_of);
}

outcome parse_node_event(const std::string& line, watch_event<node_object>& out) {
  return parse_event(line, out, node_of);
}

outcome parse_persistent_volume_event(const std::string& line,
                                      watch_event<persistent_volume_object>& out) {
  return parse_event(line, out, volume_of);
}

} // namespace rds::services::kube
