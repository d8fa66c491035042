// The fabrics connector's libnvme path on a real kernel interface's shape, as root: in a child
// process with a mount namespace of its own, /dev and /sys/class are tmpfs, /dev/nvme-fabrics is
// a file that answers "instance=7" after the option string, and /sys/class/nvme holds the
// controller the kernel would have made. Nothing outside the child's namespace is touched, and
// no packet is sent. (No machine here has nvme_tcp; this is as close to the kernel as it gets.)
#include <doctest/doctest.h>

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "services/nvme/connector.hpp"
#include "services/nvme/sysfs.hpp"
#include "services/nvme/target.hpp"

namespace fs = std::filesystem;
using namespace rds;
using namespace rds::services;

namespace {

const std::string nqn = "nqn.2000-02.com.mikrotik:csi-00112233445566778899aabbccdd";

void lay_out(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path{path}.parent_path());
  std::ofstream{path} << text;
}

/// Runs in the child: 0 when every step went as it should, else the step that failed.
int connect_and_disconnect(const nvme::nvme_target& target, const std::string& options) {
  if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)
      || ::mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755")
      || ::mount("tmpfs", "/sys/class", "tmpfs", 0, "mode=0755"))
    return 10;
  // What the kernel answers after the options are written: libnvme reads on from their end.
  lay_out("/dev/nvme-fabrics", options + "instance=7,cntlid=1\n");
  auto controller = std::string{"/sys/class/nvme/nvme7/"};
  lay_out(controller + "subsysnqn", nqn + "\n");
  lay_out(controller + "state", "connecting\n"); // not live yet: the connector must connect
  lay_out(controller + "transport", "tcp\n");
  lay_out(controller + "address", "traddr=127.0.0.1,trsvcid=4420\n");
  lay_out(controller + "hostnqn", target.host_nqn + "\n");
  lay_out(controller + "delete_controller", "");
  lay_out("/sys/class/nvme-subsystem/nvme-subsys7/subsysnqn", nqn + "\n");
  fs::create_directories("/sys/class/nvme-subsystem/nvme-subsys7/nvme7");

  auto connector = nvme::make_fabrics_connector({"/sys"});
  bool reused = true;
  auto connected = connector->connect(target, reused);
  if (!connected.ok()) {
    std::fprintf(stderr, "connect: %s\n", connected.message.c_str());
    return 11;
  }
  if (reused)
    return 12;
  // libnvme wrote exactly what fabrics_options gives (the file now starts with it).
  std::string written;
  std::getline(std::ifstream{"/dev/nvme-fabrics"}, written);
  if (written.compare(0, options.size(), options) != 0) {
    std::fprintf(stderr, "written: %s\nexpected: %s\n", written.c_str(), options.c_str());
    return 13;
  }
  // A live controller now: connect again reuses it and writes nothing.
  lay_out(controller + "state", "live\n");
  lay_out("/dev/nvme-fabrics", "");
  if (!connector->connect(target, reused).ok() || !reused
      || fs::file_size("/dev/nvme-fabrics") != 0)
    return 14;
  // Disconnect through libnvme's nvme_disconnect_ctrl: delete_controller gets "1".
  auto gone = connector->disconnect(nqn);
  if (!gone.ok()) {
    std::fprintf(stderr, "disconnect: %s\n", gone.message.c_str());
    return 15;
  }
  if (nvme::read_attribute(controller + "delete_controller") != "1")
    return 16;
  // No "instance=" in the answer (no kernel does that) is an internal error, not success.
  fs::remove_all("/sys/class/nvme/nvme7");
  lay_out("/dev/nvme-fabrics", "");
  auto unread = connector->connect(target, reused);
  if (unread.code != ec::internal) {
    std::fprintf(stderr, "empty answer: %s\n", unread.message.c_str());
    return 17;
  }
  return 0;
}

} // namespace

TEST_CASE("the fabrics connector through libnvme: the options written, reuse, disconnect") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root for a mount namespace");
    return;
  }
  nvme::nvme_target target{"127.0.0.1", 4420, nqn, "nqn.2014-08.org.nvmexpress:uuid:rds-test",
                           -1,          5,    30};
  std::string options;
  REQUIRE(nvme::fabrics_options(target, options).ok());
  std::fflush(nullptr);
  auto child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0)
    ::_exit(connect_and_disconnect(target, options));
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
