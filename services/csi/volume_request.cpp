// CreateVolume argument checks.
#include "services/csi/volume_request.hpp"

#include <arpa/inet.h>

#include "csi.pb.h"
#include "messages/validation.hpp"
#include "services/csi/capability.hpp"

namespace rds::services::csi {

namespace {

constexpr uint64_t mib = uint64_t{1} << 20;

bool is_ip_literal(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

bool int_in(const std::string& text, long lo, long hi) {
  if (text.empty() || text.size() > 9)
    return false;
  size_t i = text.front() == '-' ? 1 : 0;
  if (i == text.size())
    return false;
  long value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9')
      return false;
    value = value * 10 + (text[i] - '0');
  }
  if (text.front() == '-')
    value = -value;
  return value >= lo && value <= hi;
}

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
  context.clear();
  context["nvmeAddress"] = config.nvme_address;
  context["nvmePort"] = "4420";
  for (auto& [key, value] : request.parameters()) {
    if (key.rfind("csi.storage.k8s.io/", 0) == 0)
      continue; // the provisioner's own keys
    if (key == "nvmeAddress") {
      if (!is_ip_literal(value))
        return bad("parameter nvmeAddress must be an IP address (got '" + value + "')");
    } else if (key == "nvmePort") {
      if (!int_in(value, 1, 65535))
        return bad("parameter nvmePort must be a port from 1 to 65535");
    } else if (key == migration_timeout_key) {
      caf::timespan ignored{0};
      if (auto r = parse_migration_timeout(&value, config.migrations, ignored); !r.ok())
        return r;
    } else if (key == "ctrlLossTmo") {
      if (!int_in(value, -1, 1000000))
        return bad("parameter ctrlLossTmo must be a whole number of seconds, -1 or more");
    } else if (key == "reconnectDelay") {
      if (!int_in(value, 1, 100000))
        return bad("parameter reconnectDelay must be a whole number of seconds, 1 or more");
    } else if (key == "keepAliveTmo") {
      if (!int_in(value, 0, 100000))
        return bad("parameter keepAliveTmo must be a whole number of seconds, 0 or more");
    } else if (key == "volumePath") {
      if (value != config.volume_base_path)
        return bad("parameter volumePath '" + value + "' is not this driver's volume base path "
                   + config.volume_base_path);
      continue;
    } else {
      return bad("unknown StorageClass parameter '" + key + "'");
    }
    context[key] = value;
  }
  // Every volume carries its migration timeout, so a publish knows it without the class.
  if (context.count(migration_timeout_key) == 0)
    context[migration_timeout_key] = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(config.migrations.fallback).count());
  out.name = name;
  out.source_snapshot_id = source_snapshot;
  out.source_volume_id = source_volume;
  out.size_bytes = size;
  out.required_bytes = static_cast<uint64_t>(required);
  out.limit_bytes = static_cast<uint64_t>(limit);
  return outcome::success();
}

} // namespace rds::services::csi
