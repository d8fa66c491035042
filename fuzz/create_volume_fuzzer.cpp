// CreateVolume as the CO sends it (the protobuf bytes of a CreateVolumeRequest): name,
// capabilities, capacity and StorageClass parameters through services/csi/volume_request.cpp,
// the id checks of messages/validation.cpp on the same strings, and the parameters read again
// as a volume context (messages/volume_context.cpp).
#include "csi.pb.h"
#include "fuzz/input_text.hpp"
#include "messages/validation.hpp"
#include "messages/volume_context.hpp"
#include "services/csi/capability.hpp"
#include "services/csi/volume_request.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  csi::v1::CreateVolumeRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size)))
    return 0;
  rds::services::csi::server_config config;
  rds::create_volume_request out;
  std::map<std::string, std::string> context;
  auto r = rds::services::csi::read_create_volume(request, config, out, context);
  if (r.ok() && (request.name().empty() || context.empty()))
    __builtin_trap(); // an accepted request has a name and gives the volume a context
  rds::check_volume_id(request.name());
  rds::check_node_id(request.name());
  rds::check_snapshot_id(request.name());
  for (auto& capability : request.volume_capabilities()) {
    rds::publish_capability publish;
    rds::services::csi::read_capability(capability, true, publish);
  }
  // The same strings as a volume context passed back by the CO.
  rds::volume_context typed;
  if (rds::read_volume_context({request.parameters().begin(), request.parameters().end()}, {},
                               typed)
        .ok())
    rds::context_of(typed);
  for (auto& [key, value] : request.parameters())
    rds::check_volume_id(key);
  return 0;
}
