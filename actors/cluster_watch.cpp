// The watch keeps its worker's last report; the worker runs one round per message and queues
// the next, so exit messages are seen between rounds and the stop flag ends a round early.
#include "actors/cluster_watch.hpp"
#include "actors/thread_crypto.hpp"

#include "services/log/log.hpp"

namespace rds::actors {

namespace {

using namespace services::kube;

const std::string attachments_path = "/apis/storage.k8s.io/v1/volumeattachments";
const std::string volumes_path = "/api/v1/persistentvolumes";
const std::string nodes_path = "/api/v1/nodes";

template <class T>
using worker_pointer = watch_worker_actor::stateful_pointer<watch_worker_state<T>>;

/// The status of `path` after `p`, doing `activity` (empty: what the session says).
watch_status status_of(const std::string& path, const watch_progress& p, const char* activity,
                       caf::timestamp since) {
  watch_status s;
  s.resource = path;
  s.lists = p.counters.lists;
  s.events = p.counters.events;
  s.relists = p.counters.relists;
  s.failures = p.counters.failures;
  s.resource_version = p.resource_version;
  s.last_event = p.last_event;
  s.activity = activity != nullptr ? activity : p.activity;
  s.activity_since = activity != nullptr ? since : p.activity_since;
  s.listed_objects = p.listed_objects;
  s.last_failure = p.last_failure;
  s.last_failure_at = p.last_failure_at;
  return s;
}

/// Runs one round and queues the next one (after a backoff if it failed).
template <class T>
void run_round(worker_pointer<T> self, const cluster_watch_config& config,
               const metrics_actor& metrics, const cluster_watch_actor& watch,
               const std::string& path, const char* resource) {
  auto& session = *self->state.session;
  auto report = [&](const char* activity) {
    self->send(watch, status_of(path, session.progress(), activity, caf::make_timestamp()));
  };
  if (config.stopping->load()) {
    report("stopped");
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
    report("stopped");
    self->quit();
    return;
  }
  if (ok) {
    self->send(self, watch_atom_v);
  } else {
    report("backing off");
    self->delayed_send(self, config.backoff, watch_atom_v);
  }
}

/// The worker of one watch: `make_handlers(self)` gives the session's list and event handlers,
/// which send from the worker.
template <class T, class MakeHandlers>
watch_worker_actor::behavior_type
watch_worker(worker_pointer<T> self, cluster_watch_config config, std::string path,
             typename watch_session<T>::list_parser parse_list,
             typename watch_session<T>::event_parser parse_event, MakeHandlers make_handlers,
             metrics_actor metrics, const char* resource, cluster_watch_actor watch) {
  auto& st = self->state;
  typename watch_session<T>::handlers handlers = make_handlers(self);
  handlers.on_progress = [self, watch, path] {
    self->send(watch, status_of(path, self->state.session->progress(), nullptr, {}));
  };
  st.client = std::make_unique<kube_client>(config.connection);
  st.session = std::make_unique<watch_session<T>>(*st.client, path, parse_list, parse_event,
                                                  std::move(handlers));
  release_thread_crypto_on_exit(self);
  self->send(self, watch_atom_v);
  return {
    [self, config, metrics, watch, path, resource](watch_atom) {
      run_round<T>(self, config, metrics, watch, path, resource);
    },
  };
}

/// Spawns the worker of `path` (detached, linked) and returns the watch behaviour.
template <class T, class State, class MakeHandlers>
cluster_watch_actor::behavior_type
follow(cluster_watch_actor::stateful_pointer<State> self, const cluster_watch_config& config,
       const std::string& path, typename watch_session<T>::list_parser parse_list,
       typename watch_session<T>::event_parser parse_event, MakeHandlers make_handlers,
       const metrics_actor& metrics, const char* resource) {
  auto& status = self->state.status;
  status.resource = path;
  status.activity = "starting";
  status.activity_since = caf::make_timestamp();
  self->template spawn<caf::detached + caf::linked>(
    watch_worker<T, MakeHandlers>, config, path, parse_list, parse_event, std::move(make_handlers),
    metrics, resource, caf::actor_cast<cluster_watch_actor>(self));
  return {
    [self](watch_status& report) { self->state.status = std::move(report); },
    [self](status_atom) {
      auto s = self->state.status;
      s.mailbox = own_mailbox(self);
      return s;
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
  auto handlers = [join, ours](auto worker) {
    auto on_list = [worker, join, ours](std::vector<volume_attachment_object>& items,
                                        caf::timestamp taken) {
      std::vector<volume_attachment_object> kept;
      for (auto& va : items)
        if (ours(va))
          kept.push_back(std::move(va));
      worker->send(join, sync_atom_v, std::move(kept), taken);
      return true;
    };
    auto on_event = [worker, join, ours](const volume_attachment_object& va, bool deleted) {
      if (ours(va))
        worker->send(join, sync_atom_v, va, deleted);
    };
    return watch_session<volume_attachment_object>::handlers{on_list, on_event, {}};
  };
  return follow<volume_attachment_object>(
    self, config, attachments_path, parse_volume_attachment_list, parse_volume_attachment_event,
    handlers, metrics, "volumeattachments");
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
  auto handlers = [join, trimmed](auto worker) {
    auto on_list = [worker, join, trimmed](std::vector<persistent_volume_object>& items,
                                           caf::timestamp) {
      std::vector<persistent_volume_object> kept;
      kept.reserve(items.size());
      for (auto& pv : items)
        kept.push_back(trimmed(std::move(pv)));
      worker->send(join, sync_atom_v, std::move(kept));
      return true;
    };
    auto on_event = [worker, join, trimmed](const persistent_volume_object& pv, bool deleted) {
      worker->send(join, sync_atom_v, trimmed(pv), deleted);
    };
    return watch_session<persistent_volume_object>::handlers{on_list, on_event, {}};
  };
  return follow<persistent_volume_object>(self, config, volumes_path, parse_persistent_volume_list,
                                          parse_persistent_volume_event, handlers, metrics,
                                          "persistentvolumes");
}

cluster_watch_actor::behavior_type
node_watch(cluster_watch_actor::stateful_pointer<node_watch_state> self,
           cluster_watch_config config, volume_supervisor_actor supervisor, metrics_actor metrics) {
  auto handlers = [supervisor](auto worker) {
    auto on_list = [worker, supervisor](std::vector<node_object>& items, caf::timestamp) {
      std::vector<std::string> names;
      for (auto& n : items)
        names.push_back(n.name);
      worker->send(supervisor, nodes_atom_v, std::move(names));
      return true;
    };
    auto on_event = [worker, supervisor](const node_object& node, bool deleted) {
      worker->send(supervisor, nodes_atom_v, node.name, !deleted);
    };
    return watch_session<node_object>::handlers{on_list, on_event, {}};
  };
  return follow<node_object>(self, config, nodes_path, parse_node_list, parse_node_event, handlers,
                             metrics, "nodes");
}

} // namespace rds::actors
