// The inspector's fan-out: one status request per actor, each with the deadline; the answer is
// built when the last reply or timeout is in.
#include "actors/inspector.hpp"

#include <caf/actor_cast.hpp>
#include <caf/sec.hpp>

#include <functional>
#include <memory>

#include "services/inspection/query.hpp"
#include "services/inspection/render.hpp"

namespace rds::actors {

using services::inspection::error_json;
using services::inspection::field;
using services::inspection::field_ms;
using services::inspection::json_writer;

std::string no_answer(const caf::error& e, caf::timespan timeout) {
  if (e == caf::sec::request_timeout)
    return "no answer within "
           + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count())
           + " ms";
  return "no answer: " + to_string(e);
}

namespace {

using inspector_pointer = inspector_actor::stateful_pointer<inspector_state>;

/// One actor asked for one answer.
struct slot {
  std::string actor;
  std::string kind;
  bool answered = false;
  /// The rendered status (JSON) when answered; why not otherwise.
  std::string json{};
  std::string error{};
  caf::timespan took{0};
  /// The actor's own mailbox depth as it answered; -1: it does not report it.
  int64_t mailbox = -1;
};

/// The answers of one fan-out, filled as they come in.
struct gathering {
  caf::typed_response_promise<debug_answer> promise;
  std::vector<slot> slots;
  size_t pending = 0;
  /// Builds the answer once every slot is filled.
  std::function<debug_answer(gathering&)> finish;
  // What /debug/actors counts from the answers.
  bool supervisor_answered = false;
  supervisor_status supervisor;
  bool node_answered = false;
  uint64_t node_volumes = 0;
  bool rds_answered = false;
  uint64_t copies = 0;

  void one_done() {
    if (--pending == 0)
      promise.deliver(finish(*this));
  }
};

using gathering_ptr = std::shared_ptr<gathering>;

std::string rendered(const std::function<void(json_writer&)>& render) {
  rapidjson::StringBuffer buffer;
  json_writer w{buffer};
  render(w);
  return buffer.GetString();
}

/// The mailbox depth an actor reported in its status answer (see own_mailbox).
template <class Status> int64_t mailbox_of(const Status& s) {
  return s.mailbox;
}

/// Asks `handle` for its status; `render` writes the answer (and may note what it counts).
template <class Result, class Handle, class Render>
void ask_status(inspector_pointer self, const gathering_ptr& g, const Handle& handle,
                std::string actor, std::string kind, caf::timespan timeout, Render render) {
  if (!handle)
    return;
  auto index = g->slots.size();
  g->slots.push_back(slot{std::move(actor), std::move(kind)});
  ++g->pending;
  auto start = std::chrono::steady_clock::now();
  self->request(handle, timeout, status_atom_v)
    .then(
      [=](const Result& answer) {
        auto& s = g->slots[index];
        s.took = std::chrono::steady_clock::now() - start;
        s.answered = true;
        s.mailbox = mailbox_of(answer);
        s.json = rendered([&](json_writer& w) { render(w, answer); });
        g->one_done();
      },
      [=](caf::error& e) {
        auto& s = g->slots[index];
        s.took = std::chrono::steady_clock::now() - start;
        s.error = no_answer(e, timeout);
        g->one_done();
      });
}

void write_slot(json_writer& w, const slot& s) {
  w.StartObject();
  field(w, "actor", s.actor);
  field(w, "kind", s.kind);
  field(w, "answered", s.answered);
  field_ms(w, "took_ms", s.took);
  if (s.answered) {
    w.Key("mailbox");
    if (s.mailbox >= 0)
      w.Uint64(static_cast<uint64_t>(s.mailbox));
    else
      w.Null();
    w.Key("status");
    w.RawValue(s.json.c_str(), s.json.size(), rapidjson::kObjectType);
  } else {
    field(w, "error", s.error);
  }
  w.EndObject();
}

uint64_t timeout_ms(caf::timespan t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
}

/// Starts a fan-out whose answer `finish` builds; answers at once when there is nothing to ask.
caf::result<debug_answer> run(const gathering_ptr& g) {
  // The promise took over the request: the answer goes through it even when nothing is asked.
  if (g->pending == 0)
    g->promise.deliver(g->finish(*g));
  return g->promise;
}

// The singletons' status requests.

void ask_metrics(inspector_pointer self, const gathering_ptr& g, const inspector_targets& t,
                 caf::timespan timeout) {
  ask_status<metrics_status>(
    self, g, t.metrics, "metrics", "metrics", timeout,
    [](json_writer& w, const metrics_status& s) { services::inspection::render(w, s); });
}

void ask_supervisor(inspector_pointer self, const gathering_ptr& g, const inspector_targets& t,
                    caf::timespan timeout) {
  ask_status<supervisor_status>(self, g, t.supervisor, "volume_supervisor", "volume_supervisor",
                                timeout, [g](json_writer& w, const supervisor_status& s) {
                                  g->supervisor_answered = true;
                                  g->supervisor = s;
                                  services::inspection::render(w, s);
                                });
}

void ask_catalog(inspector_pointer self, const gathering_ptr& g, const inspector_targets& t,
                 caf::timespan timeout) {
  ask_status<catalog_status>(
    self, g, t.catalog, "volume_catalog", "volume_catalog", timeout,
    [](json_writer& w, const catalog_status& s) { services::inspection::render(w, s); });
}

void ask_rds(inspector_pointer self, const gathering_ptr& g, const inspector_targets& t,
             caf::timespan timeout) {
  ask_status<rds_status>(self, g, t.rds, "rds", "rds", timeout,
                         [g](json_writer& w, const rds_status& s) {
                           g->rds_answered = true;
                           g->copies = s.copying.size();
                           services::inspection::render(w, s);
                         });
}

void ask_watches(inspector_pointer self, const gathering_ptr& g, const inspector_targets& t,
                 caf::timespan timeout) {
  // Spawned in this order in main: VolumeAttachments, PersistentVolumes, Nodes.
  static const char* names[] = {"watch/volumeattachments", "watch/persistentvolumes",
                                "watch/nodes"};
  for (size_t i = 0; i < t.watches.size(); ++i)
    ask_status<watch_status>(
      self, g, t.watches[i], i < 3 ? names[i] : "watch/" + std::to_string(i), "cluster_watch",
      timeout, [](json_writer& w, const watch_status& s) { services::inspection::render(w, s); });
}

void ask_join(inspector_pointer self, const gathering_ptr& g, const inspector_targets& t,
              caf::timespan timeout) {
  ask_status<join_status>(
    self, g, t.join, "attachment_join", "attachment_join", timeout,
    [](json_writer& w, const join_status& s) { services::inspection::render(w, s); });
}

void ask_events(inspector_pointer self, const gathering_ptr& g, const inspector_targets& t,
                caf::timespan timeout) {
  ask_status<events_status>(
    self, g, t.events, "events", "events", timeout,
    [](json_writer& w, const events_status& s) { services::inspection::render(w, s); });
}

void ask_node(inspector_pointer self, const gathering_ptr& g, const inspector_targets& t,
              caf::timespan timeout) {
  ask_status<node_status>(self, g, t.node, "node_supervisor", "node_supervisor", timeout,
                          [g](json_writer& w, const node_status& s) {
                            g->node_answered = true;
                            g->node_volumes = s.volumes.size();
                            services::inspection::render(w, s);
                          });
}

void write_kind(json_writer& w, const char* kind, uint64_t count, bool known = true) {
  w.StartObject();
  field(w, "kind", kind);
  w.Key("count");
  if (known)
    w.Uint64(count);
  else
    w.Null(); // its owner did not answer in time
  w.EndObject();
}

/// /debug/actors.
caf::result<debug_answer> actors_answer(inspector_pointer self, const inspector_config& config,
                                        const inspector_targets& t) {
  auto g = std::make_shared<gathering>();
  g->promise = self->make_response_promise<debug_answer>();
  auto timeout = config.timeout;
  ask_metrics(self, g, t, timeout);
  ask_supervisor(self, g, t, timeout);
  ask_catalog(self, g, t, timeout);
  ask_rds(self, g, t, timeout);
  ask_watches(self, g, t, timeout);
  ask_join(self, g, t, timeout);
  ask_events(self, g, t, timeout);
  ask_node(self, g, t, timeout);
  g->finish = [self, t, timeout](gathering& g) {
    ++self->state.answered;
    auto json = rendered([&](json_writer& w) {
      w.StartObject();
      field(w, "timeout_ms", timeout_ms(timeout));
      w.Key("kinds");
      w.StartArray();
      write_kind(w, "inspector", 1);
      write_kind(w, "metrics", t.metrics ? 1 : 0);
      write_kind(w, "state_feed", t.feed ? 1 : 0);
      if (t.supervisor) {
        write_kind(w, "volume_supervisor", 1);
        write_kind(w, "volume", g.supervisor.volume_actors, g.supervisor_answered);
      }
      if (t.catalog)
        write_kind(w, "volume_catalog", 1);
      if (t.rds) {
        write_kind(w, "rds", 1);
        write_kind(w, "rds_copy_worker", g.copies, g.rds_answered);
      }
      if (!t.watches.empty())
        write_kind(w, "cluster_watch", t.watches.size());
      if (t.join)
        write_kind(w, "attachment_join", 1);
      if (t.events)
        write_kind(w, "events", 1);
      if (t.node) {
        write_kind(w, "node_supervisor", 1);
        write_kind(w, "node_volume", g.node_volumes, g.node_answered);
      }
      w.EndArray();
      w.Key("singletons");
      w.StartArray();
      for (auto& s : g.slots)
        write_slot(w, s);
      w.EndArray();
      // Volume actors restarted by the supervisor (null: it did not answer); none on a node.
      w.Key("restarts");
      w.StartObject();
      if (t.supervisor) {
        w.Key("volume");
        if (g.supervisor_answered)
          w.Uint64(g.supervisor.restarts);
        else
          w.Null();
      }
      w.EndObject();
      w.Key("inspector");
      w.StartObject();
      field(w, "answered", self->state.answered);
      // CAF lets an actor count only its own mailbox (see own_mailbox).
      field(w, "mailbox", static_cast<uint64_t>(self->mailbox().size()));
      w.EndObject();
      w.EndObject();
    });
    return debug_answer{200, json};
  };
  return run(g);
}

/// A fan-out over some singletons whose answer is {"timeout_ms", <name>: [slots]}.
caf::result<debug_answer> singletons_answer(inspector_pointer self, caf::timespan timeout,
                                            const char* title,
                                            std::function<void(const gathering_ptr&)> ask) {
  auto g = std::make_shared<gathering>();
  g->promise = self->make_response_promise<debug_answer>();
  ask(g);
  g->finish = [self, timeout, title](gathering& g) {
    ++self->state.answered;
    return debug_answer{200, rendered([&](json_writer& w) {
                          w.StartObject();
                          field(w, "timeout_ms", timeout_ms(timeout));
                          w.Key(title);
                          w.StartArray();
                          for (auto& s : g.slots)
                            write_slot(w, s);
                          w.EndArray();
                          w.EndObject();
                        })};
  };
  return run(g);
}

debug_answer not_served(const char* what) {
  return debug_answer{404, error_json(what)};
}

debug_answer supervisor_failed(const caf::error& e, caf::timespan timeout) {
  return debug_answer{503, error_json("volume_supervisor: " + no_answer(e, timeout))};
}

} // namespace

inspector_actor::behavior_type inspector(inspector_pointer self, inspector_config config,
                                         inspector_targets targets) {
  return {
    [=](inspect_atom, const debug_request& request) -> caf::result<debug_answer> {
      auto timeout = config.timeout;
      auto& supervisor = targets.supervisor;
      switch (request.endpoint) {
      case debug_endpoint::actors:
        return actors_answer(self, config, targets);
      case debug_endpoint::watches:
        if (!targets.supervisor)
          return not_served("/debug/watches: this plugin runs no controller (--mode=node)");
        return singletons_answer(self, timeout, "watches", [=](const gathering_ptr& g) {
          ask_watches(self, g, targets, timeout);
          ask_join(self, g, targets, timeout);
        });
      case debug_endpoint::rds:
        if (!targets.rds)
          return not_served("/debug/rds: this plugin runs no controller (--mode=node)");
        return singletons_answer(self, timeout, "rds", [=](const gathering_ptr& g) {
          ask_rds(self, g, targets, timeout);
          ask_catalog(self, g, targets, timeout);
        });
      case debug_endpoint::node:
        if (!targets.node)
          return not_served("/debug/node: this plugin runs no node service (--mode=controller)");
        return singletons_answer(self, timeout, "node", [=](const gathering_ptr& g) {
          ask_node(self, g, targets, timeout);
        });
      case debug_endpoint::volumes:
      case debug_endpoint::migrations: {
        if (!targets.supervisor)
          return not_served("volumes live in the controller; this plugin runs none (--mode=node)");
        auto promise = self->make_response_promise<debug_answer>();
        auto migrations = request.endpoint == debug_endpoint::migrations;
        auto answer = [=](const volume_page& page) mutable {
          ++self->state.answered;
          promise.deliver(debug_answer{200, rendered([&](json_writer& w) {
                                         if (migrations)
                                           services::inspection::render_migrations(w, page);
                                         else
                                           services::inspection::render(w, page);
                                       })});
        };
        auto failed = [=](caf::error& e) mutable {
          promise.deliver(supervisor_failed(e, timeout));
        };
        if (migrations) {
          migrations_page_request req;
          req.limit = request.page.limit;
          // The query parser checked the token's shape.
          req.has_after = !request.page.after.empty()
                          && services::inspection::parse_migration_position(
                            request.page.after, req.after_deadline_ns, req.after_id);
          self->request(supervisor, timeout, inspect_atom_v, req).then(answer, failed);
        } else {
          self->request(supervisor, timeout, inspect_atom_v, request.page).then(answer, failed);
        }
        return promise;
      }
      case debug_endpoint::volume: {
        if (!targets.supervisor)
          return not_served("volumes live in the controller; this plugin runs none (--mode=node)");
        auto promise = self->make_response_promise<debug_answer>();
        self->request(supervisor, timeout, inspect_atom_v, request.volume_id)
          .then(
            [=](const outcome& result, const volume_inspection& v) mutable {
              ++self->state.answered;
              if (result.code == ec::not_found) {
                promise.deliver(debug_answer{404, error_json(result.message)});
                return;
              }
              // Unavailable: the volume's actor did not answer in time; the supervisor's last
              // known state is shown, marked stale.
              auto stale = result.ok() ? std::string{} : result.message;
              promise.deliver(debug_answer{
                200, rendered([&](json_writer& w) { services::inspection::render(w, v, stale); })});
            },
            [=](caf::error& e) mutable { promise.deliver(supervisor_failed(e, timeout)); });
        return promise;
      }
      }
      return debug_answer{500, error_json("unknown endpoint")};
    },
  };
}

} // namespace rds::actors
