// CreateVolume, DeleteVolume, CreateSnapshot and the rest against RouterOS: look up by slot,
// change, read back.
#include "services/rds/volume_steps.hpp"

#include "messages/volume_context.hpp"

#include <algorithm>
#include <ctime>

namespace rds::services::rds_api {

namespace {

outcome not_found(const std::string& what) {
  return outcome::failure(ec::not_found, what + " does not exist on the RDS");
}

/// /file names have no leading slash.
std::string file_name_of(const std::string& path) {
  return path.empty() || path.front() != '/' ? path : path.substr(1);
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

std::string volume_path(const volume_layout& layout, const std::string& slot,
                        const std::string& source) {
  return layout.volume_base_path + "/" + slot + (source.empty() ? "" : "." + source) + ".img";
}

std::string snapshot_path(const volume_layout& layout, const std::string& slot,
                          const std::string& source, int64_t created_at) {
  return layout.volume_base_path + "/" + slot + "." + source + "." + std::to_string(created_at)
         + ".img";
}

bool snapshot_of(const volume_layout& layout, const disk& d, snapshot_info& out) {
  // A copy in progress ("tmp-") already has the file name of the snapshot it becomes.
  auto id = d.slot.size() == max_slot_length ? snapshot_prefix + d.slot.substr(4) : d.slot;
  auto prefix = layout.volume_base_path + "/" + id + ".";
  if (d.file_path.rfind(prefix, 0) != 0 || d.file_path.size() < prefix.size() + 4
      || !ends_with(d.file_path, ".img"))
    return false;
  auto rest = d.file_path.substr(prefix.size(), d.file_path.size() - prefix.size() - 4);
  auto dot = rest.find('.');
  if (dot == std::string::npos)
    return false;
  auto source = rest.substr(0, dot);
  uint64_t created = 0;
  if (!has_slot_shape(source, volume_prefix) || !parse_bytes(rest.substr(dot + 1), created))
    return false;
  out = snapshot_info{id, source, d.file_size, static_cast<int64_t>(created)};
  return true;
}

volume_info info_of(const disk& d) {
  return volume_info{d.slot, d.file_size, d.nvme_tcp_server_nqn, d.nvme_tcp_server_port,
                     d.nvme_tcp_export};
}

std::string pool_of(const volume_layout& layout) {
  auto& base = layout.volume_base_path;
  return base.substr(1, base.find('/', 1) - 1);
}

volume_steps::volume_steps(routeros_client& client, volume_layout layout)
  : client_(client)
  , layout_(std::move(layout)) {}

outcome volume_steps::find_volume(const std::string& volume_id, std::optional<disk>& out) {
  out.reset();
  if (!has_slot_shape(volume_id, volume_prefix))
    return not_found("volume " + volume_id);
  if (auto r = client_.find_disk(volume_id, out); !r.ok())
    return r;
  if (!out || !out->nvme_tcp_export)
    return not_found("volume " + volume_id);
  return outcome::success();
}

outcome volume_steps::find_snapshot(const std::string& snapshot_id, disk& found,
                                    snapshot_info& out) {
  std::optional<disk> d;
  if (!has_slot_shape(snapshot_id, snapshot_prefix))
    return not_found("snapshot " + snapshot_id);
  if (auto r = client_.find_disk(snapshot_id, d); !r.ok())
    return r;
  if (!d)
    return not_found("snapshot " + snapshot_id);
  if (!snapshot_of(layout_, *d, out))
    return outcome::failure(ec::internal, "snapshot disk " + snapshot_id + " has a file path ("
                                            + d->file_path + ") this driver did not make");
  found = *d;
  return outcome::success();
}

outcome volume_steps::add_own_disk(const disk& wanted, disk& out) {
  auto added = client_.add_disk(wanted, out);
  if (added.ok() || added.message.find("already exists") == std::string::npos)
    return added;
  // The same PUT may have been carried out once already (its answer lost on the way): the
  // driver's own disk, with the path it asked for, is that create, not a conflict.
  std::optional<disk> again;
  if (auto r = client_.find_disk(wanted.slot, again); !r.ok())
    return r;
  if (again) {
    if (again->file_path != wanted.file_path)
      return outcome::failure(ec::aborted, "disk " + wanted.slot + " was made with file "
                                             + again->file_path + " meanwhile: try again");
    out = *again;
    return outcome::success();
  }
  // No disk of this slot: the file is in the way. A file named after our own slot that no disk
  // uses is what a delete cut after its disk went leaves behind.
  std::optional<file> stray;
  if (auto r = client_.find_file(file_name_of(wanted.file_path), stray); !r.ok())
    return r;
  if (!stray)
    return outcome::failure(ec::unavailable,
                            "the RDS refused disk " + wanted.slot
                              + " for something that is not there: " + added.message);
  std::vector<disk> disks;
  if (auto r = client_.list_file_disks(disks); !r.ok())
    return r;
  for (auto& d : disks)
    if (d.file_path == wanted.file_path)
      return outcome::failure(ec::unavailable, "file " + wanted.file_path + " belongs to disk "
                                                 + d.slot
                                                 + ", which this driver did not make: it has to "
                                                   "be removed on the RDS");
  if (auto r = client_.remove_file(stray->id); !r.ok())
    return r;
  return client_.add_disk(wanted, out);
}

outcome volume_steps::create_volume(const create_volume_request& req, volume_info& out) {
  auto slot = slot_for(req.name);
  auto source = !req.source_snapshot_id.empty() ? req.source_snapshot_id : req.source_volume_id;
  auto path = volume_path(layout_, slot, source);
  auto nqn = volume_nqn(slot);
  std::optional<disk> existing;
  if (auto r = client_.find_disk(slot, existing); !r.ok())
    return r;
  disk d;
  if (existing) {
    d = *existing;
    auto fits =
      d.file_size >= req.required_bytes && (req.limit_bytes == 0 || d.file_size <= req.limit_bytes);
    if (!fits || d.file_path != path)
      return outcome::failure(ec::already_exists, "a volume named " + req.name
                                                    + " exists with another size, path or source");
  }
  // The content to copy, unless an exported disk says the copy was done.
  std::optional<disk> from;
  if (!source.empty() && !(existing && existing->nvme_tcp_export)) {
    if (!req.source_snapshot_id.empty()) {
      snapshot_info ignored;
      disk snapshot;
      if (auto r = find_snapshot(req.source_snapshot_id, snapshot, ignored); !r.ok())
        return r;
      from = snapshot;
    } else if (auto r = find_volume(req.source_volume_id, from); !r.ok()) {
      return r;
    }
  }
  if (!existing) {
    disk wanted;
    wanted.slot = slot;
    wanted.file_path = path;
    wanted.file_size = req.size_bytes;
    if (from) {
      // At least the source's size; exactly that when no size was asked for.
      wanted.file_size =
        req.required_bytes == 0 ? from->file_size : std::max(req.size_bytes, from->file_size);
      if (req.limit_bytes != 0 && wanted.file_size > req.limit_bytes)
        return outcome::failure(ec::out_of_range, "the source holds "
                                                    + std::to_string(from->file_size)
                                                    + " bytes, more than limit_bytes allows");
    }
    if (auto r = add_own_disk(wanted, d); !r.ok())
      return r;
  }
  if (from)
    if (auto r = client_.copy_disk(from->slot, slot); !r.ok())
      return r;
  // Exported last: an exported disk is a finished one.
  if (!d.nvme_tcp_export || d.nvme_tcp_server_nqn != nqn
      || d.nvme_tcp_server_port != layout_.nvme_port)
    if (auto r = client_.set_export(d.id, true, layout_.nvme_port, nqn, d); !r.ok())
      return r;
  std::optional<disk> check;
  if (auto r = client_.find_disk(slot, check); !r.ok())
    return r;
  if (!check || !check->nvme_tcp_export || check->nvme_tcp_server_nqn != nqn)
    return outcome::failure(ec::internal, "disk " + slot + " is not exported after being set up");
  out = info_of(*check);
  return outcome::success();
}

outcome volume_steps::remove_slot(const std::string& slot) {
  std::optional<disk> existing;
  if (auto r = client_.find_disk(slot, existing); !r.ok())
    return r;
  // RouterOS leaves the backing file behind: it goes too.
  std::vector<file> backing;
  if (existing) {
    disk ignored;
    if (existing->nvme_tcp_export)
      if (auto r = client_.set_export(existing->id, false, layout_.nvme_port, "", ignored); !r.ok())
        return r;
    if (auto r = client_.remove_disk(existing->id); !r.ok())
      return r;
    std::optional<file> f;
    if (auto r = client_.find_file(file_name_of(existing->file_path), f); !r.ok())
      return r;
    if (f)
      backing.push_back(*f);
  } else {
    // An interrupted delete: the files named after the slot.
    auto prefix = file_name_of(layout_.volume_base_path + "/" + slot + ".");
    std::vector<file> files;
    if (auto r = client_.list_files(files); !r.ok())
      return r;
    for (auto& f : files)
      if (f.name.rfind(prefix, 0) == 0 && ends_with(f.name, ".img"))
        backing.push_back(f);
  }
  for (auto& f : backing)
    if (auto r = client_.remove_file(f.id); !r.ok())
      return r;
  std::optional<disk> check;
  if (auto r = client_.find_disk(slot, check); !r.ok())
    return r;
  if (check)
    return outcome::failure(ec::internal, "disk " + slot + " is still there after removal");
  return outcome::success();
}

outcome volume_steps::delete_volume(const std::string& volume_id) {
  // An id this driver never made names no volume of its own: nothing to delete.
  if (!has_slot_shape(volume_id, volume_prefix))
    return outcome::success();
  return remove_slot(volume_id);
}

outcome volume_steps::create_snapshot(const create_snapshot_request& req, snapshot_info& out) {
  auto slot = slot_for(req.name, snapshot_prefix);
  auto partial = slot_for(req.name, partial_snapshot_prefix);
  disk done;
  auto found = find_snapshot(slot, done, out);
  if (found.ok())
    return out.source_volume_id == req.source_volume_id
             ? outcome::success()
             : outcome::failure(ec::already_exists, "a snapshot named " + req.name
                                                      + " exists of another volume ("
                                                      + out.source_volume_id + ")");
  if (found.code != ec::not_found)
    return found;
  std::optional<disk> source;
  if (auto r = find_volume(req.source_volume_id, source); !r.ok())
    return r;
  // A copy that did not finish is started again; one of another source is dropped first.
  std::optional<disk> pending;
  if (auto r = client_.find_disk(partial, pending); !r.ok())
    return r;
  snapshot_info pending_info;
  if (pending
      && !(snapshot_of(layout_, *pending, pending_info)
           && pending_info.source_volume_id == req.source_volume_id
           && pending->file_size >= source->file_size)) {
    if (auto r = remove_slot(partial); !r.ok())
      return r;
    pending.reset();
  }
  disk copy;
  if (pending) {
    copy = *pending;
  } else {
    disk wanted;
    wanted.slot = partial;
    wanted.file_size = source->file_size;
    wanted.file_path = snapshot_path(layout_, slot, req.source_volume_id, std::time(nullptr));
    if (auto r = add_own_disk(wanted, copy); !r.ok())
      return r;
  }
  if (auto r = client_.copy_disk(source->slot, partial); !r.ok())
    return r;
  // The new name marks the copy as complete.
  disk renamed;
  if (auto r = client_.set_slot(copy.id, slot, renamed); !r.ok())
    return r;
  if (auto r = find_snapshot(slot, done, out); !r.ok())
    return r.code == ec::not_found
             ? outcome::failure(ec::internal, "snapshot " + slot + " is not there after the copy")
             : r;
  return outcome::success();
}

outcome volume_steps::delete_snapshot(const std::string& snapshot_id) {
  if (!has_slot_shape(snapshot_id, snapshot_prefix))
    return outcome::success();
  // With the snapshot goes a copy of the same name that never finished.
  if (auto r = remove_slot(snapshot_id); !r.ok())
    return r;
  return remove_slot(partial_snapshot_prefix + snapshot_id.substr(4));
}

outcome volume_steps::expand_volume(const std::string& volume_id, uint64_t bytes,
                                    uint64_t& capacity) {
  std::optional<disk> existing;
  if (auto r = find_volume(volume_id, existing); !r.ok())
    return r;
  if (existing->file_size < bytes) {
    disk grown;
    if (auto r = client_.set_size(existing->id, bytes, grown); !r.ok())
      return r;
    std::optional<disk> check;
    if (auto r = client_.find_disk(volume_id, check); !r.ok())
      return r;
    if (!check || check->file_size < bytes)
      return outcome::failure(ec::internal, "disk " + volume_id + " did not grow");
    existing = check;
  }
  capacity = existing->file_size;
  return outcome::success();
}

outcome volume_steps::list_volumes(std::vector<volume_info>& out) {
  out.clear();
  std::vector<disk> disks;
  auto r = client_.list_file_disks(disks);
  for (auto& d : disks)
    if (has_slot_shape(d.slot, volume_prefix) && d.nvme_tcp_export)
      out.push_back(info_of(d));
  std::sort(out.begin(), out.end(),
            [](const volume_info& a, const volume_info& b) { return a.volume_id < b.volume_id; });
  return r;
}

outcome volume_steps::list_snapshots(std::vector<snapshot_info>& out) {
  out.clear();
  std::vector<disk> disks;
  auto r = client_.list_file_disks(disks);
  snapshot_info info;
  for (auto& d : disks)
    if (has_slot_shape(d.slot, snapshot_prefix) && snapshot_of(layout_, d, info))
      out.push_back(info);
  std::sort(out.begin(), out.end(), [](const snapshot_info& a, const snapshot_info& b) {
    return a.snapshot_id < b.snapshot_id;
  });
  return r;
}

outcome volume_steps::pool_free(uint64_t& out) {
  auto pool = pool_of(layout_);
  std::optional<disk> found;
  if (auto r = client_.find_disk(pool, found); !r.ok())
    return r;
  if (!found)
    return outcome::failure(ec::not_found, "the RDS has no pool " + pool);
  out = found->free;
  return outcome::success();
}

} // namespace rds::services::rds_api
