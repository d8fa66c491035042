// The node operations. Each one looks at the system as it is (sysfs, the mount table, the
// target path) before it changes anything, so every call is idempotent and a restarted plugin
// carries on where the node stands.
#include "actors/nvme_io.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "messages/node_path.hpp"
#include "services/log/log.hpp"
#include "services/mount/mounts.hpp"
#include "services/mount/path_guard.hpp"
#include "services/nvme/sysfs.hpp"
#include "services/nvme/target.hpp"

namespace rds::actors {

namespace {

using namespace services;
using clock_type = std::chrono::steady_clock;
using std::optional;

struct context {
  const node_config& config;
  const metrics_actor& metrics;
  nvme_io_actor::pointer self;
  const device_listener& listener;

  std::string nqn_of(const std::string& volume_id) const { return volume_nqn(volume_id); }

  void mount_op(const char* operation, const outcome& r) const {
    self->send(metrics, mount_recorded{operation, r.ok() ? "success" : to_string(r.code)});
  }

  void count_connections() const {
    self->send(metrics, nvme_connections_counted{nvme::managed_controllers(
                          config.connector->sysfs_root(), config.managed_prefix)});
  }

  optional<nvme::namespace_device> device(const std::string& nqn) const {
    auto d = nvme::resolve_device(config.connector->sysfs_root(), nqn);
    if (d)
      self->send(listener, device_resolved{d->dev_path});
    return d;
  }

  /// The namespace appears asynchronously after a connect.
  optional<nvme::namespace_device> wait_device(const std::string& nqn) const {
    auto end = clock_type::now() + config.device_wait;
    auto d = device(nqn);
    while (!d && clock_type::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
      d = device(nqn);
    }
    return d;
  }
};

bool same_device(const mount::mount_entry& m, const nvme::namespace_device& d) {
  return m.major == d.major && m.minor == d.minor;
}

outcome fail(ec code, std::string message) {
  return outcome::failure(code, std::move(message));
}

/// The staging mount shows another device than the subsystem's namespace now (the controller
/// was renumbered by a reconnect): mount the namespace again at the staging path and move every
/// bind mount of the old device (the publish targets) over to it.
outcome recover_stale(const context& c, const mount::mount_entry& stale,
                      const nvme::namespace_device& now) {
  log::warning("staging mount ", stale.mount_point, " shows device ", stale.major, ":", stale.minor,
               " but the subsystem's namespace is now ", now.dev_path, " (", now.major, ":",
               now.minor, "): recovering");
  c.self->send(c.metrics, stale_mount_recorded{false, "detected"});
  auto old_mounts = mount::mounts_of(stale.major, stale.minor);
  auto result = outcome::success();
  // Lazily: pods still hold the old mounts until they are moved below.
  result = mount::detach_mount(stale.mount_point);
  if (result.ok())
    result = mount::mount_device(now.dev_path, stale.mount_point, stale.fs_type, {},
                                 stale.options.rfind("ro", 0) == 0);
  c.mount_op("mount", result);
  for (auto& m : old_mounts) {
    if (!result.ok() || m.mount_point == stale.mount_point)
      continue;
    bool readonly = m.options.rfind("ro", 0) == 0;
    mount::detach_mount(m.mount_point);
    result = mount::bind_mount(stale.mount_point, m.mount_point, {}, readonly);
    c.mount_op("bind", result);
  }
  c.self->send(c.metrics, stale_mount_recorded{true, result.ok() ? "success" : "failure"});
  return result;
}

/// The mount flags of a filesystem volume, checked before anything changes.
outcome check_access(const node_access& access) {
  if (access.block)
    return outcome::success();
  unsigned long ignored_flags = 0;
  std::string ignored_data;
  return mount::parse_mount_flags(access.mount_flags, ignored_flags, ignored_data);
}

outcome stage(const context& c, const stage_request& req) {
  if (auto r =
        mount::check_usable_path(c.config.kubelet_dir, req.staging_path, "staging_target_path");
      !r.ok())
    return r;
  if (auto r = check_access(req.access); !r.ok())
    return r;
  nvme::nvme_target target;
  target.address = req.address;
  target.port = req.port;
  target.nqn = req.nqn;
  target.host_nqn = c.config.host_nqn;
  target.ctrl_loss_tmo = req.ctrl_loss_tmo;
  target.reconnect_delay = req.reconnect_delay;
  target.keep_alive_tmo = req.keep_alive_tmo;
  {
    std::string options;
    if (auto r = nvme::fabrics_options(target, options); !r.ok())
      return r;
  }
  auto begin = clock_type::now();
  bool reused = false;
  auto connected = c.config.connector->connect(target, reused);
  auto seconds = std::chrono::duration<double>(clock_type::now() - begin).count();
  c.self->send(
    c.metrics,
    nvme_connect_recorded{
      connected.ok() ? (reused ? "reused" : "success") : to_string(connected.code), seconds,
      nvme::managed_controllers(c.config.connector->sysfs_root(), c.config.managed_prefix)});
  if (!connected.ok())
    return connected;
  auto device = c.wait_device(req.nqn);
  if (!device)
    return fail(ec::unavailable, "connected to " + req.nqn + " but no namespace appeared in "
                                   + std::to_string(c.config.device_wait.count()) + " ms");
  // A raw block volume is only connected at staging; publish places the device node.
  if (req.access.block)
    return outcome::success();
  if (auto mounted = mount::mount_at(req.staging_path)) {
    if (same_device(*mounted, *device))
      return outcome::success(); // staged already
    return recover_stale(c, *mounted, *device);
  }
  std::string existing;
  if (auto r = mount::probe_filesystem(c.config.tools, device->dev_path, existing); !r.ok())
    return r; // blkid could not tell: never format
  if (existing.empty()) {
    auto made = mount::make_filesystem(c.config.tools, device->dev_path, req.access.fs_type);
    c.mount_op("format", made);
    if (!made.ok())
      return made;
    existing = req.access.fs_type;
  } else if (existing != req.access.fs_type) {
    return fail(ec::failed_precondition, "volume " + req.volume_id + " holds " + existing
                                           + ", not the " + req.access.fs_type + " asked for");
  }
  auto mounted = mount::mount_device(device->dev_path, req.staging_path, existing,
                                     req.access.mount_flags, false);
  c.mount_op("mount", mounted);
  return mounted;
}

outcome unstage(const context& c, const unstage_request& req) {
  if (auto r =
        mount::check_usable_path(c.config.kubelet_dir, req.staging_path, "staging_target_path");
      !r.ok())
    return r;
  auto nqn = c.nqn_of(req.volume_id);
  // Nothing changes while anything else on the node still uses the device: a bind mount of a
  // filesystem, or the device node of a raw block publish.
  if (auto device = c.device(nqn)) {
    for (auto& m : mount::mounts_of(device->major, device->minor))
      if (m.mount_point != req.staging_path)
        return fail(ec::failed_precondition, "volume " + req.volume_id + " is still mounted at "
                                               + m.mount_point + ": unpublish it first");
    auto nodes = mount::device_nodes_under(c.config.kubelet_dir, device->major, device->minor);
    if (!nodes.empty())
      return fail(ec::failed_precondition, "volume " + req.volume_id + " is still published at "
                                             + nodes.front() + ": unpublish it first");
  }
  if (mount::mount_at(req.staging_path)) {
    auto r = mount::unmount(req.staging_path);
    c.mount_op("unmount", r);
    if (!r.ok())
      return r;
  }
  if (nqn.compare(0, c.config.managed_prefix.size(), c.config.managed_prefix) != 0) {
    log::warning(log::volume(req.volume_id), "not disconnecting ", nqn,
                 ": outside the managed prefix ", c.config.managed_prefix);
    return outcome::success();
  }
  auto r = c.config.connector->disconnect(nqn);
  c.count_connections();
  return r;
}

outcome publish_block(const context& c, const node_publish_request& req,
                      const nvme::namespace_device& device) {
  auto rdev = makedev(device.major, device.minor);
  mode_t mode = S_IFBLK | (req.readonly ? 0440 : 0660);
  struct stat st {};
  if (::lstat(req.target_path.c_str(), &st) == 0) {
    if (S_ISBLK(st.st_mode) && st.st_rdev == rdev && (st.st_mode & 0777) == (mode & 0777))
      return outcome::success(); // published already
    if (mount::mount_at(req.target_path))
      return fail(ec::already_exists, req.target_path + " is a mount point, not this volume");
    if (S_ISDIR(st.st_mode) ? ::rmdir(req.target_path.c_str()) != 0
                            : ::unlink(req.target_path.c_str()) != 0)
      return fail(ec::internal, "cannot replace " + req.target_path + ": " + std::strerror(errno));
  }
  // kubelet leaves the parent of a block target to the plugin (it is inside the kubelet
  // directory: checked before the call).
  std::error_code ignored;
  std::filesystem::create_directories(req.target_path.substr(0, req.target_path.rfind('/')),
                                      ignored);
  // A device node of its own: never a bind mount of /dev (reference/go-driver.md §3.7).
  // chmod: mknod's mode passes through the umask.
  auto r = ::mknod(req.target_path.c_str(), mode, rdev) == 0
               && ::chmod(req.target_path.c_str(), mode & 0777) == 0
             ? outcome::success()
             : fail(ec::internal, "mknod " + req.target_path + ": " + std::strerror(errno));
  c.mount_op("mknod", r);
  return r;
}

outcome publish(const context& c, const node_publish_request& req) {
  if (auto r =
        mount::check_usable_path(c.config.kubelet_dir, req.staging_path, "staging_target_path");
      !r.ok())
    return r;
  if (auto r = mount::check_usable_path(c.config.kubelet_dir, req.target_path, "target_path");
      !r.ok())
    return r;
  if (req.staging_path == req.target_path)
    return fail(ec::invalid_argument, "target_path must differ from staging_target_path");
  if (auto r = check_access(req.access); !r.ok())
    return r;
  auto device = c.device(c.nqn_of(req.volume_id));
  if (!device)
    return fail(ec::failed_precondition,
                "volume " + req.volume_id + " is not staged on this node (no NVMe namespace)");
  if (req.access.block)
    return publish_block(c, req, *device);
  auto staged = mount::mount_at(req.staging_path);
  if (!staged)
    return fail(ec::failed_precondition,
                "volume " + req.volume_id + " is not staged at " + req.staging_path);
  if (!same_device(*staged, *device)) {
    if (auto r = recover_stale(c, *staged, *device); !r.ok())
      return r;
    staged = mount::mount_at(req.staging_path);
  }
  if (auto target = mount::mount_at(req.target_path)) {
    bool readonly = target->options.rfind("ro", 0) == 0;
    if (same_device(*target, *device) && readonly == req.readonly)
      return outcome::success(); // published already: never a second mount on top
    return fail(ec::already_exists,
                req.target_path + " is already mounted "
                  + (same_device(*target, *device) ? std::string{"with another read-only setting"}
                                                   : "from another device"));
  }
  if (::mkdir(req.target_path.c_str(), 0750) != 0 && errno != EEXIST)
    return fail(ec::internal, "cannot create " + req.target_path + ": " + std::strerror(errno));
  auto r =
    mount::bind_mount(req.staging_path, req.target_path, req.access.mount_flags, req.readonly);
  c.mount_op("bind", r);
  return r;
}

outcome unpublish(const context& c, const node_unpublish_request& req) {
  if (auto r = mount::check_usable_path(c.config.kubelet_dir, req.target_path, "target_path");
      !r.ok())
    return r;
  struct stat st {};
  if (::lstat(req.target_path.c_str(), &st) != 0)
    return errno == ENOENT ? outcome::success()
                           : fail(ec::internal, "cannot look at " + req.target_path + ": "
                                                  + std::strerror(errno));
  if (mount::mount_at(req.target_path)) {
    auto r = mount::unmount(req.target_path);
    c.mount_op("unmount", r);
    if (!r.ok())
      return r;
    if (mount::mount_at(req.target_path))
      return fail(ec::internal, req.target_path + " is still a mount point after unmounting");
  }
  // rmdir or unlink: a directory with anything left in it stays, with an error.
  if (S_ISDIR(st.st_mode) ? ::rmdir(req.target_path.c_str()) != 0
                          : ::unlink(req.target_path.c_str()) != 0)
    return errno == ENOENT
             ? outcome::success()
             : fail(ec::internal, "cannot remove " + req.target_path + ": " + std::strerror(errno)
                                    + " (it is never removed recursively)");
  return outcome::success();
}

/// The volume's condition: its subsystem connected, its controller live, and what the mount or
/// device node shows (`shown`) still its namespace.
void judge(const optional<nvme::namespace_device>& device, dev_t shown, const std::string& what,
           volume_stats& out) {
  out.abnormal = true;
  if (!device)
    out.condition = "the NVMe subsystem of the volume is not connected";
  else if (device->state != "live")
    out.condition = "NVMe controller " + device->controller + " is " + device->state;
  else if (shown != makedev(device->major, device->minor))
    out.condition = what + " shows device " + std::to_string(major(shown)) + ":"
                    + std::to_string(minor(shown)) + " but the namespace is now " + device->dev_path
                    + " (stale)";
  else {
    out.abnormal = false;
    out.condition =
      what + " shows " + device->dev_path + ", NVMe controller " + device->controller + " is live";
  }
}

/// The subsystem whose namespace is the device `shown` now, if any.
optional<std::string> owner_of(const std::string& root, dev_t shown) {
  std::error_code error;
  std::vector<std::string> seen;
  for (auto& entry : std::filesystem::directory_iterator(root + "/class/nvme", error)) {
    auto nqn = nvme::read_attribute(entry.path().string() + "/subsysnqn");
    if (nqn.empty() || std::find(seen.begin(), seen.end(), nqn) != seen.end())
      continue;
    seen.push_back(nqn);
    auto device = nvme::resolve_device(root, nqn);
    if (device && makedev(device->major, device->minor) == shown)
      return nqn;
  }
  return std::nullopt;
}

/// What NodeGetVolumeStats and NodeExpandVolume find at a volume path.
struct located {
  bool block = false;
  /// The device the mount or the device node shows.
  dev_t shown = 0;
  optional<mount::mount_entry> mounted;
  /// The volume's namespace now, if its subsystem is connected.
  optional<nvme::namespace_device> device;
  /// `shown` is that namespace. Otherwise the path shows a device that is no namespace any more
  /// (the controller was renumbered or the subsystem went away): the volume's, gone stale.
  bool current = false;
};

/// NOT_FOUND unless the volume is staged or published at `req.volume_path`: the path shows the
/// volume's namespace, or, inside the kubelet directory, a filesystem or device node of an NVMe
/// namespace that no subsystem has any more. A path showing another subsystem's namespace, or
/// anything else, is not the volume's, wherever it is.
outcome locate(const context& c, const volume_path_request& req, located& out) {
  auto not_found = [&](const std::string& why) {
    return fail(ec::not_found,
                "volume " + req.volume_id + " is not at " + req.volume_path + ": " + why);
  };
  struct stat st {};
  if (::lstat(req.volume_path.c_str(), &st) != 0)
    return not_found("the path does not exist");
  out.device = c.device(c.nqn_of(req.volume_id));
  out.block = S_ISBLK(st.st_mode);
  if (out.block) {
    out.shown = st.st_rdev;
  } else {
    out.mounted = mount::mount_at(req.volume_path);
    if (!out.mounted)
      return not_found("it is neither a mount point nor a device node");
    out.shown = makedev(out.mounted->major, out.mounted->minor);
  }
  if (out.device && out.shown == makedev(out.device->major, out.device->minor)) {
    out.current = true;
    return outcome::success();
  }
  if (auto owner = owner_of(c.config.connector->sysfs_root(), out.shown))
    return not_found("it shows the namespace of " + *owner);
  if (!inside_kubelet_dir(c.config.kubelet_dir, req.volume_path))
    return not_found("it does not show the volume's namespace"
                     + std::string{out.device ? "" : " (its subsystem is not connected here)"});
  if (!out.block
      && (out.mounted->source.rfind("/dev/", 0) != 0
          || (out.mounted->fs_type != "ext4" && out.mounted->fs_type != "xfs")))
    return not_found(out.mounted->source + " (" + out.mounted->fs_type
                     + ") is mounted there, not a volume's filesystem");
  return outcome::success();
}

outcome stats(const context& c, const volume_path_request& req, volume_stats& out) {
  located at;
  if (auto r = locate(c, req, at); !r.ok())
    return r;
  auto& device = at.device;
  if (at.block) {
    out.block = true;
    out.total_bytes = device ? device->size_bytes : 0;
    judge(device, at.shown, "the device node", out);
    return outcome::success();
  }
  auto mounted = at.mounted;
  if (device && device->state == "live" && !at.current) {
    // Renumbered: repair the mounts (the staging mount is found from the bind's device).
    for (auto& m : mount::mounts_of(mounted->major, mounted->minor))
      if (m.root == "/" && m.mount_point != req.volume_path) {
        recover_stale(c, m, *device);
        break;
      }
    mounted = mount::mount_at(req.volume_path);
  }
  mount::usage u;
  if (auto r = mount::filesystem_usage(req.volume_path, u); !r.ok())
    return r;
  out.total_bytes = u.total_bytes;
  out.available_bytes = u.available_bytes;
  out.used_bytes = u.used_bytes;
  out.total_inodes = u.total_inodes;
  out.free_inodes = u.free_inodes;
  out.used_inodes = u.used_inodes;
  judge(device, mounted ? makedev(mounted->major, mounted->minor) : 0, "the mount", out);
  return outcome::success();
}

outcome expand(const context& c, const volume_path_request& req, uint64_t& capacity) {
  located at;
  if (auto r = locate(c, req, at); !r.ok())
    return r;
  if (!at.current)
    return fail(ec::unavailable,
                req.volume_path + " shows a device that is no longer the namespace of volume "
                  + req.volume_id + " (stale or disconnected): the next NodeGetVolumeStats "
                  + "recovers it; try again then");
  auto nqn = c.nqn_of(req.volume_id);
  if (auto r = c.config.connector->rescan(nqn); !r.ok())
    return r;
  // The new size shows once the kernel has read it again.
  auto end = clock_type::now() + c.config.device_wait;
  auto device = c.device(nqn);
  while (device && device->size_bytes < req.required_bytes && clock_type::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    device = c.device(nqn);
  }
  if (!device || device->size_bytes < req.required_bytes)
    return fail(ec::internal, "the namespace of " + req.volume_id + " did not grow to "
                                + std::to_string(req.required_bytes) + " bytes");
  capacity = device->size_bytes;
  if (at.block)
    return outcome::success(); // a raw device: the new size is all there is to it
  auto r =
    mount::grow_filesystem(c.config.tools, device->dev_path, req.volume_path, at.mounted->fs_type);
  c.mount_op("grow", r);
  return r;
}

} // namespace

nvme_io_actor::behavior_type nvme_io(nvme_io_actor::pointer self, node_config config,
                                     metrics_actor metrics, device_listener listener) {
  // One operation, then the actor (and its thread) ends.
  auto done = [self] { self->quit(); };
  return {
    [=](stage_atom, const stage_request& req) {
      auto r = stage({config, metrics, self, listener}, req);
      done();
      return r;
    },
    [=](unstage_atom, const unstage_request& req) {
      auto r = unstage({config, metrics, self, listener}, req);
      done();
      return r;
    },
    [=](publish_atom, const node_publish_request& req) {
      auto r = publish({config, metrics, self, listener}, req);
      done();
      return r;
    },
    [=](unpublish_atom, const node_unpublish_request& req) {
      auto r = unpublish({config, metrics, self, listener}, req);
      done();
      return r;
    },
    [=](stats_atom, const volume_path_request& req) -> caf::result<outcome, volume_stats> {
      volume_stats out;
      auto r = stats({config, metrics, self, listener}, req, out);
      done();
      return {r, out};
    },
    [=](expand_atom, const volume_path_request& req) -> caf::result<outcome, uint64_t> {
      uint64_t capacity = 0;
      auto r = expand({config, metrics, self, listener}, req, capacity);
      done();
      return {r, capacity};
    },
  };
}

} // namespace rds::actors
