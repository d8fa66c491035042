// The node supervisor routes by volume: a node_volume per volume id, spawned on the first call,
// listed in its status, and gone with the supervisor; its status shows what each node_volume
// staged and runs, answered while the operation blocks.
#include <caf/after.hpp>

#include <filesystem>
#include <fstream>
#include <future>

#include "actors/node_supervisor.hpp"
#include "messages/volume_context.hpp"
#include "unit/actor_fixture.hpp"

using namespace rds;
using namespace rds::test;

TEST_CASE_FIXTURE(actor_fixture, "the node supervisor spawns a node_volume per volume") {
  char pattern[] = "/tmp/rds-node-sup-XXXXXX";
  std::string dir = mkdtemp(pattern);
  services::nvme::loop_config loop;
  loop.sysfs_root = dir + "/sysfs";
  loop.pool_dir = dir + "/pool"; // empty: every connect fails at once, nothing is attached
  actors::node_config config;
  config.connector = std::make_shared<services::nvme::loop_connector>(loop);
  auto node = sys.spawn(actors::node_supervisor, config, metrics);
  sched.run();
  auto listed = ask<node_status>(node, status_atom_v);
  REQUIRE(listed);
  CHECK(listed->volumes.empty());
  CHECK(listed->states.empty());
  stage_request req;
  req.volume_id = "csi-0123456789abcdef0123456789ab";
  req.staging_path = dir + "/staging";
  req.address = "127.0.0.1";
  req.nqn = "nqn.2000-02.com.mikrotik:" + req.volume_id;
  self->send(node, stage_atom_v, req);
  sched.run();
  listed = ask<node_status>(node, status_atom_v);
  REQUIRE(listed);
  CHECK(listed->volumes == std::vector<std::string>{req.volume_id});
  REQUIRE(listed->states.size() == 1);
  CHECK(listed->states[0].volume_id == req.volume_id);
  self->send_exit(node, caf::exit_reason::user_shutdown);
  sched.run();
  std::filesystem::remove_all(dir);
}

namespace {

/// A connector whose connects wait until the test lets them through; a connect then lays out
/// the sysfs tree of one NVMe namespace for the subsystem (device nvme2n1, 259:4093, a number no
/// real device has).
class held_connector : public services::nvme::connector {
 public:
  explicit held_connector(std::string root)
    : root_(std::move(root)) {}

  outcome connect(const services::nvme::nvme_target& target, bool& reused) override {
    reached_.set_value();
    opened_.get_future().wait_for(std::chrono::seconds{30});
    write("class/nvme/nvme5/subsysnqn", target.nqn);
    write("class/nvme/nvme5/state", "live");
    write("class/nvme-subsystem/nvme-subsys2/subsysnqn", target.nqn);
    write("class/nvme-subsystem/nvme-subsys2/nvme2n1/dev", "259:4093");
    write("class/nvme-subsystem/nvme-subsys2/nvme2n1/size", "2097152");
    std::filesystem::create_directories(root_ + "/dev/block");
    std::filesystem::create_symlink("../../devices/virtual/nvme-subsystem/nvme-subsys2/nvme2n1",
                                    root_ + "/dev/block/259:4093");
    reused = false;
    return outcome::success();
  }
  outcome disconnect(const std::string&) override {
    std::filesystem::remove_all(root_ + "/class");
    std::filesystem::remove_all(root_ + "/dev");
    return outcome::success();
  }
  outcome rescan(const std::string&) override { return outcome::success(); }
  const std::string& sysfs_root() const override { return root_; }

  /// The test thread: a connect is waiting (false after 10 s).
  bool reached() {
    return reached_future_.wait_for(std::chrono::seconds{10}) == std::future_status::ready;
  }
  void open() { opened_.set_value(); }

 private:
  void write(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path{root_ + "/" + path}.parent_path());
    std::ofstream{root_ + "/" + path} << text << "\n";
  }

  std::string root_;
  std::promise<void> reached_;
  std::future<void> reached_future_ = reached_.get_future();
  std::promise<void> opened_;
};

} // namespace

TEST_CASE("the node supervisor shows each volume's operation in flight, device and staging") {
  // nvme_io runs on its own thread: a real actor system, every wait bounded and on an event.
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  caf::scoped_actor caller{sys};
  log::set_threshold(log::level::error);
  char pattern[] = "/tmp/rds-node-status-XXXXXX";
  std::string dir = mkdtemp(pattern);
  auto connector = std::make_shared<held_connector>(dir + "/sysfs");
  actors::node_config config;
  config.connector = connector;
  config.kubelet_dir = dir + "/kubelet";
  config.device_wait = std::chrono::seconds{5};
  auto metrics = sys.spawn(actors::metrics, actors::metrics_config{"", "test.driver"});
  auto node = sys.spawn(actors::node_supervisor, config, metrics);
  auto status = [&] {
    node_status out;
    self->request(node, std::chrono::seconds{1}, status_atom_v)
      .receive([&](node_status& s) { out = std::move(s); },
               [&](caf::error& e) { FAIL("no status answer: ", caf::to_string(e)); });
    return out;
  };
  stage_request req;
  req.volume_id = "csi-0123456789abcdef0123456789ab";
  req.staging_path = config.kubelet_dir + "/plugins/kubernetes.io/csi/pv/pv-1/globalmount";
  req.access.block = true;
  req.address = "127.0.0.1";
  req.nqn = volume_nqn(req.volume_id);
  caller->send(node, stage_atom_v, req);
  REQUIRE(connector->reached());
  // The node_volume reported the stage before it handed it to nvme_io.
  auto s = status();
  REQUIRE(s.states.size() == 1);
  CHECK(s.volumes == std::vector<std::string>{req.volume_id});
  CHECK(s.states[0].volume_id == req.volume_id);
  CHECK(s.states[0].operation == "stage");
  CHECK(s.states[0].operation_since != caf::timestamp{});
  CHECK(s.states[0].staging_path.empty());
  CHECK(s.states[0].device.empty());

  connector->open();
  caller->receive([](const outcome& r) { CHECK(r.ok()); },
                  caf::after(std::chrono::seconds{20}) >> [] { FAIL("no answer to the stage"); });
  // The node_volume reported to the supervisor before it answered.
  s = status();
  REQUIRE(s.states.size() == 1);
  CHECK(s.states[0].operation.empty());
  CHECK(s.states[0].operation_since == caf::timestamp{});
  CHECK(s.states[0].device == "/dev/nvme2n1");
  CHECK(s.states[0].staging_path == req.staging_path);
  CHECK(s.states[0].targets.empty());
  CHECK(s.states[0].last_operation == "stage");
  CHECK(s.states[0].last_result == to_string(ec::none));

  caller
    ->request(node, std::chrono::seconds{20}, unstage_atom_v,
              unstage_request{req.volume_id, req.staging_path})
    .receive([](const outcome& r) { CHECK(r.ok()); },
             [](caf::error& e) { FAIL("unstage failed: ", caf::to_string(e)); });
  s = status();
  REQUIRE(s.states.size() == 1);
  CHECK(s.states[0].staging_path.empty());
  CHECK(s.states[0].device.empty());
  CHECK(s.states[0].last_operation == "unstage");
  self->send_exit(node, caf::exit_reason::user_shutdown);
  self->send_exit(metrics, caf::exit_reason::user_shutdown);
  std::filesystem::remove_all(dir);
}
