// NVMe/TCP connect and disconnect through libnvme (1.3): nvmf_add_ctrl writes the option string
// to /dev/nvme-fabrics and reads "instance=N" back, nvme_disconnect_ctrl deletes a controller.
// What stays ours, and why (README, "NVMe/TCP"):
// - finding an existing controller of the subsystem before connecting (idempotency): libnvme
//   1.3 reads only /sys (no root can be given), and nvmf_add_ctrl does not look for a live
//   controller itself; sysfs.cpp honours --sysfs-root and the laid-out trees of the tests;
// - disconnect when the sysfs root is not /sys (a laid-out tree): libnvme cannot be pointed at
//   it, so delete_controller is written directly there;
// - rescan: libnvme 1.3's nvme_rescan_ctrl refreshes only libnvme's own tree, it does not make
//   the kernel read the namespace size again; rescan_controller in sysfs does.
// Each call builds its own libnvme tree (nvme_create_root), so IO threads may connect at once;
// nvme_default_host is never called (it keeps a process-wide default and, with no
// /etc/nvme/hostnqn, makes up a new random host NQN on every call).
#include <libnvme.h>
#include <syslog.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>

#include "services/nvme/connector.hpp"
#include "services/nvme/sysfs.hpp"

namespace rds::services::nvme {

namespace {

/// libnvme's messages of one call, caught in memory to go into the error we return.
class libnvme_log {
 public:
  libnvme_log() { file_ = ::open_memstream(&text_, &size_); }
  ~libnvme_log() {
    if (file_ != nullptr)
      std::fclose(file_);
    std::free(text_);
  }
  libnvme_log(const libnvme_log&) = delete;
  libnvme_log& operator=(const libnvme_log&) = delete;

  /// A null stream makes libnvme log to stderr; an open_memstream failure is only that.
  FILE* file() { return file_; }

  /// What was logged, on one line, or "".
  std::string text() {
    if (file_ == nullptr)
      return {};
    std::fflush(file_);
    std::string out{text_ == nullptr ? "" : text_, size_};
    for (auto& c : out)
      if (c == '\n')
        c = ' ';
    while (!out.empty() && out.back() == ' ')
      out.pop_back();
    return out;
  }

 private:
  FILE* file_ = nullptr;
  char* text_ = nullptr;
  size_t size_ = 0;
};

struct tree_deleter {
  void operator()(nvme_root* r) const { nvme_free_tree(r); }
};
using tree = std::unique_ptr<nvme_root, tree_deleter>;

std::string with_log(std::string message, libnvme_log& log) {
  auto text = log.text();
  return text.empty() ? message : message + " (libnvme: " + text + ")";
}

class fabrics_connector : public connector {
 public:
  explicit fabrics_connector(fabrics_config config)
    : config_(std::move(config)) {}

  outcome connect(const nvme_target& target, bool& reused) override {
    // The same checks the option string gets, though libnvme builds the string itself (it
    // writes exactly what fabrics_options gives, in the same order: checked with libnvme 1.3).
    std::string options;
    if (auto r = fabrics_options(target, options); !r.ok())
      return r;
    if (live_controller(target.nqn)) {
      reused = true;
      return outcome::success();
    }
    reused = false;
    return add_controller(target, reused);
  }

  outcome disconnect(const std::string& nqn) override {
    for (auto& c : controllers_of(config_.sysfs_root, nqn))
      if (auto r = config_.sysfs_root == "/sys" ? delete_with_libnvme(c, nqn)
                                                : write_attribute(c, "delete_controller", nqn);
          !r.ok())
        return r;
    return outcome::success();
  }

  outcome rescan(const std::string& nqn) override {
    for (auto& c : controllers_of(config_.sysfs_root, nqn))
      if (auto r = write_attribute(c, "rescan_controller", nqn); !r.ok())
        return r;
    return outcome::success();
  }

  const std::string& sysfs_root() const override { return config_.sysfs_root; }

 private:
  bool live_controller(const std::string& nqn) const {
    for (auto& c : controllers_of(config_.sysfs_root, nqn))
      if (read_attribute(config_.sysfs_root + "/class/nvme/" + c + "/state") == "live")
        return true;
    return false;
  }

  outcome add_controller(const nvme_target& target, bool& reused) {
    libnvme_log log;
    tree root{nvme_create_root(log.file(), LOG_ERR)};
    if (!root)
      return outcome::failure(ec::internal, "libnvme could not make its tree (out of memory)");
    // An empty host NQN leaves "hostnqn=" out, and the kernel uses its own.
    auto* host = nvme_lookup_host(root.get(), target.host_nqn.c_str(), nullptr);
    auto port = std::to_string(target.port);
    auto* ctrl = nvme_create_ctrl(root.get(), target.nqn.c_str(), "tcp", target.address.c_str(),
                                  nullptr, nullptr, port.c_str());
    if (host == nullptr || ctrl == nullptr) {
      if (ctrl != nullptr)
        nvme_free_ctrl(ctrl);
      return outcome::failure(ec::internal, "libnvme could not describe the controller");
    }
    nvme_fabrics_config cfg;
    nvmf_default_config(&cfg);
    cfg.ctrl_loss_tmo = target.ctrl_loss_tmo;
    cfg.reconnect_delay = target.reconnect_delay;
    cfg.keep_alive_tmo = target.keep_alive_tmo;
    errno = 0;
    if (nvmf_add_ctrl(host, ctrl, &cfg) == 0)
      return outcome::success(); // the controller now belongs to the tree, freed with it
    int err = errno;
    nvme_free_ctrl(ctrl);
    auto where = target.nqn + " at " + target.address + ":" + port;
    switch (err) {
    case ENVME_CONNECT_ALREADY:
      // The kernel has this very connection (e.g. a controller still "connecting").
      reused = true;
      return outcome::success();
    case ENVME_CONNECT_OPEN:
      return outcome::failure(ec::unavailable,
                              with_log("cannot open /dev/nvme-fabrics (is the nvme_tcp module "
                                       "loaded?)",
                                       log));
    case ENVME_CONNECT_INVAL:
      return outcome::failure(ec::invalid_argument,
                              with_log("the kernel refused the options for " + where, log));
    case ENVME_CONNECT_PARSE:
    case ENVME_CONNECT_READ:
      return outcome::failure(
        ec::internal,
        with_log("the kernel's answer to a connect to " + where + " could not be read", log));
    default:
      break;
    }
    if (err < ENVME_CONNECT_RESOLVE && live_controller(target.nqn)) {
      // The kernel connected (only libnvme's reading of the new controller failed).
      return outcome::success();
    }
    const char* why = err >= ENVME_CONNECT_RESOLVE ? nvme_errno_to_string(err) : std::strerror(err);
    return outcome::failure(ec::unavailable,
                            with_log("connecting to " + where + " failed: " + why, log));
  }

  outcome delete_with_libnvme(const std::string& controller, const std::string& nqn) {
    libnvme_log log;
    tree root{nvme_create_root(log.file(), LOG_ERR)};
    if (!root)
      return outcome::failure(ec::internal, "libnvme could not make its tree (out of memory)");
    // nvme_scan_ctrl puts the controller into the tree; nvme_free_tree frees it.
    auto* ctrl = nvme_scan_ctrl(root.get(), controller.c_str());
    if (ctrl == nullptr) {
      if (controllers_of(config_.sysfs_root, nqn).empty())
        return outcome::success(); // gone meanwhile
      return outcome::failure(ec::internal,
                              with_log("libnvme cannot read controller " + controller, log));
    }
    if (nvme_disconnect_ctrl(ctrl) != 0)
      return outcome::failure(ec::internal, with_log("cannot delete controller " + controller
                                                       + " of " + nqn + ": " + std::strerror(errno),
                                                     log));
    return outcome::success();
  }

  outcome write_attribute(const std::string& controller, const std::string& attribute,
                          const std::string& nqn) {
    std::ofstream out{config_.sysfs_root + "/class/nvme/" + controller + "/" + attribute};
    out << "1";
    out.flush();
    if (!out)
      return outcome::failure(ec::internal, "cannot write " + attribute + " of controller "
                                              + controller + " of " + nqn);
    return outcome::success();
  }

  fabrics_config config_;
};

} // namespace

std::unique_ptr<connector> make_fabrics_connector(fabrics_config config) {
  return std::make_unique<fabrics_connector>(std::move(config));
}

} // namespace rds::services::nvme
