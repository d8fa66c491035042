// Helpers of the attachment value types.
#include "messages/attachment.hpp"

namespace rds {

const char* to_string(access_kind kind) {
  switch (kind) {
  case access_kind::single_node:
    return "single_node";
  case access_kind::multi_node_block:
    return "multi_node_block";
  }
  return "unknown";
}

bool attachment_state::has_node(const std::string& node_id) const {
  for (auto& n : nodes)
    if (n.node_id == node_id)
      return true;
  return false;
}

std::string attachment_state::node_list() const {
  std::string result;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i > 0)
      result += i + 1 == nodes.size() ? " and " : ", ";
    result += nodes[i].node_id;
  }
  return result;
}

} // namespace rds
