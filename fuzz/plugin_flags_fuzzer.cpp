// rds-csi-plugin's command line (cmd/rds-csi-plugin: parse_plugin_options, whatever library
// reads the flags inside). Input: the arguments after the program name, separated by '\0' as
// in argv.
#include "cmd/rds-csi-plugin/plugin_options.hpp"
#include "fuzz/input_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = rds::fuzz::text_of(data, size);
  std::vector<std::string> args;
  if (!text.empty())
    args = rds::fuzz::split(text, '\0');
  // The last argument doubles as $CSI_ENDPOINT, the default of --endpoint.
  auto parsed = rds::parse_plugin_options(args, args.empty() ? "" : args.back());
  if (parsed.error.empty() && !parsed.help && !parsed.version && parsed.options.endpoint.empty())
    __builtin_trap(); // accepted flags always name an endpoint
  return 0;
}
