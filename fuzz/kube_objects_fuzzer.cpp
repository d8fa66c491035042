// Kubernetes list bodies and watch event lines as the API server sends them (services/kube/
// objects.cpp): every parser gets every input, as any of them may meet any body.
#include "fuzz/input_text.hpp"
#include "services/kube/objects.hpp"

namespace kube = rds::services::kube;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = rds::fuzz::text_of(data, size);
  {
    kube::list_page<kube::volume_attachment_object> page;
    kube::parse_volume_attachment_list(text, page);
  }
  {
    kube::list_page<kube::persistent_volume_object> page;
    kube::parse_persistent_volume_list(text, page);
  }
  {
    kube::list_page<kube::node_object> page;
    kube::parse_node_list(text, page);
  }
  {
    kube::watch_event<kube::volume_attachment_object> event;
    kube::parse_volume_attachment_event(text, event);
  }
  {
    kube::watch_event<kube::persistent_volume_object> event;
    kube::parse_persistent_volume_event(text, event);
  }
  {
    kube::watch_event<kube::node_object> event;
    kube::parse_node_event(text, event);
  }
  caf::timestamp when;
  kube::parse_rfc3339(text, when);
  return 0;
}
