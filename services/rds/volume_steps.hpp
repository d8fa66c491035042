// The RouterOS procedures behind each volume and snapshot operation: every one is a sequence of
// requests (look up by slot, change, read back) that may be cut anywhere by the RDS failing or
// losing an answer. Contract: each step is idempotent from any point it was cut at, so repeating
// the same call ends in the same state as one uninterrupted call. A fault of the RDS is answered
// with UNAVAILABLE (try again); a final code (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
// OUT_OF_RANGE) only when the request itself is the cause. The driver's own slot found already
// there after a lost answer is the retry case: it is read back and the step goes on.
// Blocking, no actor code: the rds actor and its copy workers call these on their own threads,
// one call at a time per routeros_client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/error_code.hpp"
#include "messages/volume.hpp"
#include "services/rds/disk.hpp"
#include "services/rds/routeros_client.hpp"

namespace rds::services::rds_api {

/// Where the driver's disks go on the RDS and how they are exported.
struct volume_layout {
  /// Where volume files go: "/<pool>[/<dir>]".
  std::string volume_base_path = "/raid10";
  uint16_t nvme_port = 4420;
};

/// A volume's file: "<base>/<slot>.img", or "<base>/<slot>.<source>.img" for one made from a
/// snapshot or a volume, so the source is on the device and a retry with another source is
/// told apart.
std::string volume_path(const volume_layout& layout, const std::string& slot,
                        const std::string& source);

/// A snapshot's file records its source volume and when it was cut:
/// "<base>/<snapshot slot>.<volume slot>.<unix seconds>.img".
std::string snapshot_path(const volume_layout& layout, const std::string& slot,
                          const std::string& source, int64_t created_at);

/// Reads a snapshot disk (or a copy in progress, "tmp-") back; false if its file path is not
/// one snapshot_path() makes.
bool snapshot_of(const volume_layout& layout, const disk& d, snapshot_info& out);

/// The CSI view of a volume's disk.
volume_info info_of(const disk& d);

/// The pool's slot: the first component of the base path.
std::string pool_of(const volume_layout& layout);

/// The steps, over one RouterOS session.
class volume_steps {
 public:
  volume_steps(routeros_client& client, volume_layout layout);

  /// CreateVolume: the disk of slot_for(req.name), sized, filled from the source snapshot or
  /// volume if one is given, and exported last (an exported disk is a finished one). The same
  /// request again finds it; another size, path or source under the same name is
  /// ALREADY_EXISTS; a missing source is NOT_FOUND.
  outcome create_volume(const create_volume_request& req, volume_info& out);

  /// DeleteVolume: unexport, remove the disk and its backing file. An id this driver never
  /// made, or one already gone, is done; a delete cut after the disk went removes the files
  /// named after the slot.
  outcome delete_volume(const std::string& volume_id);

  /// A volume that exists: its disk is there and exported (a disk without export is a create
  /// that has not finished). NOT_FOUND otherwise.
  outcome find_volume(const std::string& volume_id, std::optional<disk>& out);

  /// Grows a volume to at least `bytes`; its size afterwards.
  outcome expand_volume(const std::string& volume_id, uint64_t bytes, uint64_t& capacity);

  /// CreateSnapshot: a copy of the source volume on a "tmp-" disk, renamed to its "snp-" slot
  /// when the copy is complete. The same request again finds it; the name taken by a snapshot
  /// of another volume is ALREADY_EXISTS; an unfinished copy is started again.
  outcome create_snapshot(const create_snapshot_request& req, snapshot_info& out);

  /// DeleteSnapshot: the snapshot's disk and file, and an unfinished copy of the same name.
  outcome delete_snapshot(const std::string& snapshot_id);

  /// A snapshot: NOT_FOUND unless its disk is there.
  outcome find_snapshot(const std::string& snapshot_id, disk& found, snapshot_info& out);

  /// Every volume (exported "csi-" disk) and every snapshot of this driver, ordered by id.
  outcome list_volumes(std::vector<volume_info>& out);
  outcome list_snapshots(std::vector<snapshot_info>& out);

  /// Free bytes in the pool.
  outcome pool_free(uint64_t& out);

 private:
  /// Adds the disk `wanted`; if the RDS says its slot exists (the same PUT carried out before,
  /// its answer lost) and that disk has the path asked for, it is taken. A stray file at the
  /// path (a delete cut after its disk went) is removed first, unless another disk uses it.
  outcome add_own_disk(const disk& wanted, disk& out);
  /// Removes the disk of `slot` and its backing file, or, without the disk, the files named
  /// after the slot.
  outcome remove_slot(const std::string& slot);

  routeros_client& client_;
  volume_layout layout_;
};

} // namespace rds::services::rds_api
