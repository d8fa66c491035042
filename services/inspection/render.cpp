// The inspection port's JSON, field by field.
#include "services/inspection/render.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "messages/error_code.hpp"
#include "services/inspection/query.hpp"

namespace rds::services::inspection {

caf::timestamp clock_pair::wall_of(clock_offset at) const {
  return wall_now - std::chrono::duration_cast<caf::timestamp::duration>(now - at);
}

std::string rfc3339(caf::timestamp t) {
  using namespace std::chrono;
  auto since = t.time_since_epoch();
  auto secs = duration_cast<seconds>(since);
  auto millis = duration_cast<std::chrono::milliseconds>(since - secs).count();
  if (millis < 0) {
    secs -= seconds{1};
    millis += 1000;
  }
  std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

double milliseconds(caf::timespan t) {
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t).count();
  return static_cast<double>(micros) / 1000.0;
}

void key(json_writer& w, const char* name) {
  w.Key(name);
}

void field(json_writer& w, const char* name, const std::string& value) {
  w.Key(name);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void field(json_writer& w, const char* name, const char* value) {
  w.Key(name);
  w.String(value);
}

void field(json_writer& w, const char* name, uint64_t value) {
  w.Key(name);
  w.Uint64(value);
}

void field(json_writer& w, const char* name, bool value) {
  w.Key(name);
  w.Bool(value);
}

void field_ms(json_writer& w, const char* name, caf::timespan value) {
  w.Key(name);
  w.Double(milliseconds(value));
}

namespace {

/// Requests listed at most in one status answer (as the join lists at most 100 waiting).
constexpr size_t listed_at_most = 100;

/// A wall-clock time, or "" for none (a zero timestamp).
void time_field(json_writer& w, const char* name, caf::timestamp t) {
  field(w, name, t == caf::timestamp{} ? std::string{} : rfc3339(t));
}

void strings(json_writer& w, const char* name, const std::vector<std::string>& values) {
  w.Key(name);
  w.StartArray();
  for (auto& v : values)
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  w.EndArray();
}

} // namespace

void render(json_writer& w, const supervisor_status& s) {
  w.StartObject();
  field(w, "volume_actors", s.volume_actors);
  field(w, "attached", s.attached);
  field(w, "migrating", s.migrating);
  field(w, "restarts", s.restarts);
  field(w, "in_flight", s.in_flight);
  field(w, "ready", s.ready);
  field(w, "deferred", s.deferred);
  field(w, "stale_ignored", s.stale_ignored);
  field(w, "volumes", s.volumes);
  field(w, "dormant", s.dormant);
  field(w, "hibernations", s.hibernations);
  field(w, "revivals", s.revivals);
  field(w, "hibernations_abandoned", s.hibernations_abandoned);
  field(w, "retiring", s.retiring);
  field(w, "spare", s.spare);
  w.EndObject();
}

void render(json_writer& w, const metrics_status& s) {
  w.StartObject();
  field(w, "listen_address", s.listen_address);
  field(w, "error", s.error);
  w.EndObject();
}

void render(json_writer& w, const rds_status& s) {
  w.StartObject();
  field(w, "breaker", s.breaker);
  field(w, "breaker_since",
        s.breaker_since == caf::timestamp{} ? std::string{} : rfc3339(s.breaker_since));
  w.Key("copying");
  w.StartArray();
  for (size_t i = 0; i < s.copying.size() && i < listed_at_most; ++i)
    w.String(s.copying[i].c_str(), static_cast<rapidjson::SizeType>(s.copying[i].size()));
  w.EndArray();
  field(w, "requests_in_flight", static_cast<uint64_t>(s.in_flight.size()));
  // The answer stays small however many requests queue up: the oldest ones (the running one
  // first), the count above tells the rest.
  w.Key("in_flight");
  w.StartArray();
  for (size_t i = 0; i < s.in_flight.size() && i < listed_at_most; ++i)
    render(w, s.in_flight[i]);
  w.EndArray();
  w.Key("copies");
  w.StartArray();
  for (size_t i = 0; i < s.copies.size() && i < listed_at_most; ++i)
    render(w, s.copies[i]);
  w.EndArray();
  field(w, "answered", s.answered);
  w.EndObject();
}

void render(json_writer& w, const watch_status& s) {
  w.StartObject();
  field(w, "resource", s.resource);
  field(w, "lists", s.lists);
  field(w, "events", s.events);
  field(w, "relists", s.relists);
  field(w, "failures", s.failures);
  field(w, "resource_version", s.resource_version);
  time_field(w, "last_event", s.last_event);
  field(w, "activity", s.activity);
  time_field(w, "activity_since", s.activity_since);
  field(w, "listed_objects", s.listed_objects);
  field(w, "last_failure", s.last_failure);
  time_field(w, "last_failure_at", s.last_failure_at);
  w.EndObject();
}

void render(json_writer& w, const join_status& s) {
  w.StartObject();
  field(w, "persistent_volumes", s.persistent_volumes);
  field(w, "attachments", s.attachments);
  field(w, "waiting", s.waiting);
  strings(w, "waiting_for", s.waiting_for);
  field(w, "deleted_while_attached", s.deleted_while_attached);
  field(w, "synced", s.synced);
  w.Key("waiting_attachments");
  w.StartArray();
  for (auto& va : s.waiting_attachments) {
    w.StartObject();
    field(w, "name", va.name);
    field(w, "persistent_volume", va.persistent_volume);
    field(w, "node", va.node);
    time_field(w, "created", va.created);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void render(json_writer& w, const events_status& s) {
  w.StartObject();
  w.Key("recorded");
  w.StartObject();
  for (auto& [reason, count] : s.recorded)
    field(w, reason.c_str(), count);
  w.EndObject();
  field(w, "posted", s.posted);
  field(w, "failed", s.failed);
  field(w, "without_claim", s.without_claim);
  field(w, "in_flight", s.in_flight);
  time_field(w, "oldest_in_flight_since", s.oldest_in_flight_since);
  field(w, "last_failure", s.last_failure);
  w.EndObject();
}

void render(json_writer& w, const catalog_status& s) {
  w.StartObject();
  field(w, "volumes_known", s.volumes_known);
  field(w, "warm", s.warm);
  field(w, "waiting", s.waiting);
  field(w, "lookups_in_flight", s.lookups_in_flight);
  w.EndObject();
}

void render(json_writer& w, const rds_request_status& s) {
  w.StartObject();
  field(w, "operation", s.operation);
  field(w, "target", s.target);
  field(w, "since", rfc3339(s.since));
  w.EndObject();
}

void render(json_writer& w, const node_volume_status& s) {
  w.StartObject();
  field(w, "volume_id", s.volume_id);
  field(w, "operation", s.operation);
  if (s.operation.empty())
    field(w, "operation_since", "");
  else
    field(w, "operation_since", rfc3339(s.operation_since));
  field(w, "device", s.device);
  field(w, "staging_path", s.staging_path);
  strings(w, "targets", s.targets);
  field(w, "last_operation", s.last_operation);
  field(w, "last_result", s.last_result);
  w.EndObject();
}

void render(json_writer& w, const node_status& s) {
  w.StartObject();
  field(w, "volume_count", static_cast<uint64_t>(s.volumes.size()));
  w.Key("volumes");
  w.StartArray();
  for (auto& v : s.states)
    render(w, v);
  w.EndArray();
  w.EndObject();
}

void render(json_writer& w, const attached_node& n, const clock_pair& clock) {
  w.StartObject();
  field(w, "node_id", n.node_id);
  field(w, "attached_at", rfc3339(clock.wall_of(n.attached_at)));
  field(w, "access", to_string(n.capability.access));
  field(w, "block", n.capability.block);
  field(w, "readonly", n.capability.readonly);
  field(w, "csi_mode", static_cast<uint64_t>(n.capability.csi_mode));
  w.EndObject();
}

namespace {

void render_timer(json_writer& w, clock_offset deadline, const clock_pair& clock) {
  field(w, "timer_deadline", rfc3339(clock.wall_of(deadline)));
  field_ms(w, "time_left_ms", std::max(deadline - clock.now, caf::timespan{0}));
}

void render_migration_with(json_writer& w, const attachment_state& s, clock_offset deadline,
                           const clock_pair& clock) {
  auto& m = s.migration;
  w.StartObject();
  field(w, "source", s.nodes.size() > 0 ? s.nodes[0].node_id : std::string{});
  field(w, "target", s.nodes.size() > 1 ? s.nodes[1].node_id : std::string{});
  field(w, "started_at", rfc3339(clock.wall_of(m.started_at)));
  field(w, "generation", m.generation);
  field(w, "timeout_seconds",
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(m.timeout).count()));
  field(w, "state", m.timed_out ? "timeout" : "running");
  field(w, "timed_out", m.timed_out);
  render_timer(w, deadline, clock);
  w.EndObject();
}

} // namespace

void render_migration(json_writer& w, const attachment_state& s, const clock_pair& clock) {
  render_migration_with(w, s, s.migration.started_at + s.migration.timeout, clock);
}

void render_fields(json_writer& w, const attachment_state& s, const clock_pair& clock) {
  field(w, "volume_id", s.volume_id);
  field(w, "access", to_string(s.access));
  bool readonly = !s.nodes.empty();
  for (auto& n : s.nodes)
    readonly = readonly && n.capability.readonly;
  field(w, "readonly", readonly);
  w.Key("nodes");
  w.StartArray();
  for (auto& n : s.nodes)
    render(w, n, clock);
  w.EndArray();
  field(w, "migrating", s.migrating);
  field(w, "timed_out", s.migrating && s.migration.timed_out);
}

void render(json_writer& w, const volume_operation& op) {
  w.StartObject();
  field(w, "kind", op.kind);
  field(w, "node_id", op.node_id);
  field(w, "result", op.result);
  field_ms(w, "duration_ms", op.duration);
  field(w, "at", rfc3339(op.at));
  w.EndObject();
}

void render(json_writer& w, const volume_inspection& v, const std::string& stale) {
  clock_pair clock{v.now, v.wall_now};
  w.StartObject();
  if (!stale.empty())
    field(w, "stale", stale);
  render_fields(w, v.state, clock);
  w.Key("migration");
  if (v.state.migrating) {
    auto deadline = v.timer_deadline != clock_offset{0}
                      ? v.timer_deadline
                      : v.state.migration.started_at + v.state.migration.timeout;
    render_migration_with(w, v.state, deadline, clock);
  } else {
    w.Null();
  }
  field(w, "timer_armed", v.timer_deadline != clock_offset{0});
  // The generation of the last migration stays meaningful after it ended: a late timer of it
  // is ignored.
  field(w, "generation", v.state.migration.generation);
  field(w, "in_flight", static_cast<uint64_t>(v.in_flight));
  field(w, "restarts", static_cast<uint64_t>(v.restarts));
  field(w, "anomaly", v.anomaly);
  // Its actor is retired while idle: this is the supervisor's record of it, ring included.
  field(w, "dormant", v.dormant);
  w.Key("recent");
  w.StartArray();
  for (auto& op : v.recent)
    render(w, op);
  w.EndArray();
  field(w, "now", rfc3339(v.wall_now));
  w.EndObject();
}

void render(json_writer& w, const volume_summary& v, const clock_pair& clock) {
  w.StartObject();
  render_fields(w, v.state, clock);
  if (v.state.migrating) {
    w.Key("migration");
    render_migration(w, v.state, clock);
  }
  field(w, "anomaly", v.anomaly);
  field(w, "restarts", static_cast<uint64_t>(v.restarts));
  w.EndObject();
}

void render(json_writer& w, const volume_page& page) {
  clock_pair clock{page.now, page.wall_now};
  w.StartObject();
  field(w, "count", static_cast<uint64_t>(page.volumes.size()));
  w.Key("volumes");
  w.StartArray();
  for (auto& v : page.volumes)
    render(w, v, clock);
  w.EndArray();
  // The value of `continue` for the next page; absent on the last one.
  if (!page.next_after.empty())
    field(w, "continue", page.next_after);
  field(w, "now", rfc3339(page.wall_now));
  w.EndObject();
}

void render_migrations(json_writer& w, const volume_page& page) {
  clock_pair clock{page.now, page.wall_now};
  w.StartObject();
  field(w, "count", static_cast<uint64_t>(page.volumes.size()));
  field(w, "total", page.total);
  w.Key("migrations");
  w.StartArray();
  for (auto& v : page.volumes) {
    auto& s = v.state;
    auto& m = s.migration;
    w.StartObject();
    field(w, "volume_id", s.volume_id);
    field(w, "source", s.nodes.size() > 0 ? s.nodes[0].node_id : std::string{});
    field(w, "target", s.nodes.size() > 1 ? s.nodes[1].node_id : std::string{});
    field(w, "started_at", rfc3339(clock.wall_of(m.started_at)));
    field(w, "generation", m.generation);
    field(
      w, "timeout_seconds",
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(m.timeout).count()));
    field(w, "timed_out", m.timed_out);
    render_timer(w, m.started_at + m.timeout, clock);
    field(w, "anomaly", v.anomaly);
    w.EndObject();
  }
  w.EndArray();
  // The value of `continue` for the next page; absent on the last one.
  if (!page.next_after.empty() && !page.volumes.empty()) {
    auto& last = page.volumes.back().state;
    field(w, "continue",
          migration_position((last.migration.started_at + last.migration.timeout).count(),
                             last.volume_id));
  }
  field(w, "now", rfc3339(page.wall_now));
  w.EndObject();
}

void render(json_writer& w, const state_change& c) {
  w.StartObject();
  field(w, "sequence", c.sequence);
  field(w, "at", rfc3339(c.at));
  field(w, "kind", c.kind);
  field(w, "volume_id", c.volume_id);
  strings(w, "nodes", c.nodes);
  field(w, "result", c.result);
  field(w, "detail", c.detail);
  w.EndObject();
}

std::string server_sent_events(const state_changes& changes) {
  std::string out;
  if (changes.dropped > 0)
    out += "event: dropped\ndata: {\"dropped\":" + std::to_string(changes.dropped) + "}\n\n";
  for (auto& c : changes.changes) {
    rapidjson::StringBuffer buffer;
    json_writer w{buffer};
    render(w, c);
    // The kind is one of a fixed set of words; a line break in it would end the event.
    std::string kind = c.kind;
    kind.erase(
      std::remove_if(kind.begin(), kind.end(), [](char ch) { return ch == '\n' || ch == '\r'; }),
      kind.end());
    out += "id: " + std::to_string(c.sequence) + "\nevent: " + kind
           + "\ndata: " + buffer.GetString() + "\n\n";
  }
  return out;
}

std::string error_json(const std::string& why) {
  rapidjson::StringBuffer buffer;
  json_writer w{buffer};
  w.StartObject();
  field(w, "error", why);
  w.EndObject();
  return buffer.GetString();
}

} // namespace rds::services::inspection
