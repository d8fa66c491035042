// Value types of the controller's attachment bookkeeping: what a volume actor owns, what a
// publish or unpublish asks of it, and the policy that bounds migrations.
#pragma once

#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "messages/deadline.hpp"

namespace rds {

/// How many nodes a volume may be attached to.
enum class access_kind : uint8_t {
  /// Every SINGLE_NODE_* CSI mode: one node at a time.
  single_node = 0,
  /// MULTI_NODE_MULTI_WRITER with a raw block access type: two nodes while KubeVirt migrates.
  multi_node_block = 1,
};

const char* to_string(access_kind kind);

/// The capability a node was published with; a repeated publish must match it to be idempotent.
struct publish_capability {
  access_kind access = access_kind::single_node;
  /// The CSI VolumeCapability.AccessMode.Mode number, kept to tell e.g. SINGLE_NODE_WRITER from
  /// SINGLE_NODE_READER_ONLY apart.
  int32_t csi_mode = 0;
  bool block = false;
  bool readonly = false;

  friend bool operator==(const publish_capability& a, const publish_capability& b) {
    return a.access == b.access && a.csi_mode == b.csi_mode && a.block == b.block
           && a.readonly == b.readonly;
  }
  friend bool operator!=(const publish_capability& a, const publish_capability& b) {
    return !(a == b);
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_capability& x) {
  return f(caf::meta::type_name("rds.publish_capability"), x.access, x.csi_mode, x.block,
           x.readonly);
}

/// Times are offsets on the actor clock (steady, and virtual under the test coordinator).
using clock_offset = caf::timespan;

struct attached_node {
  std::string node_id;
  publish_capability capability;
  clock_offset attached_at{0};
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, attached_node& x) {
  return f(caf::meta::type_name("rds.attached_node"), x.node_id, x.capability, x.attached_at);
}

/// A live migration: the volume is attached to a source and a target node at once.
struct migration_state {
  /// Counts migrations of this volume; a timer carries the generation it was armed for.
  uint64_t generation = 0;
  clock_offset started_at{0};
  caf::timespan timeout{0};
  /// The timer fired before the migration ended. Nothing was detached.
  bool timed_out = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, migration_state& x) {
  return f(caf::meta::type_name("rds.migration_state"), x.generation, x.started_at, x.timeout,
           x.timed_out);
}

/// Everything a volume actor knows. nodes[0] is the source, nodes[1] (if any) the migration
/// target. `migrating` holds exactly when two nodes are attached.
struct attachment_state {
  std::string volume_id;
  access_kind access = access_kind::single_node;
  std::vector<attached_node> nodes;
  bool migrating = false;
  migration_state migration;

  bool attached() const { return !nodes.empty(); }
  bool has_node(const std::string& node_id) const;
  /// "a" or "a and b": the attached nodes, for error messages.
  std::string node_list() const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attachment_state& x) {
  return f(caf::meta::type_name("rds.attachment_state"), x.volume_id, x.access, x.nodes,
           x.migrating, x.migration);
}

struct publish_request {
  std::string volume_id;
  std::string node_id;
  publish_capability capability;
  /// From the volume context key migrationTimeoutSeconds, already checked against the policy.
  caf::timespan migration_timeout{0};
  /// The CO's deadline for the call.
  request_deadline deadline = no_deadline;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_request& x) {
  return f(caf::meta::type_name("rds.publish_request"), x.volume_id, x.node_id, x.capability,
           x.migration_timeout, x.deadline);
}

struct unpublish_request {
  std::string volume_id;
  /// Empty: detach from every node (CSI allows an empty node_id).
  std::string node_id;
  /// The CO's deadline for the call.
  request_deadline deadline = no_deadline;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unpublish_request& x) {
  return f(caf::meta::type_name("rds.unpublish_request"), x.volume_id, x.node_id, x.deadline);
}

/// Bounds for migrationTimeoutSeconds. The floor can be lowered by a flag for tests.
struct migration_policy {
  caf::timespan minimum = std::chrono::seconds{30};
  caf::timespan maximum = std::chrono::seconds{3600};
  caf::timespan fallback = std::chrono::seconds{300};
};

} // namespace rds
