// NVMe/TCP stood in by loop devices: the RDS simulator's disk file of the NQN's slot is attached
// with losetup, and the sysfs shape of a connected subsystem is laid out under the configured
// root, pointing at the loop device. The node plugin then runs its real path on top.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "messages/volume_context.hpp"
#include "services/nvme/connector.hpp"
#include "services/nvme/sysfs.hpp"
#include "services/process/child_process.hpp"

namespace rds::services::nvme {

namespace {

namespace fs = std::filesystem;

outcome write_file(const fs::path& path, const std::string& text) {
  std::error_code ignored;
  fs::create_directories(path.parent_path(), ignored);
  std::ofstream out{path, std::ios::trunc};
  out << text << "\n";
  out.flush();
  return out ? outcome::success() : outcome::failure(ec::internal, "cannot write " + path.string());
}

int next_instance(const std::string& root) {
  int next = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(root + "/class/nvme", ec)) {
    auto name = e.path().filename().string();
    if (name.size() > 4 && name.compare(0, 4, "nvme") == 0)
      next = std::max(next, std::atoi(name.c_str() + 4) + 1);
  }
  return next;
}

void remove_controller(const std::string& root, const std::string& controller) {
  auto instance = controller.substr(4);
  std::error_code ignored;
  auto dev = read_attribute(root + "/class/nvme-subsystem/nvme-subsys" + instance + "/nvme"
                            + instance + "n1/dev");
  if (!dev.empty())
    fs::remove(root + "/dev/block/" + dev, ignored);
  fs::remove_all(root + "/class/nvme-subsystem/nvme-subsys" + instance, ignored);
  fs::remove_all(root + "/class/nvme/" + controller, ignored);
}

} // namespace

loop_connector::loop_connector(loop_config config)
  : config_(std::move(config)) {}

outcome loop_connector::attach(const std::string& nqn, const nvme_target& target) {
  if (nqn.compare(0, volume_nqn_prefix.size(), volume_nqn_prefix) != 0)
    return outcome::failure(ec::not_found, "no simulated subsystem " + nqn);
  auto slot = nqn.substr(volume_nqn_prefix.size());
  // The disk file: "<slot>.img", or "<slot>.<source>.img" for a restore or clone.
  std::string file;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(config_.pool_dir, ec)) {
    auto name = e.path().filename().string();
    if (name.size() >= slot.size() + 4 && name.compare(0, slot.size() + 1, slot + ".") == 0
        && name.compare(name.size() - 4, 4, ".img") == 0)
      file = e.path().string();
  }
  if (file.empty())
    return outcome::failure(ec::unavailable, "the RDS exports no subsystem " + nqn
                                               + " (no disk file for " + slot + " in "
                                               + config_.pool_dir + ")");
  auto attached = process::run_child({"losetup", "--find", "--show", file}, config_.deadline);
  if (!attached.ok())
    return outcome::failure(ec::unavailable, attached.describe("losetup"));
  auto loop = attached.output.substr(0, attached.output.find('\n'));
  struct stat st {};
  if (::stat(loop.c_str(), &st) != 0 || !S_ISBLK(st.st_mode))
    return outcome::failure(ec::internal, "losetup gave " + loop + ", which is not a device");
  auto& root = config_.sysfs_root;
  auto instance = std::to_string(next_instance(root));
  auto controller = root + "/class/nvme/nvme" + instance;
  auto subsystem = root + "/class/nvme-subsystem/nvme-subsys" + instance;
  auto dev = std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  struct stat file_st {};
  ::stat(file.c_str(), &file_st);
  for (auto r :
       {write_file(controller + "/subsysnqn", nqn), write_file(controller + "/state", "live"),
        write_file(controller + "/transport", "tcp"),
        write_file(controller + "/address",
                   "traddr=" + target.address + ",trsvcid=" + std::to_string(target.port)),
        write_file(controller + "/loop_device", loop), write_file(subsystem + "/subsysnqn", nqn),
        write_file(subsystem + "/nvme" + instance + "n1/dev", dev),
        write_file(subsystem + "/nvme" + instance + "n1/size",
                   std::to_string(file_st.st_size / 512))})
    if (!r.ok())
      return r;
  fs::create_directories(root + "/dev/block", ec);
  fs::remove(root + "/dev/block/" + dev, ec);
  fs::create_symlink("/sys/devices/virtual/block/" + loop.substr(loop.rfind('/') + 1),
                     root + "/dev/block/" + dev, ec);
  if (ec)
    return outcome::failure(ec::internal, "cannot link " + root + "/dev/block/" + dev);
  return outcome::success();
}

outcome loop_connector::connect(const nvme_target& target, bool& reused) {
  std::lock_guard<std::mutex> guard{mutex_};
  std::string options;
  if (auto r = fabrics_options(target, options); !r.ok())
    return r;
  for (auto& c : controllers_of(config_.sysfs_root, target.nqn))
    if (read_attribute(config_.sysfs_root + "/class/nvme/" + c + "/state") == "live") {
      reused = true;
      return outcome::success();
    }
  reused = false;
  return attach(target.nqn, target);
}

outcome loop_connector::disconnect(const std::string& nqn) {
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& c : controllers_of(config_.sysfs_root, nqn)) {
    auto loop = read_attribute(config_.sysfs_root + "/class/nvme/" + c + "/loop_device");
    if (!loop.empty()) {
      auto detached = process::run_child({"losetup", "-d", loop}, config_.deadline);
      if (!detached.ok())
        return outcome::failure(ec::internal, detached.describe("losetup -d"));
    }
    remove_controller(config_.sysfs_root, c);
  }
  return outcome::success();
}

outcome loop_connector::rescan(const std::string& nqn) {
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& c : controllers_of(config_.sysfs_root, nqn)) {
    auto loop = read_attribute(config_.sysfs_root + "/class/nvme/" + c + "/loop_device");
    auto resized = process::run_child({"losetup", "-c", loop}, config_.deadline);
    if (!resized.ok())
      return outcome::failure(ec::internal, resized.describe("losetup -c"));
    auto sectors = read_attribute("/sys/class/block/" + loop.substr(loop.rfind('/') + 1) + "/size");
    auto instance = c.substr(4);
    if (auto r = write_file(config_.sysfs_root + "/class/nvme-subsystem/nvme-subsys" + instance
                              + "/nvme" + instance + "n1/size",
                            sectors);
        !r.ok())
      return r;
  }
  return outcome::success();
}

outcome loop_connector::renumber(const std::string& nqn) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto old = controllers_of(config_.sysfs_root, nqn);
  if (old.empty())
    return outcome::failure(ec::not_found, "no controller of " + nqn + " to renumber");
  auto address = read_attribute(config_.sysfs_root + "/class/nvme/" + old.front() + "/address");
  nvme_target target;
  target.nqn = nqn;
  target.address = address.substr(7, address.find(',') - 7);
  target.port = std::atoi(address.c_str() + address.find("trsvcid=") + 8);
  if (auto r = attach(nqn, target); !r.ok())
    return r;
  for (auto& c : old) {
    // A loop device still mounted is detached once it is unmounted (autoclear).
    auto loop = read_attribute(config_.sysfs_root + "/class/nvme/" + c + "/loop_device");
    process::run_child({"losetup", "-d", loop}, config_.deadline);
    remove_controller(config_.sysfs_root, c);
  }
  return outcome::success();
}

outcome loop_connector::set_state(const std::string& nqn, const std::string& state) {
  std::lock_guard<std::mutex> guard{mutex_};
  for (auto& c : controllers_of(config_.sysfs_root, nqn))
    if (auto r = write_file(config_.sysfs_root + "/class/nvme/" + c + "/state", state); !r.ok())
      return r;
  return outcome::success();
}

} // namespace rds::services::nvme
