// Which CSI volume capabilities the driver serves, and what they mean for attachments.
#pragma once

#include <string>

#include "messages/attachment.hpp"
#include "messages/error_code.hpp"

namespace csi::v1 {
class VolumeCapability;
} // namespace csi::v1

namespace rds::services::csi {

/// Checks one capability and derives the attachment capability from it: every SINGLE_NODE_*
/// mode is single_node, MULTI_NODE_MULTI_WRITER with a block access type is multi_node_block.
/// Anything else (no access type, MULTI_NODE_MULTI_WRITER on a filesystem, a multi-node
/// reader mode, an unsupported filesystem) is invalid_argument with the reason.
outcome read_capability(const ::csi::v1::VolumeCapability& capability, bool readonly,
                        publish_capability& out);

} // namespace rds::services::csi
