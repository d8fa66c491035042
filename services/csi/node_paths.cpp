// Component by component, with lstat.
#include "services/csi/node_paths.hpp"

#include <sys/stat.h>

namespace rds::services::csi {

outcome check_node_path(const std::string& kubelet_dir, const std::string& path, const char* what) {
  auto bad = [&](const std::string& why) {
    return outcome::failure(ec::invalid_argument, std::string{what} + " '" + path + "' " + why);
  };
  if (path.empty())
    return outcome::failure(ec::invalid_argument, std::string{what} + " is required");
  if (path.size() > 4096)
    return bad("is too long");
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f)
      return bad("contains a control character");
  auto base = kubelet_dir;
  while (base.size() > 1 && base.back() == '/')
    base.pop_back();
  if (path.compare(0, base.size() + 1, base + "/") != 0 || path.size() == base.size() + 1)
    return bad("is not inside the kubelet directory " + base);
  // Components below the kubelet directory: no ".", "..", or empty ones.
  std::string current = base;
  size_t pos = base.size() + 1;
  while (pos <= path.size()) {
    auto next = path.find('/', pos);
    if (next == std::string::npos)
      next = path.size();
    auto part = path.substr(pos, next - pos);
    if (part.empty() && next != path.size())
      return bad("has an empty component");
    if (part == "." || part == "..")
      return bad("has a '" + part + "' component");
    if (!part.empty()) {
      current += "/" + part;
      struct stat st {};
      if (::lstat(current.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        return bad("passes through the symlink " + current);
    }
    pos = next + 1;
  }
  return outcome::success();
}

} // namespace rds::services::csi
