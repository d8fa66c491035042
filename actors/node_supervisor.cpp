// Spawn on demand, forget on exit, delegate.
#include "actors/node_supervisor.hpp"

#include "actors/node_volume.hpp"

namespace rds::actors {

namespace {

using self_pointer = node_supervisor_actor::stateful_pointer<node_supervisor_state>;

node_volume_actor volume_of(self_pointer self, const node_config& config,
                            const metrics_actor& metrics, const std::string& volume_id) {
  auto& slot = self->state.volumes[volume_id];
  if (!slot) {
    // Linked: they end with the supervisor.
    slot = self->spawn<caf::linked>(node_volume, volume_id, config, metrics,
                                    caf::actor_cast<node_volume_listener>(self));
  }
  return slot;
}

} // namespace

node_supervisor_actor::behavior_type node_supervisor(self_pointer self, node_config config,
                                                     metrics_actor metrics) {
  // A node_volume that ended is forgotten (the next call spawns it again); an exit from anyone
  // else (shutdown) ends the supervisor and, through the links, every node_volume.
  self->set_exit_handler([self](caf::exit_msg& exit) {
    for (auto i = self->state.volumes.begin(); i != self->state.volumes.end(); ++i)
      if (i->second.address() == exit.source) {
        self->state.states.erase(i->first);
        self->state.volumes.erase(i);
        return;
      }
    self->quit(exit.reason);
  });
  auto route = [self, config, metrics](const std::string& volume_id) {
    return volume_of(self, config, metrics, volume_id);
  };
  return {
    [=](stage_atom a, const stage_request& req) {
      return self->delegate(route(req.volume_id), a, req);
    },
    [=](unstage_atom a, const unstage_request& req) {
      return self->delegate(route(req.volume_id), a, req);
    },
    [=](publish_atom a, const node_publish_request& req) {
      return self->delegate(route(req.volume_id), a, req);
    },
    [=](unpublish_atom a, const node_unpublish_request& req) {
      return self->delegate(route(req.volume_id), a, req);
    },
    [=](stats_atom a, const volume_path_request& req) {
      return self->delegate(route(req.volume_id), a, req);
    },
    [=](expand_atom a, const volume_path_request& req) {
      return self->delegate(route(req.volume_id), a, req);
    },
    [self](status_atom) {
      node_status status;
      for (auto& [volume_id, actor] : self->state.volumes) {
        status.volumes.push_back(volume_id);
        auto state = self->state.states.find(volume_id);
        if (state != self->state.states.end()) {
          status.states.push_back(state->second);
        } else {
          node_volume_status fresh;
          fresh.volume_id = volume_id;
          status.states.push_back(std::move(fresh));
        }
      }
      status.mailbox = own_mailbox(self);
      return status;
    },
    [self](node_volume_status& reported) {
      // A report may come after its actor ended: only volumes with an actor are kept.
      if (self->state.volumes.count(reported.volume_id) != 0)
        self->state.states[reported.volume_id] = std::move(reported);
    },
  };
}

} // namespace rds::actors
