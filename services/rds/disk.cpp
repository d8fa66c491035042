// JSON mapping of RouterOS records, and slot derivation.
#include "services/rds/disk.hpp"

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace rds::services::rds_api {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void field(writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string string_of(const rapidjson::Value& obj, const char* key) {
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd() || !i->value.IsString())
    return {};
  return {i->value.GetString(), i->value.GetStringLength()};
}

} // namespace

bool parse_bool(const std::string& text, bool& ok) {
  if (text == "true" || text == "yes")
    return true;
  if (text != "false" && text != "no")
    ok = false;
  return false;
}

bool parse_bytes(const std::string& text, uint64_t& out) {
  if (text.empty() || text.size() > 20)
    return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10)
      return false;
    value = value * 10 + digit;
  }
  out = value;
  return true;
}

std::string to_json(const disk& d) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  field(w, ".id", d.id);
  field(w, "slot", d.slot);
  field(w, "type", d.type);
  if (d.type == "file") {
    field(w, "file-path", d.file_path);
    field(w, "file-size", std::to_string(d.file_size));
    field(w, "size", std::to_string(d.file_size));
    field(w, "nvme-tcp-export", d.nvme_tcp_export ? "true" : "false");
    field(w, "nvme-tcp-server-port", std::to_string(d.nvme_tcp_server_port));
    field(w, "nvme-tcp-server-nqn", d.nvme_tcp_server_nqn);
    field(w, "mount-filesystem", "false");
  } else {
    field(w, "mount-point", d.mount_point);
    field(w, "mounted", "true");
    field(w, "fs", "xfs");
    field(w, "state", "clean");
    field(w, "size", std::to_string(d.size));
    field(w, "free", std::to_string(d.free));
  }
  w.EndObject();
  return buf.GetString();
}

std::string to_json(const file& f) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  field(w, ".id", f.id);
  field(w, "name", f.name);
  field(w, "type", "file");
  field(w, "size", std::to_string(f.size));
  w.EndObject();
  return buf.GetString();
}

outcome disk_from_json(const std::string& json, disk& out) {
  rapidjson::Document doc;
  // Iterative: the recursive parser overflows the stack on deeply nested input (fuzz/).
  doc.Parse<rapidjson::kParseIterativeFlag>(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return outcome::failure(ec::invalid_argument, "disk record is not a JSON object");
  disk d;
  d.id = string_of(doc, ".id");
  d.slot = string_of(doc, "slot");
  d.type = string_of(doc, "type");
  d.file_path = string_of(doc, "file-path");
  d.nvme_tcp_server_nqn = string_of(doc, "nvme-tcp-server-nqn");
  d.mount_point = string_of(doc, "mount-point");
  bool ok = true;
  d.nvme_tcp_export = parse_bool(string_of(doc, "nvme-tcp-export"), ok);
  auto size_text = string_of(doc, "file-size");
  if (size_text.empty())
    size_text = string_of(doc, "size");
  if (!size_text.empty() && !parse_bytes(size_text, d.file_size))
    return outcome::failure(ec::invalid_argument,
                            "disk file-size '" + size_text + "' is not a byte count");
  uint64_t port = 0;
  auto port_text = string_of(doc, "nvme-tcp-server-port");
  if (!port_text.empty()) {
    if (!parse_bytes(port_text, port) || port > 65535)
      return outcome::failure(ec::invalid_argument,
                              "disk nvme-tcp-server-port '" + port_text + "' is not a port");
    d.nvme_tcp_server_port = static_cast<uint16_t>(port);
  }
  parse_bytes(string_of(doc, "size"), d.size);
  parse_bytes(string_of(doc, "free"), d.free);
  out = std::move(d);
  return outcome::success();
}

std::string slot_for(const std::string& csi_name, const char* prefix) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(csi_name.data(), csi_name.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string slot = prefix;
  for (unsigned i = 0; slot.size() < max_slot_length && i < length; ++i) {
    slot.push_back(hex[digest[i] >> 4]);
    if (slot.size() < max_slot_length)
      slot.push_back(hex[digest[i] & 15]);
  }
  return slot;
}

} // namespace rds::services::rds_api

namespace rds::services::rds_api {

bool has_slot_shape(const std::string& slot, const char* prefix) {
  std::string start = prefix;
  if (slot.size() != max_slot_length || slot.compare(0, start.size(), start) != 0)
    return false;
  return slot.find_first_not_of("0123456789abcdef", start.size()) == std::string::npos;
}

} // namespace rds::services::rds_api
