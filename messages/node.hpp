// The node side's vocabulary: what NodeStage/Publish/... ask of a volume, and what comes back.
#pragma once

#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace rds {

/// How a volume is used on the node: a raw block device, or a filesystem with flags.
struct node_access {
  bool block = false;
  /// "ext4" or "xfs" (filesystem only).
  std::string fs_type;
  std::vector<std::string> mount_flags;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, node_access& x) {
  return f(caf::meta::type_name("rds.node_access"), x.block, x.fs_type, x.mount_flags);
}

struct stage_request {
  std::string volume_id;
  std::string staging_path;
  node_access access;
  /// The subsystem to connect to, from the volume context.
  std::string address;
  int port = 4420;
  std::string nqn;
  int ctrl_loss_tmo = -1;
  int reconnect_delay = 5;
  int keep_alive_tmo = 0;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, stage_request& x) {
  return f(caf::meta::type_name("rds.stage_request"), x.volume_id, x.staging_path, x.access,
           x.address, x.port, x.nqn, x.ctrl_loss_tmo, x.reconnect_delay, x.keep_alive_tmo);
}

struct unstage_request {
  std::string volume_id;
  std::string staging_path;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, unstage_request& x) {
  return f(caf::meta::type_name("rds.unstage_request"), x.volume_id, x.staging_path);
}

struct node_publish_request {
  std::string volume_id;
  std::string staging_path;
  std::string target_path;
  node_access access;
  bool readonly = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_publish_request& x) {
  return f(caf::meta::type_name("rds.node_publish_request"), x.volume_id, x.staging_path,
           x.target_path, x.access, x.readonly);
}

struct node_unpublish_request {
  std::string volume_id;
  std::string target_path;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_unpublish_request& x) {
  return f(caf::meta::type_name("rds.node_unpublish_request"), x.volume_id, x.target_path);
}

/// NodeGetVolumeStats and NodeExpandVolume name a volume and a path it is mounted or placed at.
struct volume_path_request {
  std::string volume_id;
  std::string volume_path;
  /// For expansion: the bytes asked for (0: whatever the device has now).
  uint64_t required_bytes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, volume_path_request& x) {
  return f(caf::meta::type_name("rds.volume_path_request"), x.volume_id, x.volume_path,
           x.required_bytes);
}

struct volume_stats {
  bool block = false;
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t total_inodes = 0;
  uint64_t free_inodes = 0;
  uint64_t used_inodes = 0;
  /// VOLUME_CONDITION: abnormal with why (controller not live, device gone, stale mount).
  bool abnormal = false;
  std::string condition;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, volume_stats& x) {
  return f(caf::meta::type_name("rds.volume_stats"), x.block, x.total_bytes, x.available_bytes,
           x.used_bytes, x.total_inodes, x.free_inodes, x.used_inodes, x.abnormal, x.condition);
}

/// Node metrics events.
struct nvme_connect_recorded {
  /// "success", "reused" or the error.
  std::string status;
  double seconds = 0;
  /// This node's managed controllers afterwards.
  uint64_t connections = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, nvme_connect_recorded& x) {
  return f(caf::meta::type_name("rds.nvme_connect_recorded"), x.status, x.seconds, x.connections);
}

struct nvme_connections_counted {
  uint64_t connections = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, nvme_connections_counted& x) {
  return f(caf::meta::type_name("rds.nvme_connections_counted"), x.connections);
}

struct mount_recorded {
  /// "format", "mount", "unmount", "bind", "mknod", "grow".
  std::string operation;
  std::string status;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mount_recorded& x) {
  return f(caf::meta::type_name("rds.mount_recorded"), x.operation, x.status);
}

/// A stale mount was found (detected) or a recovery ended ("success" or "failure").
struct stale_mount_recorded {
  bool recovery = false;
  std::string status;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stale_mount_recorded& x) {
  return f(caf::meta::type_name("rds.stale_mount_recorded"), x.recovery, x.status);
}

} // namespace rds
