// What the inspection port (the debug HTTP port, issue 11) asks the inspector actor, and what it
// gets back. The inspector only asks other actors for their status: nothing here changes state.
#pragma once

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>

#include "messages/inspection.hpp"

namespace rds {

/// The answers the inspector builds (one per JSON endpoint of the port).
enum class debug_endpoint : uint8_t {
  /// /debug/actors: every actor kind with its count; each singleton's status and its time.
  actors = 0,
  /// /debug/volumes: a page of volumes.
  volumes,
  /// /debug/volumes/{id}: one volume actor's whole state.
  volume,
  /// /debug/migrations: every migration in flight, soonest timer first.
  migrations,
  /// /debug/watches: the cluster watches and the attachment join.
  watches,
  /// /debug/rds: the rds actor and the volume catalog.
  rds,
  /// /debug/node: the node supervisor and its volumes.
  node,
};

inline const char* to_string(debug_endpoint endpoint) {
  switch (endpoint) {
  case debug_endpoint::actors:
    return "actors";
  case debug_endpoint::volumes:
    return "volumes";
  case debug_endpoint::volume:
    return "volume";
  case debug_endpoint::migrations:
    return "migrations";
  case debug_endpoint::watches:
    return "watches";
  case debug_endpoint::rds:
    return "rds";
  case debug_endpoint::node:
    return "node";
  }
  return "?";
}

struct debug_request {
  debug_endpoint endpoint = debug_endpoint::actors;
  /// /debug/volumes/{id}: the volume.
  std::string volume_id;
  /// /debug/volumes: the page and its filters.
  volume_page_request page;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, debug_request& x) {
  return f(caf::meta::type_name("rds.debug_request"), x.endpoint, x.volume_id, x.page);
}

struct debug_answer {
  /// The HTTP status: 200, 404 (no such volume, or not this plugin's role), 503 (the actor that
  /// holds the answer did not answer in time).
  uint16_t status = 200;
  /// A JSON document; never a secret.
  std::string json;
};

template <class Inspector> typename Inspector::result_type inspect(Inspector& f, debug_answer& x) {
  return f(caf::meta::type_name("rds.debug_answer"), x.status, x.json);
}

/// inspector: builds the inspection port's answers by asking the actors for their status, each
/// with the port's deadline; an actor that does not answer in time is shown as such.
using inspector_actor = caf::typed_actor<
  // One endpoint's answer.
  caf::replies_to<inspect_atom, debug_request>::with<debug_answer>>;

} // namespace rds
