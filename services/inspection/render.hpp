// JSON of the inspection port (RapidJSON's writer): one function per status struct and value
// type, field by field, so a field added to a struct is one line here. Times on the actor clock
// are shown as wall-clock times (RFC 3339) and as time left. Nothing here may write a secret:
// the structs rendered hold none (no publish secrets, no credentials reach them).
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <vector>

#include "messages/actors.hpp"
#include "messages/inspection.hpp"

namespace rds::services::inspection {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// The actor clock's "now" and the wall clock at the same moment: turns actor-clock offsets
/// into wall-clock times.
struct clock_pair {
  clock_offset now{0};
  caf::timestamp wall_now;
  caf::timestamp wall_of(clock_offset at) const;
};

/// "2026-11-30T21:13:03.123Z".
std::string rfc3339(caf::timestamp t);
/// Milliseconds, rounded to microseconds.
double milliseconds(caf::timespan t);

void key(json_writer& w, const char* name);
void field(json_writer& w, const char* name, const std::string& value);
void field(json_writer& w, const char* name, const char* value);
void field(json_writer& w, const char* name, uint64_t value);
void field(json_writer& w, const char* name, bool value);
void field_ms(json_writer& w, const char* name, caf::timespan value);

// The singletons' status answers.
void render(json_writer& w, const supervisor_status& s);
void render(json_writer& w, const metrics_status& s);
void render(json_writer& w, const rds_status& s);
void render(json_writer& w, const watch_status& s);
void render(json_writer& w, const join_status& s);
void render(json_writer& w, const events_status& s);
/// The volume catalog: the volumes it knows, whether it is warm, what it holds and asks.
void render(json_writer& w, const catalog_status& s);
void render(json_writer& w, const rds_request_status& s);
/// The node supervisor: its volumes, each as its node_volume actor last reported it.
void render(json_writer& w, const node_status& s);
void render(json_writer& w, const node_volume_status& s);

// Volumes.
void render(json_writer& w, const attached_node& n, const clock_pair& clock);
/// The migration of a migrating volume (with its timer: deadline, time left, generation).
void render_migration(json_writer& w, const attachment_state& s, const clock_pair& clock);
/// The fields of a volume's state, inside an object the caller opened.
void render_fields(json_writer& w, const attachment_state& s, const clock_pair& clock);
void render(json_writer& w, const volume_operation& op);
/// `stale`: why the volume's actor did not answer (the supervisor's last known state is shown).
void render(json_writer& w, const volume_inspection& v, const std::string& stale = "");
void render(json_writer& w, const volume_summary& v, const clock_pair& clock);
void render(json_writer& w, const volume_page& page);
/// /debug/migrations: a page of migrations as the supervisor gave it (soonest timer first, ties
/// by volume id); `continue` (the last one's position) is set when more remain, `total` counts
/// them all.
void render_migrations(json_writer& w, const volume_page& page);

// The live feed.
void render(json_writer& w, const state_change& c);
/// Server-Sent Events of a feed answer: one event per change ("id", "event" = kind, "data" =
/// the change as JSON), and a "dropped" event when the reader missed some.
std::string server_sent_events(const state_changes& changes);

/// {"error": why} (and `extra` fields, none by default).
std::string error_json(const std::string& why);

} // namespace rds::services::inspection
