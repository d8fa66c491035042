// CreateVolume argument checks.
#include "services/csi/volume_request.hpp"

#include "csi.pb.h"
#include "messages/validation.hpp"
#include "messages/volume_context.hpp"
#include "services/csi/capability.hpp"

namespace rds::services::csi {

namespace {

constexpr uint64_t mib = uint64_t{1} << 20;

outcome bad(const std::string& message) {
  return outcome::failure(ec::invalid_argument, message);
}

} // namespace

outcome size_for(int64_t required, int64_t limit, uint64_t& out) {
  if (required < 0 || limit < 0)
    return bad("capacity_range must not be negative");
  if (limit > 0 && limit < required)
    return bad("capacity_range.limit_bytes is below required_bytes");
  auto req = static_cast<uint64_t>(required);
  auto lim = static_cast<uint64_t>(limit);
  uint64_t size = req == 0 ? default_volume_bytes : (req + mib - 1) / mib * mib;
  if (lim > 0 && size > lim)
    size = req == 0 ? lim : req;
  if (size > max_volume_bytes)
    return outcome::failure(ec::out_of_range,
                            "volumes larger than 64 TiB are not supported (asked for "
                              + std::to_string(size) + " bytes)");
  if (size < mib)
    return outcome::failure(ec::out_of_range, "volumes smaller than 1 MiB are not supported");
  out = size;
  return outcome::success();
}

outcome read_create_volume(const ::csi::v1::CreateVolumeRequest& request,
                           const server_config& config, create_volume_request& out,
                           std::map<std::string, std::string>& context) {
  auto& name = request.name();
  if (name.empty())
    return bad("name is required");
  if (name.size() > max_volume_id_length)
    return bad("name is longer than " + std::to_string(max_volume_id_length) + " bytes");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f)
      return bad("name contains a control character");
  if (request.volume_capabilities().empty())
    return bad("volume_capabilities is required");
  for (auto& capability : request.volume_capabilities()) {
    publish_capability ignored;
    if (auto r = read_capability(capability, false, ignored); !r.ok())
      return r;
  }
  std::string source_snapshot, source_volume;
  if (request.has_volume_content_source()) {
    auto& source = request.volume_content_source();
    if (source.has_snapshot()) {
      source_snapshot = source.snapshot().snapshot_id();
      if (auto r = check_snapshot_id(source_snapshot); !r.ok())
        return bad("volume_content_source.snapshot: " + r.message);
    } else if (source.has_volume()) {
      source_volume = source.volume().volume_id();
      if (auto r = check_volume_id(source_volume); !r.ok())
        return bad("volume_content_source.volume: " + r.message);
    } else {
      return bad("volume_content_source names neither a snapshot nor a volume");
    }
  }
  int64_t required = request.has_capacity_range() ? request.capacity_range().required_bytes() : 0;
  int64_t limit = request.has_capacity_range() ? request.capacity_range().limit_bytes() : 0;
  uint64_t size = 0;
  if (auto r = size_for(required, limit, size); !r.ok())
    return r;
  volume_context typed;
  std::map<std::string, std::string> parameters{request.parameters().begin(),
                                                request.parameters().end()};
  if (auto r = read_storage_class(
        parameters, {config.migrations, config.nvme_address, config.volume_base_path}, typed);
      !r.ok())
    return r;
  // Every volume carries its migration timeout, so a publish knows it without the class.
  context = context_of(typed);
  out.name = name;
  out.source_snapshot_id = source_snapshot;
  out.source_volume_id = source_volume;
  out.size_bytes = size;
  out.required_bytes = static_cast<uint64_t>(required);
  out.limit_bytes = static_cast<uint64_t>(limit);
  return outcome::success();
}

} // namespace rds::services::csi
