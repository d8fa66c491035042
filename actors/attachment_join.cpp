// The join of VolumeAttachments with their PersistentVolumes; see the diagram in
// attachment_join.hpp.
#include "actors/attachment_join.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

#include "services/log/log.hpp"

namespace rds::actors {

namespace {

using self_pointer = attachment_join_actor::stateful_pointer<attachment_join_state>;
using volume_entry = joined_volume_entry;
using attachment_entry = joined_attachment_entry;

/// What one message changed, for the metrics actor.
struct join_delta {
  uint64_t started_waiting = 0;
  uint64_t deleted_while_attached = 0;
};

const std::string& intern_node(self_pointer self, const std::string& node) {
  return *self->state.nodes.insert(node).first;
}

volume_claim claim_of(const persistent_volume_object& pv) {
  return volume_claim{pv.volume_handle, pv.claim_namespace, pv.claim_name};
}

size_t handle_hash(const joined_volume& pv) {
  return std::hash<std::string>{}(pv.facts.volume_handle);
}

/// Runs `f` on every other known PersistentVolume that names the same volume handle.
template <class F> void for_each_sibling(self_pointer self, const volume_entry& pv, F f) {
  if (!pv.second.known || pv.second.facts.volume_handle.empty())
    return;
  auto [first, last] = self->state.by_handle.equal_range(handle_hash(pv.second));
  for (auto i = first; i != last; ++i)
    if (i->second != &pv && i->second->second.facts.volume_handle == pv.second.facts.volume_handle)
      f(*i->second);
}

bool has_sibling(self_pointer self, const volume_entry& pv) {
  bool found = false;
  for_each_sibling(self, pv, [&](const volume_entry&) { found = true; });
  return found;
}

void index_handle(self_pointer self, volume_entry& pv) {
  if (!pv.second.known || pv.second.facts.volume_handle.empty())
    return;
  self->state.by_handle.emplace(handle_hash(pv.second), &pv);
  for_each_sibling(self, pv, [&](const volume_entry& other) {
    log::warning(log::volume(pv.second.facts.volume_handle), "PersistentVolumes ", other.first,
                 " and ", pv.first,
                 " name the same volume: it is attached wherever the VolumeAttachments of either "
                 "say, and the PersistentVolume with the smallest name gives its access mode and "
                 "migration timeout");
  });
}

void unindex_handle(self_pointer self, volume_entry& pv) {
  if (!pv.second.known || pv.second.facts.volume_handle.empty())
    return;
  auto [first, last] = self->state.by_handle.equal_range(handle_hash(pv.second));
  for (auto i = first; i != last; ++i)
    if (i->second == &pv) {
      self->state.by_handle.erase(i);
      return;
    }
}

/// Makes a PersistentVolume known with these facts.
void set_facts(self_pointer self, volume_entry& pv, services::kube::volume_facts facts) {
  // Indexed (and a shared volume warned about) once, not at every update or relist.
  auto same_handle = pv.second.known && pv.second.facts.volume_handle == facts.volume_handle;
  if (!same_handle)
    unindex_handle(self, pv);
  pv.second.facts = std::move(facts);
  pv.second.known = true;
  pv.second.deleted = false;
  if (!same_handle)
    index_handle(self, pv);
}

/// The PersistentVolume that speaks for the volume `pv` names: the smallest name among those
/// that name it, a PersistentVolume that still exists before a deleted one (kept while its
/// VolumeAttachments name it).
const volume_entry& speaker(self_pointer self, const volume_entry& pv) {
  auto* best = &pv;
  auto rank = [](const volume_entry& e) { return std::make_pair(e.second.deleted, e.first); };
  for_each_sibling(self, pv, [&](const volume_entry& other) {
    if (rank(other) < rank(*best))
      best = &other;
  });
  return *best;
}

/// Another PersistentVolume naming the same volume has a VolumeAttachment that attaches `node`.
bool attached_by_sibling(self_pointer self, const volume_entry& pv, const std::string& node) {
  bool attached = false;
  for_each_sibling(self, pv, [&](const volume_entry& other) {
    for (auto* va = other.second.first; va != nullptr; va = va->second.next) {
      auto& facts = va->second.facts;
      // Attached, even if being deleted: its node is kept until its own unpublish or deletion.
      if (*va->second.node == node && facts.ours && facts.attached)
        attached = true;
    }
  });
  return attached;
}

/// Tells the supervisor what one VolumeAttachment means, once it has its inventory and the
/// PersistentVolume is known.
void apply(self_pointer self, const std::string& pv_name, const std::string& node,
           const services::kube::attachment_facts& va, bool deleted,
           const volume_supervisor_actor& supervisor) {
  if (!self->state.synced)
    return;
  auto entry = self->state.volumes.find(pv_name);
  if (entry == self->state.volumes.end() || !entry->second.known)
    return;
  auto& pv = *entry;
  attachment_change change;
  if (!services::kube::change_of(va, node, deleted, speaker(self, pv).second.facts, change))
    return;
  if (change.phase == attachment_phase::gone && attached_by_sibling(self, pv, node)) {
    log::info(log::volume(change.volume_id), log::node(node), "a VolumeAttachment of ", pv.first,
              " is gone, but one of another PersistentVolume naming the volume still attaches "
              "the node: it stays attached");
    return;
  }
  self->send(supervisor, sync_atom_v, std::move(change));
}

void apply(self_pointer self, const attachment_entry& va,
           const volume_supervisor_actor& supervisor) {
  apply(self, va.second.volume->first, *va.second.node, va.second.facts, false, supervisor);
}

/// A PersistentVolume that is gone for good: the events actor forgets its claim too, unless
/// another PersistentVolume still names the volume (the events actor keeps claims by volume).
void forget_claim(self_pointer self, const volume_entry& pv, const events_actor& events) {
  if (!pv.second.facts.volume_handle.empty() && !has_sibling(self, pv))
    self->send(events, claims_atom_v,
               std::vector<volume_claim>{{pv.second.facts.volume_handle, "", ""}});
}

/// Drops the entry of a PersistentVolume name.
void drop(self_pointer self, std::unordered_map<std::string, joined_volume>::iterator entry) {
  unindex_handle(self, *entry);
  if (entry->second.known)
    --self->state.known_volumes;
  self->state.volumes.erase(entry);
}

/// Threads a VolumeAttachment (not threaded yet) into the list of the PersistentVolume it names,
/// which keeps them by name; returns that PersistentVolume's entry.
joined_volume& thread(self_pointer self, attachment_entry& va, const std::string& pv_name) {
  auto& volume = *self->state.volumes.try_emplace(pv_name).first;
  va.second.volume = &volume;
  auto* at = &volume.second.first;
  while (*at != nullptr && (*at)->first < va.first)
    at = &(*at)->second.next;
  va.second.next = *at;
  *at = &va;
  return volume.second;
}

/// Indexes a VolumeAttachment under its PersistentVolume; it waits if that is not known.
void link(self_pointer self, attachment_entry& va, const std::string& pv_name, join_delta& delta) {
  auto& st = self->state;
  if (thread(self, va, pv_name).known)
    return;
  ++st.waiting;
  // Before the first list of PersistentVolumes every VolumeAttachment would wait: that is
  // start-up, not a VolumeAttachment ahead of its PersistentVolume.
  if (!st.volumes_listed)
    return;
  ++delta.started_waiting;
  log::info(log::node(*va.second.node), "VolumeAttachment ", va.first, " names PersistentVolume ",
            pv_name, ", not seen yet: it waits for it");
}

/// Removes a VolumeAttachment from its PersistentVolume's list; the entry of a PersistentVolume
/// not seen, or the tombstone of a deleted one, goes with the last VolumeAttachment naming it.
void unlink(self_pointer self, attachment_entry& va, const events_actor& events) {
  auto& st = self->state;
  auto* volume = va.second.volume;
  if (volume == nullptr)
    return;
  auto* at = &volume->second.first;
  while (*at != nullptr && *at != &va)
    at = &(*at)->second.next;
  if (*at != nullptr)
    *at = va.second.next;
  va.second.volume = nullptr;
  va.second.next = nullptr;
  auto& pv = volume->second;
  if (!pv.known)
    --st.waiting;
  if (pv.first != nullptr || (pv.known && !pv.deleted))
    return;
  if (pv.known)
    forget_claim(self, *volume, events);
  drop(self, st.volumes.find(volume->first));
}

void mark_deleted(self_pointer self, volume_entry& volume, join_delta& delta) {
  auto& pv = volume.second;
  if (pv.deleted)
    return;
  pv.deleted = true;
  ++self->state.deleted_while_attached;
  ++delta.deleted_while_attached;
  std::string list;
  for (auto* va = pv.first; va != nullptr; va = va->second.next)
    list += (list.empty() ? "" : ", ") + va->first;
  log::warning(log::volume(pv.facts.volume_handle), "PersistentVolume ", volume.first,
               " was deleted while VolumeAttachments still name it: ", list,
               "; they stay the truth until Kubernetes deletes them");
}

/// The first inventory rebuilds the supervisor; later ones (after a relist of
/// VolumeAttachments) bring it back in line.
void send_inventory(self_pointer self, const volume_supervisor_actor& supervisor) {
  std::vector<const attachment_entry*> items;
  items.reserve(self->state.attachments.size());
  for (auto& va : self->state.attachments)
    items.push_back(&va);
  // Attachments created in the same second keep one order, whatever the hash map's.
  std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::vector<services::kube::inventory_row> rows;
  rows.reserve(items.size());
  for (auto* va : items) {
    auto& volume = *va->second.volume;
    rows.push_back({&volume.first, va->second.node, &va->second.facts,
                    volume.second.known ? &speaker(self, volume).second.facts : nullptr});
  }
  auto inventory = services::kube::build_inventory(rows);
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
  std::unordered_set<std::string> waited;
  for (auto& [name, va] : st.attachments)
    if (!va.volume->second.known)
      waited.insert(name);
  st.attachments.clear();
  for (auto i = st.volumes.begin(); i != st.volumes.end();) {
    i->second.first = nullptr;
    i = i->second.known ? std::next(i) : st.volumes.erase(i);
  }
  st.nodes.clear();
  st.waiting = 0;
  st.attachments.reserve(items.size());
  for (auto& va : items) {
    auto& node = intern_node(self, va.node_name);
    auto [entry, fresh] = st.attachments.try_emplace(std::move(va.name));
    if (!fresh)
      unlink(self, *entry, events);
    entry->second.node = &node;
    entry->second.facts = services::kube::facts_of(va, config.driver_name);
    if (!thread(self, *entry, va.pv_name).known) {
      ++st.waiting;
      if (st.volumes_listed && waited.count(entry->first) == 0)
        ++delta.started_waiting;
    }
  }
  for (auto i = st.volumes.begin(); i != st.volumes.end();) {
    auto& pv = i->second;
    if (pv.deleted && pv.first == nullptr) {
      forget_claim(self, *i, events);
      drop(self, i++);
    } else {
      ++i;
    }
  }
  st.attachments_listed = true;
}

/// One claim per volume: of PersistentVolumes that name the same volume, a bound one's claim
/// rather than an unbound copy's empty one (the events actor keeps one claim per volume).
std::vector<volume_claim> bound_first(std::vector<volume_claim> claims) {
  std::unordered_map<std::string, size_t> at;
  std::vector<volume_claim> out;
  out.reserve(claims.size());
  for (auto& claim : claims) {
    auto [i, fresh] = at.try_emplace(claim.volume_id, out.size());
    if (fresh)
      out.push_back(std::move(claim));
    else if (out[i->second].claim_name.empty())
      out[i->second] = std::move(claim);
  }
  return out;
}

/// Replaces the PersistentVolumes; returns the VolumeAttachments that stopped waiting.
std::vector<attachment_entry*> take_volume_list(self_pointer self,
                                                std::vector<persistent_volume_object>& items,
                                                const attachment_join_config& config,
                                                const events_actor& events, join_delta& delta) {
  auto& st = self->state;
  {
    // Known PersistentVolumes the list lacks: a tombstone while named, else forgotten.
    std::unordered_set<std::string_view> listed;
    listed.reserve(items.size());
    for (auto& pv : items)
      listed.insert(pv.name);
    for (auto i = st.volumes.begin(); i != st.volumes.end();) {
      auto& pv = i->second;
      if (!pv.known || listed.count(i->first) > 0) {
        ++i;
      } else if (pv.first != nullptr) {
        mark_deleted(self, *i, delta);
        ++i;
      } else {
        forget_claim(self, *i, events);
        drop(self, i++);
      }
    }
  }
  std::vector<volume_claim> claims;
  std::vector<attachment_entry*> resolved;
  st.volumes.reserve(items.size());
  for (auto& pv : items) {
    if (pv.driver == config.driver_name)
      claims.push_back(claim_of(pv));
    auto facts = services::kube::facts_of(pv, config.driver_name, config.migrations);
    auto& entry = *st.volumes.try_emplace(std::move(pv.name)).first;
    auto& known = entry.second;
    if (!known.known) {
      ++st.known_volumes;
      for (auto* va = known.first; va != nullptr; va = va->second.next) {
        --st.waiting;
        resolved.push_back(va);
      }
    }
    set_facts(self, entry, std::move(facts));
  }
  if (!st.volumes_listed) {
    // The first list: what still waits now is ahead of its PersistentVolume.
    delta.started_waiting += st.waiting;
    for (auto& [pv_name, pv] : st.volumes)
      if (!pv.known) {
        size_t count = 0;
        for (auto* va = pv.first; va != nullptr; va = va->second.next)
          ++count;
        log::info("VolumeAttachments of PersistentVolume ", pv_name,
                  ", not seen yet, wait for it: ", count);
      }
  }
  st.volumes_listed = true;
  self->send(events, claims_atom_v, bound_first(std::move(claims)));
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
          send_inventory(self, supervisor);
      });
    },
    [=](sync_atom, volume_attachment_object& va, bool deleted) {
      changing(self, metrics, [&](join_delta& delta) {
        auto& st = self->state;
        auto facts = services::kube::facts_of(va, config.driver_name);
        auto known = st.attachments.find(va.name);
        if (deleted) {
          apply(self, va.pv_name, va.node_name, facts, true, supervisor);
          if (known != st.attachments.end()) {
            unlink(self, *known, events);
            st.attachments.erase(known);
          }
          return;
        }
        if (known == st.attachments.end())
          known = st.attachments.try_emplace(std::move(va.name)).first;
        else if (known->second.volume->first != va.pv_name)
          unlink(self, *known, events);
        known->second.node = &intern_node(self, va.node_name);
        known->second.facts = facts;
        if (known->second.volume == nullptr)
          link(self, *known, va.pv_name, delta);
        apply(self, *known, supervisor);
      });
    },
    [=](sync_atom, std::vector<persistent_volume_object>& items) {
      changing(self, metrics, [&](join_delta& delta) {
        auto resolved = take_volume_list(self, items, config, events, delta);
        if (!self->state.synced) {
          if (self->state.attachments_listed)
            send_inventory(self, supervisor);
          return;
        }
        for (auto* va : resolved)
          apply(self, *va, supervisor);
      });
    },
    [=](sync_atom, persistent_volume_object& pv, bool deleted) {
      changing(self, metrics, [&](join_delta& delta) {
        auto& st = self->state;
        auto known = st.volumes.find(pv.name);
        if (deleted) {
          if (known == st.volumes.end() || !known->second.known)
            return;
          if (known->second.first != nullptr) {
            mark_deleted(self, *known, delta);
          } else {
            forget_claim(self, *known, events);
            drop(self, known);
          }
          return;
        }
        auto claim = claim_of(pv);
        auto ours = pv.driver == config.driver_name;
        auto facts = services::kube::facts_of(pv, config.driver_name, config.migrations);
        if (known == st.volumes.end())
          known = st.volumes.try_emplace(std::move(pv.name)).first;
        auto& volume = known->second;
        auto was_known = volume.known;
        set_facts(self, *known, std::move(facts));
        // The events actor keeps the claim (the join does not): it is told at every change, but
        // an unbound copy of a PersistentVolume does not erase the claim of the one bound.
        if (ours && (!claim.claim_name.empty() || !has_sibling(self, *known)))
          self->send(events, claims_atom_v, std::vector<volume_claim>{std::move(claim)});
        if (was_known)
          return;
        ++st.known_volumes;
        for (auto* va = volume.first; va != nullptr; va = va->second.next) {
          --st.waiting;
          log::info(log::volume(volume.facts.volume_handle), log::node(*va->second.node),
                    "VolumeAttachment ", va->first, " found its PersistentVolume ", known->first);
          apply(self, *va, supervisor);
        }
      });
    },
    [=](status_atom) {
      auto& st = self->state;
      join_status status;
      status.persistent_volumes = st.known_volumes;
      status.attachments = st.attachments.size();
      status.waiting = st.waiting;
      for (auto& [pv_name, pv] : st.volumes)
        if (!pv.known && status.waiting_for.size() < 100)
          status.waiting_for.push_back(pv_name);
      std::sort(status.waiting_for.begin(), status.waiting_for.end());
      for (auto& pv_name : status.waiting_for)
        for (auto* va = st.volumes.at(pv_name).first; va != nullptr; va = va->second.next) {
          if (status.waiting_attachments.size() >= 100)
            break;
          status.waiting_attachments.push_back(
            {va->first, pv_name, *va->second.node, va->second.facts.created});
        }
      status.deleted_while_attached = st.deleted_while_attached;
      status.synced = st.synced;
      status.mailbox = own_mailbox(self);
      return status;
    },
  };
}

} // namespace rds::actors
