// CSI stubs over the unix socket, and a libcurl GET for /metrics.
#include "client/csi_client.hpp"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <curl/curl.h>

#include "services/http/curl_body.hpp"

#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace rds::client {

namespace {

constexpr auto rpc_deadline = std::chrono::seconds{30};

} // namespace

void set_deadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + rpc_deadline);
}

csi_client::csi_client(const std::string& endpoint)
  : channel_(grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()))
  , identity_(::csi::v1::Identity::NewStub(channel_))
  , controller_(::csi::v1::Controller::NewStub(channel_))
  , node_(::csi::v1::Node::NewStub(channel_)) {}

::csi::v1::VolumeCapability csi_client::capability(volume_access mode) {
  using m = ::csi::v1::VolumeCapability::AccessMode;
  ::csi::v1::VolumeCapability cap;
  switch (mode) {
  case volume_access::rwo:
    cap.mutable_mount()->set_fs_type("ext4");
    cap.mutable_access_mode()->set_mode(m::SINGLE_NODE_WRITER);
    break;
  case volume_access::rwo_readonly_mode:
    cap.mutable_mount()->set_fs_type("ext4");
    cap.mutable_access_mode()->set_mode(m::SINGLE_NODE_READER_ONLY);
    break;
  case volume_access::rwx_block:
    cap.mutable_block();
    cap.mutable_access_mode()->set_mode(m::MULTI_NODE_MULTI_WRITER);
    break;
  case volume_access::rwx_mount:
    cap.mutable_mount()->set_fs_type("ext4");
    cap.mutable_access_mode()->set_mode(m::MULTI_NODE_MULTI_WRITER);
    break;
  case volume_access::multi_reader:
    cap.mutable_block();
    cap.mutable_access_mode()->set_mode(m::MULTI_NODE_READER_ONLY);
    break;
  }
  return cap;
}

grpc::Status csi_client::publish(const std::string& volume, const std::string& node,
                                 volume_access mode,
                                 const std::map<std::string, std::string>& context,
                                 std::map<std::string, std::string>* publish_context) {
  ::csi::v1::ControllerPublishVolumeRequest req;
  req.set_volume_id(volume);
  req.set_node_id(node);
  *req.mutable_volume_capability() = capability(mode);
  for (auto& [k, v] : context)
    (*req.mutable_volume_context())[k] = v;
  ::csi::v1::ControllerPublishVolumeResponse resp;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  auto status = controller_->ControllerPublishVolume(&ctx, req, &resp);
  if (publish_context != nullptr)
    *publish_context = {resp.publish_context().begin(), resp.publish_context().end()};
  return status;
}

grpc::Status csi_client::published_nodes(const std::string& volume,
                                         std::vector<std::string>& nodes) {
  ::csi::v1::ControllerGetVolumeRequest req;
  req.set_volume_id(volume);
  ::csi::v1::ControllerGetVolumeResponse resp;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  auto status = controller_->ControllerGetVolume(&ctx, req, &resp);
  nodes.assign(resp.status().published_node_ids().begin(),
               resp.status().published_node_ids().end());
  return status;
}

grpc::Status csi_client::unpublish(const std::string& volume, const std::string& node) {
  ::csi::v1::ControllerUnpublishVolumeRequest req;
  req.set_volume_id(volume);
  req.set_node_id(node);
  ::csi::v1::ControllerUnpublishVolumeResponse resp;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  return controller_->ControllerUnpublishVolume(&ctx, req, &resp);
}

grpc::Status csi_client::create_volume(const std::string& name, int64_t required_bytes,
                                       volume_access mode,
                                       const std::map<std::string, std::string>& parameters,
                                       ::csi::v1::Volume& out) {
  ::csi::v1::CreateVolumeRequest req;
  req.set_name(name);
  if (required_bytes != 0)
    req.mutable_capacity_range()->set_required_bytes(required_bytes);
  *req.add_volume_capabilities() = capability(mode);
  for (auto& [k, v] : parameters)
    (*req.mutable_parameters())[k] = v;
  ::csi::v1::CreateVolumeResponse resp;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  auto status = controller_->CreateVolume(&ctx, req, &resp);
  out = resp.volume();
  return status;
}

std::string csi_client::provision(const std::string& name) {
  ::csi::v1::Volume volume;
  if (!create_volume(name, int64_t{1} << 20, volume_access::rwo, {}, volume).ok())
    return {};
  return volume.volume_id();
}

grpc::Status csi_client::delete_volume(const std::string& volume_id) {
  ::csi::v1::DeleteVolumeRequest req;
  req.set_volume_id(volume_id);
  ::csi::v1::DeleteVolumeResponse resp;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  return controller_->DeleteVolume(&ctx, req, &resp);
}

grpc::Status csi_client::probe(bool& ready) {
  ::csi::v1::ProbeRequest req;
  ::csi::v1::ProbeResponse resp;
  grpc::ClientContext ctx;
  set_deadline(ctx);
  auto status = identity_->Probe(&ctx, req, &resp);
  ready = resp.has_ready() && resp.ready().value();
  return status;
}

bool csi_client::wait_until_ready(std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    bool ready = false;
    if (probe(ready).ok() && ready)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  return false;
}

std::string http_get(const std::string& url) {
  std::string body;
  CURL* curl = curl_easy_init();
  if (curl == nullptr)
    throw std::runtime_error("curl_easy_init failed");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, rds::services::http::append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  auto rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK)
    throw std::runtime_error("GET " + url + ": " + curl_easy_strerror(rc));
  if (code != 200)
    throw std::runtime_error("GET " + url + ": HTTP " + std::to_string(code));
  return body;
}

double metric_value(const std::string& text, const std::string& series) {
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line))
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0
        && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

} // namespace rds::client
