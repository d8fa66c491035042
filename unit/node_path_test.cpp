// Kubelet paths on the text (messages/node_path) and on the filesystem (services/mount/path_guard).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

#include "messages/node_path.hpp"
#include "services/mount/path_guard.hpp"

using namespace rds;
namespace fs = std::filesystem;

TEST_CASE("kubelet paths on the text: inside, absolute, no '.', '..' or empty components") {
  const std::string kubelet = "/var/lib/kubelet";
  auto ok = [&](const std::string& p) { return check_node_path(kubelet, p, "path").ok(); };
  CHECK(ok(kubelet + "/pods/p/volumes/v"));
  CHECK(ok(kubelet + "/pods/p/volumes/v/"));
  CHECK_FALSE(ok(kubelet));
  CHECK_FALSE(ok(kubelet + "/"));
  CHECK_FALSE(ok(kubelet + "x/pods"));
  CHECK_FALSE(ok("/etc"));
  CHECK_FALSE(ok("pods/p"));
  CHECK_FALSE(ok(kubelet + "/pods/../../etc"));
  CHECK_FALSE(ok(kubelet + "/pods/./p"));
  CHECK_FALSE(ok(kubelet + "/pods//p"));
  CHECK_FALSE(ok(kubelet + "/pods/p\n/v"));
  CHECK_FALSE(ok(kubelet + "/" + std::string(5000, 'a')));
  CHECK(check_node_path(kubelet, "", "target_path").message == "target_path is required");
  CHECK(check_node_path(kubelet + "/", kubelet + "/pods", "path").ok());
  CHECK(inside_kubelet_dir(kubelet, kubelet + "/a"));
  CHECK_FALSE(inside_kubelet_dir(kubelet, "/var/lib/kubeletx/a"));
  CHECK(components_below(kubelet, kubelet + "/a/b/c")
        == std::vector<std::string>{kubelet + "/a", kubelet + "/a/b", kubelet + "/a/b/c"});
}

TEST_CASE("volume_path of stats and expand: absolute, anywhere") {
  CHECK(check_volume_path("/mnt/elsewhere").ok());
  CHECK(check_volume_path("").code == ec::invalid_argument);
  CHECK(check_volume_path("relative/path").code == ec::invalid_argument);
  CHECK(check_volume_path("/a\tb").code == ec::invalid_argument);
}

TEST_CASE("kubelet paths on the filesystem: no symlink on the way") {
  auto dir = fs::temp_directory_path() / ("rds-csi-path-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto kubelet = (dir / "kubelet").string();
  fs::create_directories(kubelet + "/pods/p/volumes");
  fs::create_directories(dir / "outside");
  fs::create_symlink(dir / "outside", kubelet + "/pods/link");
  auto ok = [&](const std::string& p) {
    return services::mount::check_usable_path(kubelet, p, "path").ok();
  };
  CHECK(ok(kubelet + "/pods/p/volumes/v"));
  CHECK(ok(kubelet + "/pods/p/volumes/not-yet/there"));
  CHECK_FALSE(ok(kubelet + "/pods/link/v"));
  CHECK_FALSE(ok(kubelet + "/pods/link"));
  CHECK(services::mount::check_usable_path(kubelet, kubelet + "/pods/link/v", "target_path")
          .message.find("symlink")
        != std::string::npos);
  CHECK_FALSE(ok("/etc/passwd"));
  fs::remove_all(dir);
}
