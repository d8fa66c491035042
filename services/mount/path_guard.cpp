// lstat, component by component.
#include "services/mount/path_guard.hpp"

#include <sys/stat.h>

#include "messages/node_path.hpp"

namespace rds::services::mount {

outcome check_usable_path(const std::string& kubelet_dir, const std::string& path,
                          const char* what) {
  if (auto r = check_node_path(kubelet_dir, path, what); !r.ok())
    return r;
  for (auto& current : components_below(kubelet_dir, path)) {
    struct stat st {};
    if (::lstat(current.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      return outcome::failure(ec::invalid_argument, std::string{what} + " '" + path
                                                      + "' passes through the symlink " + current);
  }
  return outcome::success();
}

} // namespace rds::services::mount
