// Event posting. Reasons and messages come from the volume actor; this actor only knows where
// they go.
#include "actors/events.hpp"

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

events_state::events_state() = default;
events_state::~events_state() = default;

std::string event_json(const volume_event& event, const volume_claim& claim,
                       const events_config& config, const std::string& now) {
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
  field("generateName", claim.claim_name + ".");
  field("namespace", claim.claim_namespace);
  w.EndObject();
  w.Key("involvedObject");
  w.StartObject();
  field("apiVersion", "v1");
  field("kind", "PersistentVolumeClaim");
  field("namespace", claim.claim_namespace);
  field("name", claim.claim_name);
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

events_actor::behavior_type events(events_actor::stateful_pointer<events_state> self,
                                   events_config config, metrics_actor metrics) {
  if (config.connection)
    self->state.client = std::make_unique<services::kube::kube_client>(
      *config.connection, services::kube::retry_policy{2});
  return {
    [self, config, metrics](const volume_event& event) {
      auto& st = self->state;
      ++st.status.recorded[event.reason];
      log::debug(log::volume(event.volume_id), "volume event ", event.reason, ": ", event.message);
      if (!st.client)
        return;
      auto claim = st.claims.find(event.volume_id);
      if (claim == st.claims.end() || claim->second.claim_name.empty()) {
        ++st.status.without_claim;
        return;
      }
      auto& c = claim->second;
      auto r =
        st.client->request("POST", "/api/v1/namespaces/" + c.claim_namespace + "/events",
                           event_json(event, c, config, rfc3339_now()), config.post_deadline);
      if (r.status.ok()) {
        ++st.status.posted;
      } else {
        ++st.status.failed;
        log::warning(log::volume(event.volume_id), "cannot post Event ", event.reason, ": ",
                     r.status.message);
      }
      self->send(metrics, event_posted{event.reason, r.status.ok()});
    },
    [self](claims_atom, const std::vector<volume_claim>& claims) {
      // A claim without namespace and name: the volume's PV is gone, and so is its entry.
      for (auto& c : claims)
        if (c.claim_namespace.empty() && c.claim_name.empty())
          self->state.claims.erase(c.volume_id);
        else
          self->state.claims[c.volume_id] = c;
    },
    [self](status_atom) { return self->state.status; },
  };
}

} // namespace rds::actors
