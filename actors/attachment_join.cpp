// The join of VolumeAttachments with their PersistentVolumes; see the diagram in
// attachment_join.hpp.
#include "actors/attachment_join.hpp"

#include <algorithm>
#include <vector>

#include "services/kube/attachment_inventory.hpp"
#include "services/log/log.hpp"

namespace rds::actors {

namespace {

using self_pointer = attachment_join_actor::stateful_pointer<attachment_join_state>;

/// What one message changed, for the metrics actor.
struct join_delta {
  uint64_t started_waiting = 0;
  uint64_t deleted_while_attached = 0;
};

const persistent_volume_object* find_volume(self_pointer self, const std::string& pv_name) {
  auto i = self->state.volumes.find(pv_name);
  return i == self->state.volumes.end() ? nullptr : &i->second.object;
}

volume_claim claim_of(const persistent_volume_object& pv) {
  return volume_claim{pv.volume_handle, pv.claim_namespace, pv.claim_name};
}

/// Tells the supervisor what one VolumeAttachment means, once it has its inventory and the
/// PersistentVolume is known.
void apply(self_pointer self, const volume_attachment_object& va, bool deleted,
           const attachment_join_config& config, const volume_supervisor_actor& supervisor) {
  if (!self->state.synced)
    return;
  auto* pv = find_volume(self, va.pv_name);
  if (pv == nullptr)
    return;
  attachment_change change;
  if (services::kube::change_of(va, deleted, *pv, config.driver_name, config.migrations, change))
    self->send(supervisor, sync_atom_v, std::move(change));
}

/// Indexes a VolumeAttachment under its PersistentVolume; it waits if that is not known.
void link(self_pointer self, const volume_attachment_object& va, join_delta& delta) {
  auto& st = self->state;
  if (!st.attachments_of[va.pv_name].insert(va.name).second)
    return;
  if (st.volumes.count(va.pv_name) > 0)
    return;
  ++st.waiting;
  // Before the first list of PersistentVolumes every VolumeAttachment would wait: that is
  // start-up, not a VolumeAttachment ahead of its PersistentVolume.
  if (!st.volumes_listed)
    return;
  ++delta.started_waiting;
  log::info(log::node(va.node_name), "VolumeAttachment ", va.name, " names PersistentVolume ",
            va.pv_name, ", not seen yet: it waits for it");
}

/// A PersistentVolume that is gone for good: the events actor forgets its claim too.
void forget_claim(self_pointer self, const persistent_volume_object& pv,
                  const attachment_join_config& config, const events_actor& events) {
  if (pv.driver == config.driver_name && !pv.volume_handle.empty())
    self->send(events, claims_atom_v, std::vector<volume_claim>{{pv.volume_handle, "", ""}});
}

/// Removes a VolumeAttachment from the index; the tombstone of a deleted PersistentVolume goes
/// with the last VolumeAttachment that named it.
void unlink(self_pointer self, const std::string& va_name, const std::string& pv_name,
            const attachment_join_config& config, const events_actor& events) {
  auto& st = self->state;
  auto named = st.attachments_of.find(pv_name);
  if (named == st.attachments_of.end() || named->second.erase(va_name) == 0)
    return;
  auto pv = st.volumes.find(pv_name);
  if (pv == st.volumes.end())
    --st.waiting;
  if (!named->second.empty())
    return;
  st.attachments_of.erase(named);
  if (pv != st.volumes.end() && pv->second.deleted) {
    forget_claim(self, pv->second.object, config, events);
    st.volumes.erase(pv);
  }
}

void mark_deleted(self_pointer self, known_volume& volume, join_delta& delta) {
  if (volume.deleted)
    return;
  volume.deleted = true;
  ++self->state.deleted_while_attached;
  ++delta.deleted_while_attached;
  auto& names = self->state.attachments_of[volume.object.name];
  std::string list;
  for (auto& name : names)
    list += (list.empty() ? "" : ", ") + name;
  log::warning(log::volume(volume.object.volume_handle), "PersistentVolume ", volume.object.name,
               " was deleted while VolumeAttachments still name it: ", list,
               "; they stay the truth until Kubernetes deletes them");
}

/// The first inventory rebuilds the supervisor; later ones (after a relist of
/// VolumeAttachments) bring it back in line.
void send_inventory(self_pointer self, const attachment_join_config& config,
                    const volume_supervisor_actor& supervisor) {
  std::vector<const volume_attachment_object*> items;
  items.reserve(self->state.attachments.size());
  for (auto& [name, va] : self->state.attachments)
    items.push_back(&va);
  // Attachments created in the same second keep one order, whatever the hash map's.
  std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->name < b->name; });
  auto inventory = services::kube::build_inventory(
    items, [self](const std::string& name) { return find_volume(self, name); }, config.driver_name,
    config.migrations);
  inventory.listed_at = self->state.attachments_listed_at;
  self->send(supervisor, sync_atom_v, std::move(inventory));
  self->state.synced = true;
}

void report(self_pointer self, const join_delta& delta, uint64_t waiting_before,
            const metrics_actor& metrics) {
  if (!self->state.volumes_listed)
    return;
  if (delta.started_waiting == 0 && delta.deleted_while_attached == 0
      && self->state.waiting == waiting_before)
    return;
  self->send(metrics, join_recorded{self->state.waiting, delta.started_waiting,
                                    delta.deleted_while_attached});
}

/// Runs one change of the join's state, then tells the metrics actor what it changed.
template <class Change> void changing(self_pointer self, const metrics_actor& metrics, Change f) {
  auto waiting_before = self->state.waiting;
  join_delta delta;
  f(delta);
  report(self, delta, waiting_before, metrics);
}

void take_attachment_list(self_pointer self, std::vector<volume_attachment_object>& items,
                          const attachment_join_config& config, const events_actor& events,
                          join_delta& delta) {
  auto& st = self->state;
  std::set<std::string> waited;
  for (auto& [pv_name, names] : st.attachments_of)
    if (st.volumes.count(pv_name) == 0)
      waited.insert(names.begin(), names.end());
  st.attachments.clear();
  st.attachments_of.clear();
  st.waiting = 0;
  for (auto& va : items) {
    st.attachments_of[va.pv_name].insert(va.name);
    if (st.volumes.count(va.pv_name) == 0) {
      ++st.waiting;
      if (st.volumes_listed && waited.count(va.name) == 0)
        ++delta.started_waiting;
    }
    auto name = va.name;
    st.attachments.insert_or_assign(std::move(name), std::move(va));
  }
  for (auto i = st.volumes.begin(); i != st.volumes.end();)
    if (i->second.deleted && st.attachments_of.count(i->first) == 0) {
      forget_claim(self, i->second.object, config, events);
      i = st.volumes.erase(i);
    } else {
      ++i;
    }
  st.attachments_listed = true;
}

/// Replaces the PersistentVolumes; returns the VolumeAttachments that stopped waiting.
std::vector<std::string> take_volume_list(self_pointer self,
                                          std::vector<persistent_volume_object>& items,
                                          const attachment_join_config& config,
                                          const events_actor& events, join_delta& delta) {
  auto& st = self->state;
  std::unordered_map<std::string, known_volume> fresh;
  std::vector<volume_claim> claims;
  for (auto& pv : items) {
    if (pv.driver == config.driver_name)
      claims.push_back(claim_of(pv));
    auto name = pv.name;
    fresh.insert_or_assign(std::move(name), known_volume{std::move(pv), false});
  }
  for (auto& [name, old] : st.volumes) {
    if (fresh.count(name) > 0)
      continue;
    if (st.attachments_of.count(name) > 0) {
      mark_deleted(self, old, delta);
      fresh.emplace(name, std::move(old));
    } else {
      forget_claim(self, old.object, config, events);
    }
  }
  std::vector<std::string> resolved;
  for (auto& [pv_name, names] : st.attachments_of)
    if (st.volumes.count(pv_name) == 0 && fresh.count(pv_name) > 0) {
      st.waiting -= names.size();
      resolved.insert(resolved.end(), names.begin(), names.end());
    }
  st.volumes = std::move(fresh);
  if (!st.volumes_listed) {
    // The first list: what still waits now is ahead of its PersistentVolume.
    delta.started_waiting += st.waiting;
    for (auto& [pv_name, names] : st.attachments_of)
      if (st.volumes.count(pv_name) == 0)
        log::info("VolumeAttachments of PersistentVolume ", pv_name,
                  ", not seen yet, wait for it: ", names.size());
  }
  st.volumes_listed = true;
  self->send(events, claims_atom_v, std::move(claims));
  return resolved;
}

} // namespace

attachment_join_actor::behavior_type
attachment_join(attachment_join_actor::stateful_pointer<attachment_join_state> self,
                attachment_join_config config, volume_supervisor_actor supervisor,
                metrics_actor metrics, events_actor events) {
  return {
    [=](sync_atom, std::vector<volume_attachment_object>& items, caf::timestamp taken) {
      changing(self, metrics, [&](join_delta& delta) {
        take_attachment_list(self, items, config, events, delta);
        self->state.attachments_listed_at = taken;
        if (self->state.volumes_listed)
          send_inventory(self, config, supervisor);
      });
    },
    [=](sync_atom, volume_attachment_object& va, bool deleted) {
      changing(self, metrics, [&](join_delta& delta) {
        auto& st = self->state;
        auto known = st.attachments.find(va.name);
        if (deleted) {
          apply(self, va, true, config, supervisor);
          if (known != st.attachments.end()) {
            auto pv_name = known->second.pv_name;
            st.attachments.erase(known);
            unlink(self, va.name, pv_name, config, events);
          }
          return;
        }
        if (known != st.attachments.end() && known->second.pv_name != va.pv_name)
          unlink(self, va.name, known->second.pv_name, config, events);
        link(self, va, delta);
        apply(self, va, false, config, supervisor);
        auto name = va.name;
        st.attachments.insert_or_assign(std::move(name), std::move(va));
      });
    },
    [=](sync_atom, std::vector<persistent_volume_object>& items) {
      changing(self, metrics, [&](join_delta& delta) {
        auto resolved = take_volume_list(self, items, config, events, delta);
        if (!self->state.synced) {
          if (self->state.attachments_listed)
            send_inventory(self, config, supervisor);
          return;
        }
        for (auto& name : resolved)
          apply(self, self->state.attachments.at(name), false, config, supervisor);
      });
    },
    [=](sync_atom, persistent_volume_object& pv, bool deleted) {
      changing(self, metrics, [&](join_delta& delta) {
        auto& st = self->state;
        auto known = st.volumes.find(pv.name);
        auto named = st.attachments_of.find(pv.name);
        if (deleted) {
          if (known == st.volumes.end())
            return;
          if (named != st.attachments_of.end()) {
            mark_deleted(self, known->second, delta);
          } else {
            forget_claim(self, known->second.object, config, events);
            st.volumes.erase(known);
          }
          return;
        }
        auto was_known = known != st.volumes.end();
        auto claim_changed = !was_known
                             || known->second.object.claim_namespace != pv.claim_namespace
                             || known->second.object.claim_name != pv.claim_name;
        if (pv.driver == config.driver_name && claim_changed)
          self->send(events, claims_atom_v, std::vector<volume_claim>{claim_of(pv)});
        auto name = pv.name;
        st.volumes.insert_or_assign(std::move(name), known_volume{std::move(pv), false});
        if (was_known || named == st.attachments_of.end())
          return;
        st.waiting -= named->second.size();
        for (auto& va_name : named->second) {
          log::info(log::volume(st.volumes.at(named->first).object.volume_handle),
                    log::node(st.attachments.at(va_name).node_name), "VolumeAttachment ", va_name,
                    " found its PersistentVolume ", named->first);
          apply(self, st.attachments.at(va_name), false, config, supervisor);
        }
      });
    },
    [=](status_atom) {
      auto& st = self->state;
      join_status status;
      status.persistent_volumes = st.volumes.size();
      status.attachments = st.attachments.size();
      status.waiting = st.waiting;
      for (auto& [pv_name, names] : st.attachments_of)
        if (st.volumes.count(pv_name) == 0 && status.waiting_for.size() < 100)
          status.waiting_for.push_back(pv_name);
      std::sort(status.waiting_for.begin(), status.waiting_for.end());
      for (auto& pv_name : status.waiting_for)
        for (auto& name : st.attachments_of.at(pv_name)) {
          if (status.waiting_attachments.size() >= 100)
            break;
          auto va = st.attachments.find(name);
          if (va != st.attachments.end())
            status.waiting_attachments.push_back(
              {va->second.name, pv_name, va->second.node_name, va->second.created});
        }
      status.deleted_while_attached = st.deleted_while_attached;
      status.synced = st.synced;
      status.mailbox = own_mailbox(self);
      return status;
    },
  };
}

} // namespace rds::actors
