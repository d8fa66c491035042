// The kernel's fabrics interface (reference/protocols.md §5.3): write the option string to
// /dev/nvme-fabrics, read "instance=N,..." back; disconnect through delete_controller.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "services/nvme/connector.hpp"
#include "services/nvme/sysfs.hpp"

namespace rds::services::nvme {

namespace {

class fabrics_connector : public connector {
 public:
  explicit fabrics_connector(fabrics_config config)
    : config_(std::move(config)) {}

  outcome connect(const nvme_target& target, bool& reused) override {
    std::string options;
    if (auto r = fabrics_options(target, options); !r.ok())
      return r;
    // An existing live controller of the subsystem is reused.
    for (auto& c : controllers_of(config_.sysfs_root, target.nqn))
      if (read_attribute(config_.sysfs_root + "/class/nvme/" + c + "/state") == "live") {
        reused = true;
        return outcome::success();
      }
    reused = false;
    int fd = ::open(config_.fabrics_device.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
      return outcome::failure(ec::unavailable, "cannot open " + config_.fabrics_device + ": "
                                                 + std::strerror(errno)
                                                 + " (is the nvme_tcp module loaded?)");
    auto written = ::write(fd, options.data(), options.size());
    int err = errno;
    char reply[256] = {};
    if (written == static_cast<ssize_t>(options.size()))
      (void)!::read(fd, reply, sizeof(reply) - 1);
    ::close(fd);
    if (written != static_cast<ssize_t>(options.size())) {
      if (err == EALREADY) {
        reused = true;
        return outcome::success();
      }
      return outcome::failure(err == EINVAL ? ec::invalid_argument : ec::unavailable,
                              "connecting to " + target.nqn + " at " + target.address + ":"
                                + std::to_string(target.port) + " failed: " + std::strerror(err));
    }
    if (std::strncmp(reply, "instance=", 9) != 0)
      return outcome::failure(ec::internal,
                              std::string{"the kernel answered '"} + reply + "' to a connect");
    return outcome::success();
  }

  outcome disconnect(const std::string& nqn) override {
    for (auto& c : controllers_of(config_.sysfs_root, nqn)) {
      std::ofstream out{config_.sysfs_root + "/class/nvme/" + c + "/delete_controller"};
      out << "1";
      out.flush();
      if (!out)
        return outcome::failure(ec::internal, "cannot delete controller " + c + " of " + nqn);
    }
    return outcome::success();
  }

  outcome rescan(const std::string& nqn) override {
    for (auto& c : controllers_of(config_.sysfs_root, nqn)) {
      std::ofstream out{config_.sysfs_root + "/class/nvme/" + c + "/rescan_controller"};
      out << "1";
      out.flush();
      if (!out)
        return outcome::failure(ec::internal, "cannot rescan controller " + c + " of " + nqn);
    }
    return outcome::success();
  }

  const std::string& sysfs_root() const override { return config_.sysfs_root; }

 private:
  fabrics_config config_;
};

} // namespace

std::unique_ptr<connector> make_fabrics_connector(fabrics_config config) {
  return std::make_unique<fabrics_connector>(std::move(config));
}

} // namespace rds::services::nvme
