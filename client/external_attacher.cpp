// The attach/detach controller's and the external-attacher's writes, over the test's own
// Kubernetes client.
#include "client/external_attacher.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

namespace rds::client {

namespace {

using namespace std::chrono_literals;
using services::kube::kube_response;

const std::string attachments = "/apis/storage.k8s.io/v1/volumeattachments/";
const std::string volumes = "/api/v1/persistentvolumes/";

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_strings(writer& w, const std::vector<std::string>& items) {
  w.StartArray();
  for (auto& item : items)
    w.String(item.c_str());
  w.EndArray();
}

void write_map(writer& w, const std::map<std::string, std::string>& items) {
  w.StartObject();
  for (auto& [k, v] : items) {
    w.Key(k.c_str());
    w.String(v.c_str());
  }
  w.EndObject();
}

rapidjson::Document parse(const kube_response& r, const std::string& what) {
  if (!r.status.ok())
    throw std::runtime_error(what + ": " + r.status.message);
  rapidjson::Document doc;
  doc.Parse(r.body.c_str(), r.body.size());
  if (doc.HasParseError() || !doc.IsObject())
    throw std::runtime_error(what + ": not JSON");
  return doc;
}

std::vector<std::string> finalizers_of(const rapidjson::Document& doc) {
  std::vector<std::string> result;
  auto& meta = doc["metadata"];
  if (meta.HasMember("finalizers") && meta["finalizers"].IsArray())
    for (auto& f : meta["finalizers"].GetArray())
      result.emplace_back(f.GetString());
  return result;
}

std::string string_member(const rapidjson::Value& v, const char* name) {
  return v.IsObject() && v.HasMember(name) && v[name].IsString() ? v[name].GetString() : "";
}

void require_done(const kube_response& r, const std::string& what) {
  if (!r.status.ok())
    throw std::runtime_error(what + ": " + r.status.message);
}

} // namespace

kube_response api_call(services::kube::kube_client& client, const std::string& method,
                       const std::string& path, const std::string& body,
                       std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto r = client.request(method, path, body, 30s);
    if ((method == "POST" && r.status.code == ec::conflict)
        || (method == "DELETE" && r.status.code == ec::not_found))
      r.status = outcome::success();
    auto retry = r.status.code == ec::unavailable || r.http_status == 429 || r.http_status >= 500;
    if (r.status.ok() || !retry || std::chrono::steady_clock::now() > deadline)
      return r;
    std::this_thread::sleep_for(200ms);
  }
}

external_attacher::external_attacher(services::kube::kube_client& api, csi_client& csi,
                                     std::string driver)
  : api_(api)
  , csi_(csi)
  , driver_(std::move(driver)) {}

std::string external_attacher::finalizer() const {
  // Every character outside [a-zA-Z0-9-] becomes '-'.
  std::string name = driver_;
  for (auto& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-')
      c = '-';
  if (!name.empty() && name.back() == '-')
    name += 'X';
  return "external-attacher/" + name;
}

void external_attacher::create_attachment(const std::string& pv, const std::string& node) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  w.Key("apiVersion"), w.String("storage.k8s.io/v1");
  w.Key("kind"), w.String("VolumeAttachment");
  w.Key("metadata"), w.StartObject(), w.Key("name"), w.String(attachment_name(pv, node).c_str());
  w.EndObject();
  w.Key("spec"), w.StartObject();
  w.Key("attacher"), w.String(driver_.c_str());
  w.Key("nodeName"), w.String(node.c_str());
  w.Key("source"), w.StartObject(), w.Key("persistentVolumeName"), w.String(pv.c_str());
  w.EndObject(), w.EndObject(), w.EndObject();
  require_done(api_call(api_, "POST", "/apis/storage.k8s.io/v1/volumeattachments", buf.GetString()),
               "create VolumeAttachment " + attachment_name(pv, node));
}

void external_attacher::delete_attachment(const std::string& pv, const std::string& node) {
  require_done(api_call(api_, "DELETE", attachments + attachment_name(pv, node), ""),
               "delete VolumeAttachment " + attachment_name(pv, node));
}

std::string external_attacher::node_id_of(const std::string& node) {
  auto known = node_ids_.find(node);
  if (known != node_ids_.end())
    return known->second;
  auto doc =
    parse(api_call(api_, "GET", "/apis/storage.k8s.io/v1/csinodes/" + node, ""), "CSINode " + node);
  if (doc.HasMember("spec") && doc["spec"].HasMember("drivers") && doc["spec"]["drivers"].IsArray())
    for (auto& d : doc["spec"]["drivers"].GetArray())
      if (string_member(d, "name") == driver_)
        return node_ids_[node] = string_member(d, "nodeID");
  throw std::runtime_error("CSINode " + node + " has no entry for " + driver_);
}

external_attacher::pv_facts external_attacher::facts_of(const std::string& pv) {
  auto known = facts_.find(pv);
  if (known != facts_.end())
    return known->second;
  auto doc = parse(api_call(api_, "GET", volumes + pv, ""), "PersistentVolume " + pv);
  auto& spec = doc["spec"];
  pv_facts facts;
  facts.handle = string_member(spec["csi"], "volumeHandle");
  bool rwx = false;
  for (auto& m : spec["accessModes"].GetArray())
    rwx = rwx || std::string{m.GetString()} == "ReadWriteMany";
  bool block = string_member(spec, "volumeMode") == "Block";
  facts.access =
    rwx ? (block ? volume_access::rwx_block : volume_access::rwx_mount) : volume_access::rwo;
  if (spec["csi"].HasMember("volumeAttributes"))
    for (auto& kv : spec["csi"]["volumeAttributes"].GetObject())
      facts.attributes[kv.name.GetString()] = kv.value.GetString();
  return facts_[pv] = facts;
}

std::string external_attacher::volume_handle(const std::string& pv) {
  return facts_of(pv).handle;
}

void external_attacher::add_finalizers(const std::string& pv, const std::string& node) {
  auto pv_doc = parse(api_call(api_, "GET", volumes + pv, ""), "PersistentVolume " + pv);
  auto pv_finalizers = finalizers_of(pv_doc);
  if (std::find(pv_finalizers.begin(), pv_finalizers.end(), finalizer()) == pv_finalizers.end()) {
    pv_finalizers.push_back(finalizer());
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject(), w.Key("metadata"), w.StartObject(), w.Key("finalizers");
    write_strings(w, pv_finalizers);
    w.EndObject(), w.EndObject();
    require_done(api_call(api_, "PATCH", volumes + pv, buf.GetString()),
                 "finalizer on PersistentVolume " + pv);
  }
  auto name = attachment_name(pv, node);
  auto va_doc = parse(api_call(api_, "GET", attachments + name, ""), "VolumeAttachment " + name);
  auto va_finalizers = finalizers_of(va_doc);
  if (std::find(va_finalizers.begin(), va_finalizers.end(), finalizer()) == va_finalizers.end())
    va_finalizers.push_back(finalizer());
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject(), w.Key("metadata"), w.StartObject(), w.Key("finalizers");
  write_strings(w, va_finalizers);
  w.Key("annotations");
  write_map(w, {{"csi.alpha.kubernetes.io/node-id", node_id_of(node)}});
  w.EndObject(), w.EndObject();
  require_done(api_call(api_, "PATCH", attachments + name, buf.GetString()),
               "finalizer on VolumeAttachment " + name);
}

grpc::Status external_attacher::publish(const std::string& pv, const std::string& node,
                                        std::map<std::string, std::string>& publish_context) {
  auto facts = facts_of(pv);
  return csi_.publish(facts.handle, node_id_of(node), facts.access, facts.attributes,
                      &publish_context);
}

void external_attacher::mark_attached(const std::string& pv, const std::string& node,
                                      const std::map<std::string, std::string>& publish_context) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject(), w.Key("status"), w.StartObject();
  w.Key("attached"), w.Bool(true);
  w.Key("attachmentMetadata");
  write_map(w, publish_context);
  w.Key("attachError"), w.Null();
  w.EndObject(), w.EndObject();
  auto name = attachment_name(pv, node);
  require_done(api_call(api_, "PATCH", attachments + name + "/status", buf.GetString()),
               "status of VolumeAttachment " + name);
}

void external_attacher::mark_attach_error(const std::string& pv, const std::string& node,
                                          const std::string& message) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject(), w.Key("status"), w.StartObject(), w.Key("attachError"), w.StartObject();
  w.Key("message"), w.String(message.c_str());
  w.Key("time"), w.String("2026-01-01T00:00:00Z");
  w.EndObject(), w.EndObject(), w.EndObject();
  auto name = attachment_name(pv, node);
  require_done(api_call(api_, "PATCH", attachments + name + "/status", buf.GetString()),
               "attachError of VolumeAttachment " + name);
}

grpc::Status external_attacher::unpublish(const std::string& pv, const std::string& node) {
  return csi_.unpublish(facts_of(pv).handle, node_id_of(node));
}

void external_attacher::remove_finalizer(const std::string& pv, const std::string& node) {
  auto name = attachment_name(pv, node);
  // The status first (on /status, where the apiserver takes it): detached, then the finalizer,
  // after which the object goes.
  auto status = api_call(api_, "PATCH", attachments + name + "/status",
                         R"({"status":{"attached":false,"attachmentMetadata":null,)"
                         R"("detachError":null}})");
  if (status.status.code == ec::not_found)
    return;
  require_done(status, "status of VolumeAttachment " + name);
  auto r = api_call(api_, "GET", attachments + name, "");
  if (r.status.code == ec::not_found)
    return;
  auto doc = parse(r, "VolumeAttachment " + name);
  auto finalizers = finalizers_of(doc);
  finalizers.erase(std::remove(finalizers.begin(), finalizers.end(), finalizer()),
                   finalizers.end());
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject(), w.Key("metadata"), w.StartObject(), w.Key("finalizers");
  if (finalizers.empty())
    w.Null();
  else
    write_strings(w, finalizers);
  w.EndObject(), w.EndObject();
  auto patched = api_call(api_, "PATCH", attachments + name, buf.GetString());
  if (patched.status.code != ec::not_found)
    require_done(patched, "finalizer off VolumeAttachment " + name);
}

grpc::Status external_attacher::attach(const std::string& pv, const std::string& node) {
  add_finalizers(pv, node);
  std::map<std::string, std::string> context;
  auto status = publish(pv, node, context);
  if (status.ok())
    mark_attached(pv, node, context);
  else
    mark_attach_error(pv, node, status.error_message());
  return status;
}

void external_attacher::attach_elsewhere(const std::string& pv, const std::string& node) {
  add_finalizers(pv, node);
  mark_attached(pv, node, {});
}

grpc::Status external_attacher::detach(const std::string& pv, const std::string& node) {
  delete_attachment(pv, node);
  auto status = unpublish(pv, node);
  if (status.ok())
    remove_finalizer(pv, node);
  return status;
}

} // namespace rds::client
