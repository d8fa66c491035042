// Each message runs one watch round and queues the next, so exit messages are seen between
// rounds and the stop flag ends a round early.
#include "actors/cluster_watch.hpp"

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

/// Starts the session of `path` with the handlers and returns the watch behaviour.
template <class T, class Self>
cluster_watch_actor::behavior_type follow(Self self, const cluster_watch_config& config,
                                          const std::string& path,
                                          typename watch_session<T>::list_parser parse_list,
                                          typename watch_session<T>::event_parser parse_event,
                                          typename watch_session<T>::handlers handlers,
                                          const metrics_actor& metrics, const char* resource) {
  auto& st = self->state;
  st.client = std::make_unique<kube_client>(config.connection);
  st.session = std::make_unique<watch_session<T>>(*st.client, path, parse_list, parse_event,
                                                  std::move(handlers));
  self->send(self, watch_atom_v);
  return {
    [self, config, metrics, resource](watch_atom) {
      run_round(self, *self->state.session, config, metrics, resource);
    },
    [self, path](status_atom) {
      auto& c = self->state.session->counters();
      return watch_status{path, c.lists, c.events, c.relists, c.failures};
    },
  };
}

} // namespace

cluster_watch_actor::behavior_type
attachment_watch(cluster_watch_actor::stateful_pointer<attachment_watch_state> self,
                 cluster_watch_config config, attachment_join_actor join, metrics_actor metrics) {
  auto ours = [driver = config.driver_name](const volume_attachment_object& va) {
    return va.attacher == driver && !va.pv_name.empty();
  };
  auto on_list = [self, join, ours](std::vector<volume_attachment_object>& items,
                                    caf::timestamp taken) {
    std::vector<volume_attachment_object> kept;
    for (auto& va : items)
      if (ours(va))
        kept.push_back(std::move(va));
    self->send(join, sync_atom_v, std::move(kept), taken);
    return true;
  };
  auto on_event = [self, join, ours](const volume_attachment_object& va, bool deleted) {
    if (ours(va))
      self->send(join, sync_atom_v, va, deleted);
  };
  return follow<volume_attachment_object>(
    self, config, attachments_path, parse_volume_attachment_list, parse_volume_attachment_event,
    {on_list, on_event}, metrics, "volumeattachments");
}

cluster_watch_actor::behavior_type
volume_watch(cluster_watch_actor::stateful_pointer<volume_watch_state> self,
             cluster_watch_config config, attachment_join_actor join, metrics_actor metrics) {
  // Another driver's PersistentVolume matters only as "not ours": its name and driver are kept.
  auto trimmed = [driver = config.driver_name](persistent_volume_object pv) {
    if (pv.driver == driver)
      return pv;
    persistent_volume_object other;
    other.name = std::move(pv.name);
    other.driver = std::move(pv.driver);
    return other;
  };
  auto on_list = [self, join, trimmed](std::vector<persistent_volume_object>& items,
                                       caf::timestamp) {
    std::vector<persistent_volume_object> kept;
    kept.reserve(items.size());
    for (auto& pv : items)
      kept.push_back(trimmed(std::move(pv)));
    self->send(join, sync_atom_v, std::move(kept));
    return true;
  };
  auto on_event = [self, join, trimmed](const persistent_volume_object& pv, bool deleted) {
    self->send(join, sync_atom_v, trimmed(pv), deleted);
  };
  return follow<persistent_volume_object>(self, config, volumes_path, parse_persistent_volume_list,
                                          parse_persistent_volume_event, {on_list, on_event},
                                          metrics, "persistentvolumes");
}

cluster_watch_actor::behavior_type
node_watch(cluster_watch_actor::stateful_pointer<node_watch_state> self,
           cluster_watch_config config, volume_supervisor_actor supervisor, metrics_actor metrics) {
  auto on_list = [self, supervisor](std::vector<node_object>& items, caf::timestamp) {
    std::vector<std::string> names;
    for (auto& n : items)
      names.push_back(n.name);
    self->send(supervisor, nodes_atom_v, std::move(names));
    return true;
  };
  auto on_event = [self, supervisor](const node_object& node, bool deleted) {
    self->send(supervisor, nodes_atom_v, node.name, !deleted);
  };
  return follow<node_object>(self, config, nodes_path, parse_node_list, parse_node_event,
                             {on_list, on_event}, metrics, "nodes");
}

} // namespace rds::actors
