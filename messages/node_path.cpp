// Component by component, on the text.
#include "messages/node_path.hpp"

namespace rds {

namespace {

std::string trimmed(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  return dir;
}

} // namespace

bool inside_kubelet_dir(const std::string& kubelet_dir, const std::string& path) {
  auto base = trimmed(kubelet_dir);
  return path.compare(0, base.size() + 1, base + "/") == 0 && path.size() > base.size() + 1;
}

outcome check_node_path(const std::string& kubelet_dir, const std::string& path, const char* what) {
  auto bad = [&](const std::string& why) {
    return outcome::failure(ec::invalid_argument, std::string{what} + " '" + path + "' " + why);
  };
  if (path.empty())
    return outcome::failure(ec::invalid_argument, std::string{what} + " is required");
  if (path.size() > 4096)
    return outcome::failure(ec::invalid_argument, std::string{what} + " is too long");
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f)
      return bad("contains a control character");
  auto base = trimmed(kubelet_dir);
  if (!inside_kubelet_dir(base, path))
    return bad("is not inside the kubelet directory " + base);
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
    pos = next + 1;
  }
  return outcome::success();
}

outcome check_volume_path(const std::string& path) {
  if (path.empty())
    return outcome::failure(ec::invalid_argument, "volume_path is required");
  if (path.size() > 4096)
    return outcome::failure(ec::invalid_argument, "volume_path is too long");
  if (path.front() != '/')
    return outcome::failure(ec::invalid_argument,
                            "volume_path '" + path + "' is not an absolute path");
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f)
      return outcome::failure(ec::invalid_argument, "volume_path contains a control character");
  return outcome::success();
}

std::vector<std::string> components_below(const std::string& kubelet_dir, const std::string& path) {
  std::vector<std::string> out;
  auto base = trimmed(kubelet_dir);
  for (auto pos = path.find('/', base.size() + 1); pos != std::string::npos;
       pos = path.find('/', pos + 1))
    out.push_back(path.substr(0, pos));
  if (!path.empty() && path.back() != '/')
    out.push_back(path);
  return out;
}

} // namespace rds
