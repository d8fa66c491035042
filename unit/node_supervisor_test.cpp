// The node supervisor routes by volume: a node_volume per volume id, spawned on the first call,
// listed in its status, and gone with the supervisor.
#include <filesystem>

#include "actors/node_supervisor.hpp"
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
