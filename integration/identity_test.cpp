// Identity and the controller's capability RPCs through the real binary.
#include <vector>

#include "integration/clean_stop.hpp"
#include "integration/client.hpp"
#include "integration/metric_expectations.hpp"

using namespace rds::test;

namespace {

template <class Call> grpc::Status call_with_deadline(Call call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds{10});
  return call(ctx);
}

} // namespace

TEST_CASE("identity: name, version, capabilities, probe") {
  plugin_process plugin{{"--driver-name=rds.example.org"}};
  csi_client client{plugin.endpoint()};

  ::csi::v1::GetPluginInfoResponse info;
  REQUIRE(call_with_deadline([&](grpc::ClientContext& ctx) {
            return client.identity().GetPluginInfo(&ctx, {}, &info);
          }).ok());
  CHECK(info.name() == "rds.example.org");
  CHECK(info.vendor_version() == RDS_CSI_VERSION);

  ::csi::v1::GetPluginCapabilitiesResponse caps;
  REQUIRE(call_with_deadline([&](grpc::ClientContext& ctx) {
            return client.identity().GetPluginCapabilities(&ctx, {}, &caps);
          }).ok());
  REQUIRE(caps.capabilities_size() == 1);
  CHECK(caps.capabilities(0).service().type()
        == ::csi::v1::PluginCapability::Service::CONTROLLER_SERVICE);

  bool ready = false;
  REQUIRE(client.probe(ready).ok());
  CHECK(ready);

  ::csi::v1::ControllerGetCapabilitiesResponse controller_caps;
  REQUIRE(call_with_deadline([&](grpc::ClientContext& ctx) {
            return client.controller().ControllerGetCapabilities(&ctx, {}, &controller_caps);
          }).ok());
  using rpc = ::csi::v1::ControllerServiceCapability::RPC;
  std::vector<int> offered;
  for (auto& c : controller_caps.capabilities())
    offered.push_back(c.rpc().type());
  CHECK(offered
        == std::vector<int>{rpc::CREATE_DELETE_VOLUME, rpc::PUBLISH_UNPUBLISH_VOLUME,
                            rpc::LIST_VOLUMES, rpc::GET_CAPACITY, rpc::CREATE_DELETE_SNAPSHOT,
                            rpc::LIST_SNAPSHOTS, rpc::CLONE_VOLUME, rpc::EXPAND_VOLUME,
                            rpc::GET_VOLUME, rpc::PUBLISH_READONLY});

  // Not offered: the CO must be told so, and must not retry.
  ::csi::v1::ControllerModifyVolumeRequest modify;
  modify.set_volume_id("csi-0123456789abcdef0123456789ab");
  ::csi::v1::ControllerModifyVolumeResponse modified;
  CHECK(call_with_deadline([&](grpc::ClientContext& ctx) {
          return client.controller().ControllerModifyVolume(&ctx, modify, &modified);
        }).error_code()
        == grpc::StatusCode::UNIMPLEMENTED);
  CHECK(settled_value(plugin.metrics_url(),
                      rpc_count("/csi.v1.Controller/ControllerModifyVolume", "Unimplemented",
                                "rds.example.org"),
                      1)
        == 1);
  for (auto method : {"/csi.v1.Identity/GetPluginInfo", "/csi.v1.Identity/GetPluginCapabilities",
                      "/csi.v1.Identity/Probe", "/csi.v1.Controller/ControllerGetCapabilities"}) {
    CAPTURE(method);
    CHECK(settled_value(plugin.metrics_url(), rpc_count(method, "OK", "rds.example.org"), 1) == 1);
  }
  expect_clean_stop(plugin);
}

TEST_CASE("ValidateVolumeCapabilities") {
  plugin_process plugin;
  csi_client client{plugin.endpoint()};
  auto validate = [&](const std::string& volume, std::vector<volume_access> modes,
                      ::csi::v1::ValidateVolumeCapabilitiesResponse& resp) {
    ::csi::v1::ValidateVolumeCapabilitiesRequest req;
    req.set_volume_id(volume);
    for (auto mode : modes)
      *req.add_volume_capabilities() = csi_client::capability(mode);
    (*req.mutable_volume_context())["migrationTimeoutSeconds"] = "600";
    return call_with_deadline([&](grpc::ClientContext& ctx) {
      return client.controller().ValidateVolumeCapabilities(&ctx, req, &resp);
    });
  };
  auto volume = client.provision("pvc-1");
  REQUIRE(!volume.empty());
  ::csi::v1::ValidateVolumeCapabilitiesResponse resp;
  REQUIRE(validate(volume, {volume_access::rwx_block, volume_access::rwo}, resp).ok());
  CHECK(resp.has_confirmed());
  CHECK(resp.confirmed().volume_capabilities_size() == 2);
  CHECK(resp.confirmed().volume_context().at("migrationTimeoutSeconds") == "600");

  resp.Clear();
  REQUIRE(validate(volume, {volume_access::rwo, volume_access::rwx_mount}, resp).ok());
  CHECK_FALSE(resp.has_confirmed());
  CHECK(resp.message().find("block") != std::string::npos);

  resp.Clear();
  REQUIRE(validate(volume, {volume_access::multi_reader}, resp).ok());
  CHECK_FALSE(resp.has_confirmed());

  CHECK(validate(volume, {}, resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(validate("", {volume_access::rwo}, resp).error_code()
        == grpc::StatusCode::INVALID_ARGUMENT);
  // A volume the RDS does not have.
  CHECK(validate("pvc-2", {volume_access::rwo}, resp).error_code() == grpc::StatusCode::NOT_FOUND);
  expect_clean_stop(plugin);
}
