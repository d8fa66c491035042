// Each message runs one watch round and queues the next, so exit messages are seen between
// rounds and the stop flag ends a round early.
#include "actors/cluster_watch.hpp"

#include "services/kube/attachment_inventory.hpp"
#include "services/log/log.hpp"

namespace rds::actors {

namespace {

using namespace services::kube;

const std::string attachments_path = "/apis/storage.k8s.io/v1/volumeattachments";
const std::string volumes_path = "/api/v1/persistentvolumes";
const std::string nodes_path = "/api/v1/nodes";

/// Runs one round and queues the next one (after a backoff if it failed).
template <class Self, class Session>
void run_round(Self self, Session& session, const cluster_watch_config& config,
               const metrics_actor& metrics, const char* resource) {
  if (config.stopping->load()) {
    self->quit();
    return;
  }
  auto before = session.counters();
  auto ok =
    session.round(*config.stopping, config.watch_limit, config.call_deadline, config.page_size);
  auto& after = session.counters();
  if (after.relists != before.relists || after.failures != before.failures)
    self->send(metrics, watch_trouble{resource, after.relists - before.relists,
                                      after.failures - before.failures});
  if (config.stopping->load()) {
    self->quit();
    return;
  }
  if (ok)
    self->send(self, watch_atom_v);
  else
    self->delayed_send(self, config.backoff, watch_atom_v);
}

template <class Session>
watch_status status_of(const std::string& resource, const Session& session) {
  auto& c = session.counters();
  return watch_status{resource, c.lists, c.events, c.relists, c.failures};
}

} // namespace

cluster_watch_actor::behavior_type
attachment_watch(cluster_watch_actor::stateful_pointer<attachment_watch_state> self,
                 cluster_watch_config config, volume_supervisor_actor supervisor,
                 metrics_actor metrics, events_actor events) {
  auto& st = self->state;
  st.client = std::make_unique<kube_client>(config.connection);
  auto claims_of = [config](const persistent_volume_object& pv) {
    return volume_claim{pv.volume_handle, pv.claim_namespace, pv.claim_name};
  };
  auto on_list = [self, config, supervisor, events,
                  claims_of](std::vector<volume_attachment_object>& items) {
    std::vector<persistent_volume_object> pvs;
    std::string version;
    auto listed = list_all(*self->state.client, volumes_path, config.page_size,
                           config.call_deadline, parse_persistent_volume_list, pvs, version);
    if (!listed.ok()) {
      log::warning("cannot list PersistentVolumes: ", listed.message);
      return false;
    }
    self->state.volumes.clear();
    std::vector<volume_claim> claims;
    for (auto& pv : pvs) {
      if (pv.driver == config.driver_name)
        claims.push_back(claims_of(pv));
      self->state.volumes.emplace(pv.name, std::move(pv));
    }
    self->send(events, claims_atom_v, std::move(claims));
    auto inventory =
      build_inventory(items, self->state.volumes, config.driver_name, config.migrations);
    self->send(supervisor, sync_atom_v, std::move(inventory));
    return true;
  };
  auto on_event = [self, config, supervisor, events, claims_of](const volume_attachment_object& va,
                                                                bool deleted) {
    if (va.attacher != config.driver_name || va.pv_name.empty())
      return;
    auto pv = self->state.volumes.find(va.pv_name);
    if (pv == self->state.volumes.end()) {
      auto r = self->state.client->get(volumes_path + "/" + va.pv_name, config.call_deadline);
      persistent_volume_object fetched;
      if (!r.status.ok() || !parse_persistent_volume(r.body, fetched).ok()) {
        log::warning("VolumeAttachment ", va.name, " names PersistentVolume ", va.pv_name,
                     " that cannot be read: ", r.status.message);
        return;
      }
      pv = self->state.volumes.emplace(va.pv_name, std::move(fetched)).first;
      if (pv->second.driver == config.driver_name)
        self->send(events, claims_atom_v, std::vector<volume_claim>{claims_of(pv->second)});
    }
    attachment_change change;
    if (change_of(va, deleted, pv->second, config.driver_name, config.migrations, change))
      self->send(supervisor, sync_atom_v, std::move(change));
  };
  st.session = std::make_unique<watch_session<volume_attachment_object>>(
    *st.client, attachments_path, parse_volume_attachment_list, parse_volume_attachment_event,
    watch_session<volume_attachment_object>::handlers{on_list, on_event});
  self->send(self, watch_atom_v);
  return {
    [self, config, metrics](watch_atom) {
      run_round(self, *self->state.session, config, metrics, "volumeattachments");
    },
    [self](status_atom) { return status_of(attachments_path, *self->state.session); },
  };
}

cluster_watch_actor::behavior_type
node_watch(cluster_watch_actor::stateful_pointer<node_watch_state> self,
           cluster_watch_config config, volume_supervisor_actor supervisor, metrics_actor metrics) {
  auto& st = self->state;
  st.client = std::make_unique<kube_client>(config.connection);
  auto on_list = [self, supervisor](std::vector<node_object>& items) {
    std::vector<std::string> names;
    for (auto& n : items)
      names.push_back(n.name);
    self->send(supervisor, nodes_atom_v, std::move(names));
    return true;
  };
  auto on_event = [self, supervisor](const node_object& node, bool deleted) {
    self->send(supervisor, nodes_atom_v, node.name, !deleted);
  };
  st.session = std::make_unique<watch_session<node_object>>(
    *st.client, nodes_path, parse_node_list, parse_node_event,
    watch_session<node_object>::handlers{on_list, on_event});
  self->send(self, watch_atom_v);
  return {
    [self, config, metrics](watch_atom) {
      run_round(self, *self->state.session, config, metrics, "nodes");
    },
    [self](status_atom) { return status_of(nodes_path, *self->state.session); },
  };
}

} // namespace rds::actors
