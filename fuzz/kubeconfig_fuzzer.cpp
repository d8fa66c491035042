// kubeconfig files (services/kube/kube_config.cpp, YAML through yaml-cpp). The parser reads the
// files a kubeconfig names; the harness skips inputs that name device, proc or sys files or
// climb out of its scratch directory, which would read a stream that never ends rather than a
// file (a kubeconfig is the operator's, not a remote party's).
#include "fuzz/input_text.hpp"
#include "services/kube/kube_config.hpp"

namespace {

bool names_special_file(const std::string& text) {
  for (const char* bad : {"..", "/dev", "/proc", "/sys", "/run", "/var", "/tmp"})
    if (text.find(bad) != std::string::npos)
      return true;
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto text = rds::fuzz::text_of(data, size);
  if (names_special_file(text))
    return 0;
  static const auto dir = [] {
    auto d = rds::fuzz::scratch_dir();
    // Files a kubeconfig may name relative to itself.
    rds::fuzz::write_file(d / "ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n"
                                        "-----END CERTIFICATE-----\n");
    rds::fuzz::write_file(d / "client.key", "-----BEGIN EC PRIVATE KEY-----\nMHcC\n"
                                            "-----END EC PRIVATE KEY-----\n");
    return d;
  }();
  auto path = (dir / "kubeconfig").string();
  rds::fuzz::write_file(path, text);
  rds::services::kube::kube_config config;
  auto r = rds::services::kube::load_kubeconfig(path, config);
  if (r.ok() && config.server.rfind("https://", 0) != 0)
    __builtin_trap(); // the one promise the reader makes about the server
  return 0;
}
