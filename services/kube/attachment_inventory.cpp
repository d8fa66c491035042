// Grouping of VolumeAttachments by the volume their PersistentVolume names.
#include "services/kube/attachment_inventory.hpp"

#include <algorithm>
#include <map>

#include "messages/volume_context.hpp"

namespace rds::services::kube {

publish_capability capability_of(const persistent_volume_object& pv) {
  publish_capability cap;
  auto rwx = std::find(pv.access_modes.begin(), pv.access_modes.end(), "ReadWriteMany")
             != pv.access_modes.end();
  cap.block = pv.volume_mode == "Block";
  cap.csi_mode = rwx ? 5 : 1;
  cap.access = rwx && cap.block ? access_kind::multi_node_block : access_kind::single_node;
  cap.readonly = pv.read_only;
  return cap;
}

namespace {

caf::timespan timeout_of(const persistent_volume_object& pv, const migration_policy& policy) {
  // A context that cannot be read (edited by hand) still has its volume followed.
  volume_context context;
  if (!read_volume_context(pv.volume_attributes, {policy}, context).ok())
    return policy.fallback;
  return context.migration_timeout;
}

} // namespace

volume_facts facts_of(const persistent_volume_object& pv, const std::string& driver,
                      const migration_policy& policy) {
  volume_facts facts;
  if (pv.driver != driver || pv.volume_handle.empty())
    return facts;
  facts.volume_handle = pv.volume_handle;
  facts.capability = capability_of(pv);
  facts.migration_timeout = timeout_of(pv, policy);
  return facts;
}

attachment_facts facts_of(const volume_attachment_object& va, const std::string& driver) {
  attachment_facts facts;
  facts.created = va.created;
  facts.published_at = va.published_at;
  facts.ours = va.attacher == driver;
  facts.attached = va.attached;
  facts.deleting = va.deleting;
  return facts;
}

caf::timestamp attached_since(const attachment_facts& va) {
  // The publish time is later than the creation (the attach follows it) and has nanoseconds.
  return va.published_at > va.created ? va.published_at : va.created;
}

attachment_phase phase_of(const attachment_facts& va, bool deleted) {
  if (deleted || (va.deleting && !va.attached))
    return attachment_phase::gone;
  // Being deleted but still attached: Kubernetes is detaching it. The driver keeps the node until
  // the unpublish (or the deletion) comes, and never attaches it again from this object: the
  // unpublish may already have been answered before this change arrived.
  if (va.deleting)
    return attachment_phase::pending;
  return va.attached ? attachment_phase::attached : attachment_phase::pending;
}

bool change_of(const attachment_facts& va, const std::string& node, bool deleted,
               const volume_facts& pv, attachment_change& out) {
  if (!va.ours || pv.volume_handle.empty())
    return false;
  out.volume_id = pv.volume_handle;
  out.node_id = node;
  out.phase = phase_of(va, deleted);
  out.since = attached_since(va);
  out.capability = pv.capability;
  out.migration_timeout = pv.migration_timeout;
  return true;
}

cluster_inventory build_inventory(const std::vector<inventory_row>& rows) {
  // By volume handle, not by PersistentVolume: two PersistentVolumes may name the same RDS
  // volume (a copied manifest), and the volume's one actor must see the union of their
  // attachments once, not two competing states.
  std::map<std::string, observed_volume> by_volume;
  for (auto& row : rows) {
    auto& va = *row.va;
    if (!va.ours || row.pv_name->empty())
      continue;
    if (!va.attached && va.deleting)
      continue;
    auto* pv = row.pv;
    if (pv == nullptr || pv->volume_handle.empty())
      continue;
    auto& entry = by_volume[pv->volume_handle];
    // Two PersistentVolumes may name the volume: the row with the smallest PersistentVolume
    // name gives its name and facts, whatever the order of the rows. (The attachment join
    // already gives every row of a volume the same facts, those of its speaker.)
    if (entry.volume_id.empty() || *row.pv_name < entry.pv_name) {
      entry.volume_id = pv->volume_handle;
      entry.pv_name = *row.pv_name;
      entry.capability = pv->capability;
      entry.migration_timeout = pv->migration_timeout;
    }
    auto& node = *row.node;
    auto same_node = [&](const observed_attachment& n) { return n.node_id == node; };
    auto& nodes = entry.nodes;
    auto& pending = entry.pending;
    if (va.attached) {
      auto seen = std::find_if(nodes.begin(), nodes.end(), same_node);
      if (seen == nodes.end()) {
        pending.erase(std::remove(pending.begin(), pending.end(), node), pending.end());
        nodes.push_back({node, attached_since(va), va.deleting});
      } else {
        // The node through two PersistentVolumes: attached since the earlier, detaching only
        // when both are.
        seen->since = std::min(seen->since, attached_since(va));
        seen->detaching = seen->detaching && va.deleting;
      }
    } else if (std::none_of(nodes.begin(), nodes.end(), same_node)
               && std::find(pending.begin(), pending.end(), node) == pending.end()) {
      pending.push_back(node);
    }
  }
  cluster_inventory result;
  for (auto& [volume_id, volume] : by_volume) {
    std::stable_sort(
      volume.nodes.begin(), volume.nodes.end(),
      [](const observed_attachment& a, const observed_attachment& b) { return a.since < b.since; });
    if (volume.nodes.size() > 2)
      result.anomalies.push_back(volume.volume_id);
    result.volumes.push_back(std::move(volume));
  }
  return result;
}

} // namespace rds::services::kube
