// A watch stream as libcurl hands it over: arbitrary chunks cut into lines by the kube client's
// own line splitter, each line parsed as an event (services/kube/kube_client.cpp). The splitter
// is internal to that file, so the file is compiled into this target.
#include "services/kube/kube_client.cpp"

#include "fuzz/input_text.hpp"
#include "services/kube/objects.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rds::services::kube;
  // The first byte chooses how the stream is cut into chunks (1 to 256 bytes, varying).
  if (size == 0)
    return 0;
  unsigned cut = data[0];
  std::string stream = rds::fuzz::text_of(data + 1, size - 1);
  size_t lines = 0;
  std::function<bool(const std::string&)> on_line = [&](const std::string& line) {
    ++lines;
    watch_event<volume_attachment_object> va;
    parse_volume_attachment_event(line, va);
    watch_event<persistent_volume_object> pv;
    parse_persistent_volume_event(line, pv);
    watch_event<node_object> node;
    parse_node_event(line, node);
    return line != "stop"; // a handler that stops the watch
  };
  line_sink sink{&on_line, {}, false};
  size_t at = 0;
  while (at < stream.size() && !sink.stopped) {
    size_t chunk = std::min<size_t>(stream.size() - at, 1 + ((cut + at * 7) & 0xff));
    auto taken = split_lines(stream.data() + at, 1, chunk, &sink);
    if (taken != chunk && !sink.stopped)
      __builtin_trap(); // curl treats a short count as an error: only a stop may cause it
    at += chunk;
  }
  // What is left without a newline is kept, never passed on as a line.
  if (!sink.stopped && sink.pending.find('\n') != std::string::npos)
    __builtin_trap();
  api_message(stream);
  return 0;
}
