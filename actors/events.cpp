// Event posting. Reasons and messages come from the volume actor; this actor only knows where
// they go.
#include "actors/events.hpp"
#include "actors/thread_crypto.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>

#include "services/kube/kube_client.hpp"
#include "services/log/log.hpp"

namespace rds::actors {

namespace {

std::string rfc3339_now() {
  auto t = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

} // namespace

events_poster_state::events_poster_state() = default;
events_poster_state::~events_poster_state() = default;

std::string event_json(const volume_event& event, const std::string& claim_namespace,
                       const std::string& claim_name, const events_config& config,
                       const std::string& now) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto field = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  field("apiVersion", "v1");
  field("kind", "Event");
  w.Key("metadata");
  w.StartObject();
  field("generateName", claim_name + ".");
  field("namespace", claim_namespace);
  w.EndObject();
  w.Key("involvedObject");
  w.StartObject();
  field("apiVersion", "v1");
  field("kind", "PersistentVolumeClaim");
  field("namespace", claim_namespace);
  field("name", claim_name);
  w.EndObject();
  field("reason", event.reason);
  field("message", "[" + event.volume_id + "] " + event.message);
  field("type", event.warning ? "Warning" : "Normal");
  w.Key("source");
  w.StartObject();
  field("component", config.component);
  w.EndObject();
  field("reportingComponent", config.component);
  field("reportingInstance", config.instance);
  field("firstTimestamp", now);
  field("lastTimestamp", now);
  w.Key("count");
  w.Int(1);
  w.EndObject();
  return buf.GetString();
}

namespace {

/// Posts one Event at a time on its own client; once `stopping` is set, drops what is queued.
events_poster_actor::behavior_type
events_poster(events_poster_actor::stateful_pointer<events_poster_state> self,
              services::kube::kube_config connection, std::chrono::milliseconds deadline,
              std::shared_ptr<std::atomic<bool>> stopping) {
  self->state.client =
    std::make_unique<services::kube::kube_client>(connection, services::kube::retry_policy{2});
  self->state.stopping = std::move(stopping);
  release_thread_crypto_on_exit(self);
  // The link's exit message is queued behind the posts handed over before it: by the time it is
  // handled, every one of them was either posted or dropped.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (self->state.dropped > 0)
      log::info("shutting down: ", self->state.dropped, " Kubernetes Events not posted (dropped)");
    self->quit(msg.reason);
  });
  return {
    [self, deadline](post_atom, const std::string& path, const std::string& body) {
      auto& st = self->state;
      if (st.stopping->load()) {
        ++st.dropped;
        return outcome::failure(ec::unavailable, "shutting down: Event dropped");
      }
      return st.client->request("POST", path, body, deadline).status;
    },
  };
}

} // namespace

events_actor::behavior_type events(events_actor::stateful_pointer<events_state> self,
                                   events_config config, metrics_actor metrics) {
  // Linked: the poster ends with the events actor, after the post it is making; the posts queued
  // behind it are dropped from the moment the events actor ends (`stopping`).
  if (config.connection) {
    auto stopping = std::make_shared<std::atomic<bool>>(false);
    self->state.poster = self->spawn<caf::detached + caf::linked>(events_poster, *config.connection,
                                                                  config.post_deadline, stopping);
    self->attach_functor([stopping] { stopping->store(true); });
  }
  auto update_oldest = [self] {
    auto& st = self->state;
    st.status.in_flight = st.posting.size();
    st.status.oldest_in_flight_since =
      st.posting.empty() ? caf::timestamp{} : st.posting.begin()->second;
  };
  // Records one event, and posts it with a cluster.
  auto record = [self, config, metrics, update_oldest](const volume_event& event) {
    auto& st = self->state;
    ++st.status.recorded[event.reason];
    log::debug(log::volume(event.volume_id), "volume event ", event.reason, ": ", event.message);
    if (!st.poster)
      return;
    auto claim = st.claims.find(event.volume_id);
    if (claim == st.claims.end() || claim->second.claim_name.empty()) {
      ++st.status.without_claim;
      return;
    }
    auto& c = claim->second;
    auto id = st.next_post++;
    st.posting.emplace(id, caf::make_timestamp());
    update_oldest();
    auto done = [self, metrics, update_oldest, id, reason = event.reason,
                 volume_id = event.volume_id](const outcome& r) {
      auto& st = self->state;
      st.posting.erase(id);
      update_oldest();
      if (r.ok()) {
        ++st.status.posted;
      } else {
        ++st.status.failed;
        st.status.last_failure = reason + ": " + r.message;
        log::warning(log::volume(volume_id), "cannot post Event ", reason, ": ", r.message);
      }
      self->send(metrics, event_posted{reason, r.ok()});
    };
    self
      ->request(st.poster, caf::infinite, post_atom_v,
                "/api/v1/namespaces/" + *c.claim_namespace + "/events",
                event_json(event, *c.claim_namespace, c.claim_name, config, rfc3339_now()))
      .then([done](const outcome& r) { done(r); },
            [done](caf::error& failure) {
              done(outcome::failure(ec::internal,
                                    "the Event poster failed: " + caf::to_string(failure)));
            });
  };
  return {
    [record](const volume_events& batch) {
      for (auto& event : batch.events)
        record(event);
    },
    [self](claims_atom, const std::vector<volume_claim>& claims) {
      // A claim without namespace and name: the volume's PV is gone, and so is its entry.
      auto& st = self->state;
      for (auto& c : claims)
        if (c.claim_namespace.empty() && c.claim_name.empty())
          st.claims.erase(c.volume_id);
        else
          st.claims[c.volume_id] = {&*st.namespaces.insert(c.claim_namespace).first, c.claim_name};
    },
    [self](status_atom) {
      auto status = self->state.status;
      status.mailbox = own_mailbox(self);
      return status;
    },
  };
}

} // namespace rds::actors
