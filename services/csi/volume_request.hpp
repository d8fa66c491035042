// CreateVolume's arguments: name, capabilities, capacity range and StorageClass parameters
// (with the Go driver's names where they mean the same), checked before anything is sent.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "messages/error_code.hpp"
#include "messages/volume.hpp"
#include "services/csi/server.hpp"

namespace csi::v1 {
class CreateVolumeRequest;
} // namespace csi::v1

namespace rds::services::csi {

/// Size when the CO asks for none.
constexpr uint64_t default_volume_bytes = uint64_t{1} << 30;
/// Largest volume accepted.
constexpr uint64_t max_volume_bytes = uint64_t{64} << 40;

/// The bytes to allocate for a capacity range (0 = unset): the required size rounded up to
/// whole MiB, never above the limit. out_of_range when no size fits.
outcome size_for(int64_t required, int64_t limit, uint64_t& out);

/// Checks a CreateVolumeRequest and fills what to ask the RDS for and the volume context.
outcome read_create_volume(const ::csi::v1::CreateVolumeRequest& request,
                           const server_config& config, create_volume_request& out,
                           std::map<std::string, std::string>& context);

} // namespace rds::services::csi
