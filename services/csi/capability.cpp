// Capability rules: RWO in any single-node mode, RWX only as raw block (two writers on one
// filesystem would corrupt it), filesystems ext4 and xfs.
#include "services/csi/capability.hpp"

#include "csi.pb.h"

namespace rds::services::csi {

namespace {

using mode = ::csi::v1::VolumeCapability::AccessMode;

bool supported_filesystem(const std::string& fs_type) {
  return fs_type.empty() || fs_type == "ext4" || fs_type == "xfs";
}

} // namespace

outcome read_capability(const ::csi::v1::VolumeCapability& capability, bool readonly,
                        publish_capability& out) {
  if (!capability.has_access_mode() || capability.access_mode().mode() == mode::UNKNOWN)
    return outcome::failure(ec::invalid_argument, "volume_capability.access_mode is required");
  auto m = capability.access_mode().mode();
  bool block = capability.has_block();
  if (!block && !capability.has_mount())
    return outcome::failure(ec::invalid_argument,
                            "volume_capability needs an access type: block or mount");
  if (capability.has_mount() && !supported_filesystem(capability.mount().fs_type()))
    return outcome::failure(ec::invalid_argument, "filesystem type '" + capability.mount().fs_type()
                                                    + "' is not supported (use ext4 or xfs)");
  out.csi_mode = static_cast<int32_t>(m);
  out.block = block;
  out.readonly = readonly;
  switch (m) {
  case mode::SINGLE_NODE_WRITER:
  case mode::SINGLE_NODE_READER_ONLY:
  case mode::SINGLE_NODE_SINGLE_WRITER:
  case mode::SINGLE_NODE_MULTI_WRITER:
    out.access = access_kind::single_node;
    return outcome::success();
  case mode::MULTI_NODE_MULTI_WRITER:
    if (!block)
      return outcome::failure(ec::invalid_argument,
                              "MULTI_NODE_MULTI_WRITER is supported only with a block access "
                              "type: two nodes writing one filesystem would corrupt it");
    out.access = access_kind::multi_node_block;
    return outcome::success();
  default:
    return outcome::failure(ec::invalid_argument,
                            "access mode " + mode::Mode_Name(m) + " is not supported");
  }
}

} // namespace rds::services::csi
