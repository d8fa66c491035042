// The volume context: the key/value strings CreateVolume hands back, that Kubernetes keeps in the
// PV (spec.csi.volumeAttributes) and passes to every later call. It is read in one place, into a
// typed value, by CreateVolume (from the StorageClass parameters), ControllerPublishVolume,
// NodeStageVolume and the rebuild from PersistentVolumes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "messages/attachment.hpp"
#include "messages/error_code.hpp"

namespace rds {

/// Every RDS volume's NVMe subsystem is named this prefix and the volume id (its RDS slot).
constexpr std::string_view volume_nqn_prefix = "nqn.2000-02.com.mikrotik:";

/// The NQN of a volume's subsystem.
std::string volume_nqn(const std::string& volume_id);

/// The one reader of whole numbers that arrive as text: `text` must be exactly a decimal integer
/// (an optional '-', then digits; no blanks, no '+') within [lo, hi].
bool read_integer(std::string_view text, long long lo, long long hi, long long& out);

/// The publish context key by which ControllerPublishVolume tells the node that the attachment is
/// read-only ("true").
constexpr const char* publish_readonly_key = "readonly";

/// The publish context key by which ControllerPublishVolume records when it was asked (wall
/// clock, nanoseconds since the epoch, decimal). The external-attacher copies the publish context
/// into the VolumeAttachment's status.attachmentMetadata, so a rebuild orders a volume's two
/// attachments (source, then target) exactly, where creationTimestamp has whole seconds only.
constexpr const char* publish_published_at_key = "rds.csi.srvlab.io/publishedAt";

/// The context's keys (the Go driver's names where they mean the same).
namespace context_key {
constexpr const char* nqn = "nqn";
constexpr const char* nvme_address = "nvmeAddress";
constexpr const char* nvme_port = "nvmePort";
constexpr const char* migration_timeout = "migrationTimeoutSeconds";
constexpr const char* ctrl_loss_tmo = "ctrlLossTmo";
constexpr const char* reconnect_delay = "reconnectDelay";
constexpr const char* keep_alive_tmo = "keepAliveTmo";
/// A StorageClass parameter only: it must name the driver's volume base path.
constexpr const char* volume_path = "volumePath";
} // namespace context_key

/// What the context holds. The NVMe timeouts are optional: absent, the node's own defaults apply
/// when it connects, so a node's flags still govern volumes created before they changed.
struct volume_context {
  std::string nqn;
  std::string nvme_address;
  int nvme_port = 4420;
  caf::timespan migration_timeout{0};
  std::optional<int> ctrl_loss_tmo;
  std::optional<int> reconnect_delay;
  std::optional<int> keep_alive_tmo;
};

/// What the driver was started with that the context's reading depends on.
struct context_defaults {
  migration_policy migrations;
  /// The RDS data address new volumes are reached at.
  std::string nvme_address = "127.0.0.1";
  /// The RDS path volume files go to (a volumePath parameter must name it).
  std::string volume_base_path = "/raid10";
};

/// StorageClass parameters of CreateVolume. Unknown keys are refused (a typo must not pass
/// silently); the provisioner's own `csi.storage.k8s.io/` keys are skipped. Absent values take
/// the defaults; `out.nqn` stays empty (the RDS names it).
outcome read_storage_class(const std::map<std::string, std::string>& parameters,
                           const context_defaults& defaults, volume_context& out);

/// A volume context as the CO passes it back (publish, stage) or a PV holds it (rebuild). Keys
/// it does not know are ignored: Kubernetes adds its own (csiProvisionerIdentity). A value that
/// is there but out of its range is refused; an absent migration timeout is the policy's
/// fallback, absent address and port what CreateVolume would have written.
outcome read_volume_context(const std::map<std::string, std::string>& context,
                            const context_defaults& defaults, volume_context& out);

/// NodeStageVolume needs where to connect: the nqn and the address, and the nqn must be the
/// volume's own (unstaging derives it from the id alone).
outcome check_stage_context(const std::string& volume_id, const volume_context& context);

/// The context CreateVolume hands back: every key that was set, the migration timeout always
/// (so a publish knows it without the StorageClass), the nqn when known.
std::map<std::string, std::string> context_of(const volume_context& context);

} // namespace rds
