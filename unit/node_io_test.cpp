// The node side's pieces that need no device: the fabrics option string and its checks, NQN ->
// device resolution on a laid-out sysfs (native-multipath naming included), mount flags,
// mountinfo, kubelet path checks, blkid's exit codes and killing a child past its deadline.
#include <doctest/doctest.h>

#include <sys/mount.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "services/mount/filesystem.hpp"
#include "services/mount/mounts.hpp"
#include "services/mount/path_guard.hpp"
#include "services/nvme/connector.hpp"
#include "services/nvme/sysfs.hpp"
#include "services/nvme/target.hpp"
#include "services/process/child_process.hpp"

using namespace rds;
using namespace rds::services;
namespace fs = std::filesystem;

namespace {

struct scratch {
  std::string dir = [] {
    char pattern[] = "/tmp/rds-node-unit-XXXXXX";
    return std::string{mkdtemp(pattern)};
  }();
  ~scratch() { fs::remove_all(dir); }

  void write(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path{dir + "/" + path}.parent_path());
    std::ofstream{dir + "/" + path} << text << "\n";
  }

  std::string script(const std::string& name, const std::string& body) {
    write(name, "#!/bin/sh\n" + body);
    ::chmod((dir + "/" + name).c_str(), 0755);
    return dir + "/" + name;
  }
};

const std::string nqn = "nqn.2000-02.com.mikrotik:csi-0123456789abcdef0123456789ab";

} // namespace

TEST_CASE("the fabrics option string: exact, and nothing odd gets through") {
  nvme::nvme_target t{"10.0.0.5", 4420, nqn, "nqn.2014-08.org.nvmexpress:uuid:1b4e28ba", -1, 5, 0};
  std::string options;
  REQUIRE(nvme::fabrics_options(t, options).ok());
  CHECK(options
        == "nqn=" + nqn
             + ",transport=tcp,traddr=10.0.0.5,trsvcid=4420,hostnqn=nqn.2014-08.org."
               "nvmexpress:uuid:1b4e28ba,reconnect_delay=5,ctrl_loss_tmo=-1");
  t.keep_alive_tmo = 30;
  REQUIRE(nvme::fabrics_options(t, options).ok());
  CHECK(options.find(",keep_alive_tmo=30,") != std::string::npos);
  auto refused = [&](nvme::nvme_target bad) {
    std::string ignored;
    return nvme::fabrics_options(bad, ignored).code == ec::invalid_argument;
  };
  auto bad = t;
  bad.address = "rds.example.org";
  CHECK(refused(bad));
  bad = t;
  bad.address = "10.0.0.5,traddr=10.6.6.6";
  CHECK(refused(bad));
  bad = t;
  bad.nqn = nqn + ",duplicate_connect";
  CHECK(refused(bad));
  bad = t;
  bad.port = 70000;
  CHECK(refused(bad));
  bad = t;
  bad.ctrl_loss_tmo = -2;
  CHECK(refused(bad));
  CHECK(nvme::valid_nqn(nqn));
  CHECK_FALSE(nvme::valid_nqn("nqn."));
  CHECK_FALSE(nvme::valid_nqn("iqn.2000-02.com.mikrotik:x"));
  CHECK_FALSE(nvme::valid_nqn("nqn." + std::string(230, 'a')));
}

TEST_CASE("NQN -> device through sysfs: multipath heads, the fallback, the managed count") {
  scratch s;
  // Native multipath: controller nvme5 belongs to subsystem 2; the device is nvme2n1.
  s.write("class/nvme/nvme5/subsysnqn", nqn);
  s.write("class/nvme/nvme5/state", "live");
  s.write("class/nvme-subsystem/nvme-subsys2/subsysnqn", nqn);
  s.write("class/nvme-subsystem/nvme-subsys2/nvme2c5n1/dev", "259:9"); // a path, not the head
  s.write("class/nvme-subsystem/nvme-subsys2/nvme2n1/dev", "259:3");
  s.write("class/nvme-subsystem/nvme-subsys2/nvme2n1/size", "2097152");
  fs::create_directories(s.dir + "/dev/block");
  fs::create_symlink("../../devices/virtual/nvme-subsystem/nvme-subsys2/nvme2n1",
                     s.dir + "/dev/block/259:3");
  auto d = nvme::resolve_device(s.dir, nqn);
  REQUIRE(d);
  CHECK(d->name == "nvme2n1");
  CHECK(d->dev_path == "/dev/nvme2n1");
  CHECK(d->major == 259);
  CHECK(d->minor == 3);
  CHECK(d->size_bytes == uint64_t{1} << 30);
  CHECK(d->controller == "nvme5");
  CHECK(d->state == "live");

  // Multipath off: the namespace hangs under its controller.
  auto other = "nqn.2000-02.com.mikrotik:csi-ffffffffffffffffffffffffffff";
  s.write("class/nvme/nvme7/subsysnqn", other);
  s.write("class/nvme/nvme7/state", "connecting");
  s.write("class/nvme/nvme7/nvme7n1/dev", "259:4");
  fs::create_symlink("../../devices/pci0000:00/nvme/nvme7/nvme7n1", s.dir + "/dev/block/259:4");
  auto plain = nvme::resolve_device(s.dir, other);
  REQUIRE(plain);
  CHECK(plain->dev_path == "/dev/nvme7n1");
  CHECK(plain->state == "connecting");

  // A host's own NVMe disk is not counted as the driver's.
  s.write("class/nvme/nvme0/subsysnqn", "nqn.2014.08.org.nvmexpress:80868086PHKS7481");
  CHECK(nvme::managed_controllers(s.dir, "nqn.2000-02.com.mikrotik:csi-") == 2);
  CHECK(nvme::controllers_of(s.dir, nqn) == std::vector<std::string>{"nvme5"});
  CHECK_FALSE(nvme::resolve_device(s.dir, "nqn.2000-02.com.mikrotik:csi-none"));
}

TEST_CASE("mount flags: plain words, split into flags and data; weakening ones refused") {
  unsigned long flags = 0;
  std::string data;
  REQUIRE(mount::parse_mount_flags({"noatime", "ro", "discard", "data=ordered"}, flags, data).ok());
  CHECK((flags & MS_NOATIME) != 0);
  CHECK((flags & MS_RDONLY) != 0);
  CHECK(data == "discard,data=ordered");
  for (auto bad : {"exec", "suid", "dev", "bind", "rbind", "remount", "move", "shared", "rprivate",
                   "unbindable", "a,b", "x y", "", "../x"}) {
    CAPTURE(std::string{bad});
    flags = 0;
    data.clear();
    CHECK(mount::parse_mount_flags({bad}, flags, data).code == ec::invalid_argument);
  }
  // The kernel's options from libmount's table: a later one undoes an earlier one, as mount(8)
  // reads them; the caller's own bits stay unless an option clears them.
  flags = MS_NOSUID | MS_NODEV;
  data.clear();
  REQUIRE(mount::parse_mount_flags({"sync", "async", "ro", "rw", "nodiratime", "lazytime",
                                    "strictatime", "noexec", "nosymfollow"},
                                   flags, data)
            .ok());
  CHECK(flags
        == (MS_NOSUID | MS_NODEV | MS_NODIRATIME | MS_LAZYTIME | MS_STRICTATIME | MS_NOEXEC
            | MS_NOSYMFOLLOW));
  CHECK(data.empty());
  // mount(8)'s own options mean nothing to mount(2): accepted, not passed on.
  flags = 0;
  REQUIRE(
    mount::parse_mount_flags({"defaults", "nofail", "_netdev", "x-systemd.automount"}, flags, data)
      .ok());
  CHECK(flags == 0);
  CHECK(data.empty());
  // A kernel option's name with a value is not that option: it is the filesystem's.
  REQUIRE(mount::parse_mount_flags({"ro=1", "commit=30"}, flags, data).ok());
  CHECK(flags == 0);
  CHECK(data == "ro=1,commit=30");
}

TEST_CASE("mountinfo: device numbers, escaped paths, the topmost mount") {
  scratch s;
  s.write("mountinfo", "22 1 259:3 / /var/lib/kubelet/staging rw,relatime shared:1 - ext4 "
                       "/dev/nvme2n1 rw\n"
                       "23 22 259:3 / /var/lib/kubelet/pods/a\\040b/vol rw,nosuid - ext4 "
                       "/dev/nvme2n1 rw\n"
                       "this line is not a mount\n"
                       "25 1 259:3 /dir /var/lib/kubelet/pods/c/vol rw shared:2 master:1 - xfs "
                       "/dev/nvme2n1 rw,attr2\n"
                       "24 1 7:0 / /var/lib/kubelet/staging ro - xfs /dev/loop0 ro");
  auto info = s.dir + "/mountinfo";
  auto entries = mount::read_mountinfo(info);
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].major == 259);
  CHECK(entries[0].minor == 3);
  CHECK(entries[0].fs_type == "ext4");
  CHECK(entries[0].source == "/dev/nvme2n1");
  CHECK(entries[0].root == "/");
  CHECK(entries[0].options == "rw,relatime");
  CHECK(entries[1].mount_point == "/var/lib/kubelet/pods/a b/vol");
  CHECK(entries[1].options == "rw,nosuid");
  CHECK(entries[2].root == "/dir");
  CHECK(entries[2].fs_type == "xfs");
  CHECK(entries[3].options == "ro");
  CHECK(entries[3].major == 7);

  auto top = mount::mount_at("/var/lib/kubelet/staging", info);
  REQUIRE(top);
  CHECK(top->source == "/dev/loop0");
  CHECK_FALSE(mount::mount_at("/var/lib/kubelet", info));
  CHECK_FALSE(mount::mount_at("/var/lib/kubelet/pods/a\\040b/vol", info));
  CHECK(mount::mount_at("/var/lib/kubelet/pods/a b/vol", info));
  CHECK(mount::mounts_of(259, 3, info).size() == 3);
  CHECK(mount::mounts_of(7, 0, info).size() == 1);
  CHECK(mount::mounts_of(8, 0, info).empty());

  // No file: no mounts (and no crash); the process's own table has its root.
  CHECK(mount::read_mountinfo(s.dir + "/missing").empty());
  CHECK(mount::mount_at("/"));
}

TEST_CASE("mountinfo: several threads read the table at once") {
  scratch s;
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += std::to_string(100 + i) + " 1 259:" + std::to_string(i % 7) + " / /mnt/v"
            + std::to_string(i) + " rw - ext4 /dev/nvme" + std::to_string(i) + "n1 rw\n";
  s.write("mountinfo", text);
  std::vector<std::thread> readers;
  std::atomic<int> right{0};
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&] {
      for (int round = 0; round < 25; ++round)
        if (mount::read_mountinfo(s.dir + "/mountinfo").size() == 200
            && mount::mounts_of(259, 3, s.dir + "/mountinfo").size() == 29)
          ++right;
    });
  for (auto& r : readers)
    r.join();
  CHECK(right == 100);
}

TEST_CASE("kubelet paths: inside, no '..', no symlinks") {
  scratch s;
  auto kubelet = s.dir + "/kubelet";
  fs::create_directories(kubelet + "/pods/p/volumes");
  fs::create_directories(s.dir + "/outside");
  fs::create_symlink(s.dir + "/outside", kubelet + "/pods/link");
  auto ok = [&](const std::string& p) { return mount::check_usable_path(kubelet, p, "path").ok(); };
  CHECK(ok(kubelet + "/pods/p/volumes/v"));
  CHECK(ok(kubelet + "/pods/p/volumes/not-yet/there"));
  CHECK_FALSE(ok(kubelet));
  CHECK_FALSE(ok(kubelet + "/"));
  CHECK_FALSE(ok(kubelet + "x/pods"));
  CHECK_FALSE(ok("/etc"));
  CHECK_FALSE(ok(kubelet + "/pods/../../etc"));
  CHECK_FALSE(ok(kubelet + "/pods/./p"));
  CHECK_FALSE(ok(kubelet + "/pods//p"));
  CHECK_FALSE(ok(kubelet + "/pods/link/v"));
  CHECK_FALSE(ok(kubelet + "/pods/p\n/v"));
  CHECK_FALSE(ok(""));
}

TEST_CASE("blkid's answer: a type, nothing (exit 2), or cannot tell (never format)") {
  scratch s;
  mount::tools t;
  std::string type;
  t.blkid = s.script("found", "echo xfs\n");
  REQUIRE(mount::probe_filesystem(t, "/dev/null", type).ok());
  CHECK(type == "xfs");
  t.blkid = s.script("none", "exit 2\n");
  REQUIRE(mount::probe_filesystem(t, "/dev/null", type).ok());
  CHECK(type.empty());
  for (auto code : {"1", "4", "8"}) {
    t.blkid = s.script(std::string{"fails"} + code, std::string{"exit "} + code + "\n");
    CHECK(mount::probe_filesystem(t, "/dev/null", type).code == ec::internal);
  }
  t.blkid = s.script("empty", "exit 0\n");
  CHECK_FALSE(mount::probe_filesystem(t, "/dev/null", type).ok());
  t.blkid = s.dir + "/missing";
  CHECK_FALSE(mount::probe_filesystem(t, "/dev/null", type).ok());
}

TEST_CASE("a child that overruns its deadline is killed, with its children") {
  auto begin = std::chrono::steady_clock::now();
  auto r = process::run_child({"sh", "-c", "sleep 30 & sleep 30"}, std::chrono::milliseconds{200});
  CHECK(r.timed_out);
  CHECK_FALSE(r.ok());
  CHECK(std::chrono::steady_clock::now() - begin < std::chrono::seconds{5});
  CHECK(r.describe("sh").find("killed") != std::string::npos);
  auto fine =
    process::run_child({"sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds{10});
  CHECK(fine.exit_code == 3);
  CHECK(fine.output.find("out") != std::string::npos);
  CHECK(fine.output.find("err") != std::string::npos);
  auto missing = process::run_child({"/nonexistent/program"}, std::chrono::seconds{1});
  CHECK_FALSE(missing.start_error.empty());
}

TEST_CASE("the fabrics connector: a live controller is reused, disconnect deletes controllers") {
  scratch s;
  s.write("class/nvme/nvme3/subsysnqn", nqn);
  s.write("class/nvme/nvme3/state", "live");
  s.write("class/nvme/nvme3/delete_controller", "");
  s.write("class/nvme/nvme4/subsysnqn", nqn);
  s.write("class/nvme/nvme4/state", "connecting");
  s.write("class/nvme/nvme4/delete_controller", "");
  s.write("class/nvme/nvme0/subsysnqn", "nqn.2014.08.org.nvmexpress:host-disk");
  s.write("class/nvme/nvme0/delete_controller", "");
  auto connector = nvme::make_fabrics_connector({s.dir});
  nvme::nvme_target t{"10.0.0.5", 4420, nqn, "", -1, 5, 0};
  bool reused = false;
  REQUIRE(connector->connect(t, reused).ok());
  CHECK(reused);
  // A subsystem with no controller goes to libnvme, which needs the kernel's /dev/nvme-fabrics
  // (libnvme 1.3 always opens that path). Without it, the reason is given; with it (a machine
  // with nvme_tcp loaded), the kernel is asked to connect to a closed loopback port, and
  // refuses. Either way nothing leaves this machine.
  nvme::nvme_target other = t;
  other.address = "127.0.0.1";
  other.port = 1;
  other.nqn = "nqn.2000-02.com.mikrotik:csi-ffffffffffffffffffffffffffff";
  auto refused = connector->connect(other, reused);
  CHECK(refused.code == ec::unavailable);
  CHECK_FALSE(reused);
  if (!fs::exists("/dev/nvme-fabrics")) {
    CHECK(refused.message.find("nvme_tcp") != std::string::npos);
    CHECK(refused.message.find("libnvme: Failed to open /dev/nvme-fabrics") != std::string::npos);
  }
  other.address = "not-an-ip";
  CHECK(connector->connect(other, reused).code == ec::invalid_argument);
  REQUIRE(connector->disconnect(nqn).ok());
  CHECK(nvme::read_attribute(s.dir + "/class/nvme/nvme3/delete_controller") == "1");
  CHECK(nvme::read_attribute(s.dir + "/class/nvme/nvme4/delete_controller") == "1");
  CHECK(nvme::read_attribute(s.dir + "/class/nvme/nvme0/delete_controller").empty());
  s.write("class/nvme/nvme3/rescan_controller", "");
  REQUIRE(connector->rescan(nqn).ok());
  CHECK(nvme::read_attribute(s.dir + "/class/nvme/nvme3/rescan_controller") == "1");
  // A controller whose attribute cannot be written is an error, not a silent success.
  s.write("class/nvme/nvme5/subsysnqn", nqn);
  fs::create_directories(s.dir + "/class/nvme/nvme5/delete_controller");
  CHECK(connector->disconnect(nqn).code == ec::internal);
}
