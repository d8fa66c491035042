// The Kubernetes objects the driver reads, parsed from their JSON with RapidJSON: only the
// fields it uses.
#pragma once

#include <caf/timestamp.hpp>

#include <map>
#include <string>
#include <vector>

#include "messages/error_code.hpp"
#include "messages/kube_objects.hpp"

namespace rds::services::kube {

using rds::persistent_volume_object;
using rds::volume_attachment_object;

/// One page of a list: items, the continue token and the list's resourceVersion.
template <class T> struct list_page {
  std::vector<T> items;
  std::string continue_token;
  std::string resource_version;
};

enum class watch_event_type { added, modified, deleted, bookmark, error };

/// One line of a watch stream.
template <class T> struct watch_event {
  watch_event_type type = watch_event_type::added;
  T object;
  /// metadata.resourceVersion of the object (of the bookmark), to resume the watch from.
  std::string resource_version;
  /// For an ERROR event: the Status code (410: the resourceVersion is too old) and message.
  long error_code = 0;
  std::string error_message;
};

outcome parse_volume_attachment_event(const std::string& line,
                                      watch_event<volume_attachment_object>& out);

/// core/v1 Node: only whether it exists matters, so only its name.
struct node_object {
  std::string name;
};

outcome parse_node_list(const std::string& json, list_page<node_object>& out);
outcome parse_node_event(const std::string& line, watch_event<node_object>& out);

outcome parse_volume_attachment_list(const std::string& json,
                                     list_page<volume_attachment_object>& out);
outcome parse_persistent_volume_list(const std::string& json,
                                     list_page<persistent_volume_object>& out);
outcome parse_persistent_volume_event(const std::string& line,
                                      watch_event<persistent_volume_object>& out);

/// RFC 3339 with a Z or numeric offset, as the API server writes metadata timestamps.
bool parse_rfc3339(const std::string& text, caf::timestamp& out);

} // namespace rds::services::kube
