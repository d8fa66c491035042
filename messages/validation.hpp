// Checks of identifiers and parameters that arrive from the CO. They run before a request reaches
// an actor, so bad input changes nothing.
#pragma once

#include <string>

#include "messages/attachment.hpp"
#include "messages/error_code.hpp"

namespace rds {

/// Longest accepted volume id (CSI's default string limit).
constexpr size_t max_volume_id_length = 128;
/// Longest accepted node id (a Kubernetes node name is a DNS subdomain of at most 253 bytes).
constexpr size_t max_node_id_length = 253;

/// Ids must be non-empty, bounded, start with a letter or digit and use only letters, digits,
/// '.', '_' and '-': they end up in RouterOS paths, NQNs and log lines.
outcome check_volume_id(const std::string& id);
outcome check_node_id(const std::string& id);
outcome check_snapshot_id(const std::string& id);

} // namespace rds
