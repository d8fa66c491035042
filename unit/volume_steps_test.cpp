// The RouterOS steps (services/rds/volume_steps) against the simulator over HTTP on loopback:
// each step's success and repeat, the driver's own slot found already there, foreign objects in
// the way, the RDS failing or losing answers at every request of a step (the repeat must end in
// the right state), and which codes come back.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "messages/volume_context.hpp"
#include "services/http/http_server.hpp"
#include "services/rds/routeros_client.hpp"
#include "services/rds/routeros_simulator.hpp"
#include "services/rds/volume_steps.hpp"

using namespace rds;
using namespace rds::services;
using namespace rds::services::rds_api;
using namespace std::chrono_literals;

namespace {

/// What happens to the one request a test cuts. To the client a lost answer and a 500 are the
/// same (UNAVAILABLE, retried only if idempotent), so `fail_after` stands for an answer lost
/// after the RDS carried the request out; the real drops are used where the transport matters,
/// as each one costs civetweb's half-second keep-alive wait.
enum class cut {
  /// Answered 500 without being carried out.
  fail,
  /// Carried out, then answered 500.
  fail_after,
  /// The connection closes without an answer; nothing is done.
  drop,
  /// Carried out, then the connection closes without an answer.
  drop_after,
  /// Carried out twice (a resend); the second answer comes back.
  twice,
};

const char* to_string(cut c) {
  switch (c) {
  case cut::fail:
    return "fail";
  case cut::fail_after:
    return "fail_after";
  case cut::drop:
    return "drop";
  case cut::drop_after:
    return "drop_after";
  case cut::twice:
    return "twice";
  }
  return "?";
}

constexpr uint64_t mib = 1u << 20;

/// The simulator behind an HTTP server on 127.0.0.1 (an ephemeral port), shared by every test:
/// starting and stopping civetweb takes seconds. A test replaces the simulator (a fresh data
/// directory, other fault flags) and may cut one request on its way.
struct sim_endpoint {
  std::mutex mutex;
  std::shared_ptr<routeros_simulator> sim;
  /// The request (counted from 1 since arm()) that is cut, 0 for none.
  int cut_at = 0;
  int seen = 0;
  cut how = cut::fail;
  /// Last, so it stops before what its handler uses goes.
  http::server server{"127.0.0.1:0", [this](const http::request& req) { return handle(req); }};

  http::response handle(const http::request& req) {
    std::shared_ptr<routeros_simulator> target;
    bool cut_here = false;
    cut c;
    {
      std::lock_guard<std::mutex> guard{mutex};
      target = sim;
      cut_here = cut_at != 0 && ++seen == cut_at;
      c = how;
    }
    if (target == nullptr)
      return routeros_error(500, "no simulator");
    if (!cut_here)
      return target->handle(req);
    http::response r;
    switch (c) {
    case cut::fail:
      return routeros_error(500, "simulated failure");
    case cut::fail_after:
      target->handle(req);
      return routeros_error(500, "simulated failure after the change");
    case cut::drop:
      r.drop = true;
      return r;
    case cut::drop_after:
      r = target->handle(req);
      r.drop = true;
      return r;
    case cut::twice:
      target->handle(req);
      return target->handle(req);
    }
    return r;
  }

  static sim_endpoint& shared() {
    static sim_endpoint endpoint;
    return endpoint;
  }
};

/// A fresh simulator behind the shared endpoint, a client (with its own breaker) and the steps.
struct rds_fixture {
  sim_endpoint& endpoint = sim_endpoint::shared();
  std::string root = [] {
    char pattern[] = "/tmp/rds-steps-unit-XXXXXX";
    return std::string{mkdtemp(pattern)};
  }();
  int generation = 0;
  std::string dir;
  client_config connection = [this] {
    client_config c;
    c.base_url = "http://127.0.0.1:" + std::to_string(endpoint.server.port()) + "/rest";
    c.user = "rds-csi";
    c.password = "secret";
    c.deadline = 5000ms;
    c.first_backoff = 1ms;
    c.breaker_cooldown = 0ms;
    return c;
  }();
  routeros_client client{connection};
  volume_layout layout;
  volume_steps steps{client, layout};

  rds_fixture() {
    REQUIRE(endpoint.server.error().empty());
    restart({});
  }
  ~rds_fixture() {
    {
      std::lock_guard<std::mutex> guard{endpoint.mutex};
      endpoint.sim.reset();
      endpoint.cut_at = 0;
    }
    std::filesystem::remove_all(root);
  }

  /// A simulator with these fault flags over a fresh data directory, or (keep_state) over the
  /// current one.
  void restart(simulator_config flags, bool keep_state = false) {
    if (!keep_state)
      dir = root + "/" + std::to_string(++generation);
    flags.data_dir = dir;
    flags.password = "secret";
    flags.pool_size = 1024 * mib;
    auto next = std::make_shared<routeros_simulator>(flags);
    REQUIRE(next->error().empty());
    std::lock_guard<std::mutex> guard{endpoint.mutex};
    endpoint.sim = next;
    endpoint.cut_at = 0;
  }

  /// Cuts the n-th request from now.
  void arm(int n, cut c) {
    std::lock_guard<std::mutex> guard{endpoint.mutex};
    endpoint.cut_at = n;
    endpoint.seen = 0;
    endpoint.how = c;
  }
  /// Whether the armed cut was reached; disarms.
  bool disarm() {
    std::lock_guard<std::mutex> guard{endpoint.mutex};
    auto reached = endpoint.cut_at != 0 && endpoint.seen >= endpoint.cut_at;
    endpoint.cut_at = 0;
    return reached;
  }

  /// The pool's files as the RDS lists them (names without the pool).
  std::set<std::string> files() {
    std::vector<file> all;
    REQUIRE(client.list_files(all).ok());
    std::set<std::string> names;
    for (auto& f : all)
      names.insert(f.name.substr(f.name.find('/') + 1));
    return names;
  }
  std::map<std::string, disk> disks() {
    std::vector<disk> all;
    REQUIRE(client.list_file_disks(all).ok());
    std::map<std::string, disk> by_slot;
    for (auto& d : all)
      by_slot[d.slot] = d;
    return by_slot;
  }
  /// Adds a disk by hand, as an operator would.
  disk add_by_hand(const std::string& slot, const std::string& path, uint64_t size) {
    disk wanted, out;
    wanted.slot = slot;
    wanted.file_path = path;
    wanted.file_size = size;
    REQUIRE(client.add_disk(wanted, out).ok());
    return out;
  }
  std::string on_disk(const std::string& file_path) { return dir + file_path; }
  void write_at(const std::string& file_path, const std::string& bytes, long offset = 0) {
    std::fstream f{on_disk(file_path), std::ios::in | std::ios::out | std::ios::binary};
    REQUIRE(f.is_open());
    f.seekp(offset);
    f << bytes;
  }
  std::string read_at(const std::string& file_path, size_t n, long offset = 0) {
    std::ifstream f{on_disk(file_path), std::ios::binary};
    std::string out(n, '\0');
    f.seekg(offset);
    f.read(out.data(), static_cast<std::streamsize>(n));
    return out;
  }
};

create_volume_request volume_request(const std::string& name, uint64_t bytes = 4 * mib) {
  create_volume_request req;
  req.name = name;
  req.size_bytes = bytes;
  req.required_bytes = bytes;
  return req;
}

bool retry_code(ec code) {
  return code == ec::none || code == ec::unavailable || code == ec::aborted;
}

/// Runs `step` with the n-th request cut, for n = 1, 2, ... until a run reaches no cut; after
/// each cut run, repeats the step without faults until it succeeds (at most three times) and
/// checks the state. `setup` prepares a fresh RDS for each n.
void cut_everywhere(rds_fixture& f, const std::function<void()>& setup,
                    const std::function<outcome()>& step, const std::function<void()>& check,
                    std::vector<cut> cuts = {cut::fail, cut::fail_after, cut::twice}) {
  for (auto how : cuts) {
    for (int n = 1;; ++n) {
      CAPTURE(to_string(how));
      CAPTURE(n);
      f.restart({});
      setup();
      f.arm(n, how);
      auto first = step();
      auto reached = f.disarm();
      CAPTURE(first.message);
      CHECK_MESSAGE(retry_code(first.code), to_string(first.code));
      auto result = first;
      for (int repeat = 0; !result.ok() && repeat < 3; ++repeat)
        result = step();
      REQUIRE_MESSAGE(result.ok(), result.message);
      check();
      // Once more: a repeat of a finished step changes nothing.
      REQUIRE(step().ok());
      check();
      if (!reached)
        break;
      REQUIRE(n < 40);
    }
  }
}

} // namespace

TEST_CASE_FIXTURE(rds_fixture, "create a volume: exported, found again, nothing else made") {
  volume_info info;
  auto req = volume_request("pvc-create");
  REQUIRE(steps.create_volume(req, info).ok());
  auto slot = slot_for("pvc-create");
  CHECK(info.volume_id == slot);
  CHECK(info.capacity_bytes == 4 * mib);
  CHECK(info.exported);
  CHECK(info.nqn == volume_nqn(slot));
  CHECK(info.port == layout.nvme_port);
  volume_info again;
  REQUIRE(steps.create_volume(req, again).ok());
  CHECK(again.volume_id == info.volume_id);
  CHECK(disks().size() == 1);
  CHECK(files() == std::set<std::string>{slot + ".img"});
  std::optional<disk> found;
  REQUIRE(steps.find_volume(slot, found).ok());
  CHECK(found->file_path == "/raid10/" + slot + ".img");
  std::vector<volume_info> listed;
  REQUIRE(steps.list_volumes(listed).ok());
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].volume_id == slot);
}

TEST_CASE_FIXTURE(rds_fixture, "create a volume: cut at every request, the repeat ends right") {
  auto slot = slot_for("pvc-cut");
  cut_everywhere(
    *this, [] {},
    [&] {
      volume_info info;
      return steps.create_volume(volume_request("pvc-cut"), info);
    },
    [&] {
      auto all = disks();
      REQUIRE(all.size() == 1);
      auto& d = all.begin()->second;
      CHECK(d.slot == slot);
      CHECK(d.nvme_tcp_export);
      CHECK(d.nvme_tcp_server_nqn == volume_nqn(slot));
      CHECK(d.file_size == 4 * mib);
      CHECK(files() == std::set<std::string>{slot + ".img"});
    },
    {cut::fail, cut::fail_after, cut::twice, cut::drop_after});
}

TEST_CASE_FIXTURE(rds_fixture, "the driver's own slot already there after a lost answer is taken") {
  auto slot = slot_for("pvc-resent");
  // The PUT is the second request (after the look-up): carried out, then sent again.
  arm(2, cut::twice);
  volume_info info;
  auto r = steps.create_volume(volume_request("pvc-resent"), info);
  REQUIRE(disarm());
  REQUIRE_MESSAGE(r.ok(), r.message);
  CHECK(info.volume_id == slot);
  CHECK(info.exported);
  CHECK(disks().size() == 1);

  // A PUT answered 'already exists' for a slot made meanwhile with another file: not ours to
  // take, and not a final answer either.
  restart({});
  arm(2, cut::fail);
  auto slot2 = slot_for("pvc-raced");
  // The cut PUT is answered 500; a disk of the same slot appears by another hand meanwhile.
  CHECK(steps.create_volume(volume_request("pvc-raced"), info).code == ec::unavailable);
  REQUIRE(disarm());
  add_by_hand(slot2, "/raid10/elsewhere.img", 4 * mib);
  CHECK(steps.create_volume(volume_request("pvc-raced"), info).code == ec::already_exists);
}

TEST_CASE_FIXTURE(rds_fixture, "create a volume: what is in the way") {
  volume_info info;
  auto slot = slot_for("pvc-in-the-way");
  SUBCASE("our slot, with another size or file: ALREADY_EXISTS, untouched") {
    add_by_hand(slot, "/raid10/" + slot + ".img", 8 * mib);
    auto req = volume_request("pvc-in-the-way");
    req.limit_bytes = 4 * mib;
    auto r = steps.create_volume(req, info);
    CHECK(r.code == ec::already_exists);
    CHECK(r.message.find("pvc-in-the-way") != std::string::npos);
    restart({});
    add_by_hand(slot, "/raid10/by-hand.img", 4 * mib);
    CHECK(steps.create_volume(volume_request("pvc-in-the-way"), info).code == ec::already_exists);
    CHECK_FALSE(disks().at(slot).nvme_tcp_export);
  }
  SUBCASE("a stray file of our slot (a delete cut after its disk went): removed, create goes on") {
    auto d = add_by_hand(slot, "/raid10/" + slot + ".img", 4 * mib);
    write_at(d.file_path, "old data");
    REQUIRE(client.remove_disk(d.id).ok());
    REQUIRE(files().count(slot + ".img") == 1);
    REQUIRE(steps.create_volume(volume_request("pvc-in-the-way"), info).ok());
    CHECK(info.exported);
    CHECK(read_at(d.file_path, 8) == std::string(8, '\0'));
    CHECK(files() == std::set<std::string>{slot + ".img"});
  }
  SUBCASE("our file used by a disk this driver did not make: UNAVAILABLE, untouched") {
    auto foreign = add_by_hand("by-hand", "/raid10/" + slot + ".img", 4 * mib);
    write_at(foreign.file_path, "theirs");
    auto r = steps.create_volume(volume_request("pvc-in-the-way"), info);
    CHECK(r.code == ec::unavailable);
    CHECK(r.message.find("by-hand") != std::string::npos);
    CHECK(read_at(foreign.file_path, 6) == "theirs");
    CHECK(disks().size() == 1);
    CHECK(disks().count("by-hand") == 1);
  }
}

TEST_CASE_FIXTURE(rds_fixture, "delete a volume: gone with its file; repeats and strangers") {
  volume_info info;
  REQUIRE(steps.create_volume(volume_request("pvc-delete"), info).ok());
  add_by_hand("by-hand", "/raid10/by-hand.img", mib);
  REQUIRE(steps.delete_volume(info.volume_id).ok());
  CHECK(disks().count(info.volume_id) == 0);
  CHECK(files() == std::set<std::string>{"by-hand.img"});
  CHECK(steps.delete_volume(info.volume_id).ok()); // already gone
  // An id this driver never made is no volume of its own: nothing is touched.
  CHECK(steps.delete_volume("by-hand").ok());
  CHECK(disks().count("by-hand") == 1);
  std::optional<disk> found;
  CHECK(steps.find_volume(info.volume_id, found).code == ec::not_found);
  CHECK(steps.find_volume("by-hand", found).code == ec::not_found);
}

TEST_CASE_FIXTURE(rds_fixture,
                  "delete a volume cut after its disk went: the files of the slot go") {
  volume_info info;
  auto slot = slot_for("pvc-half-deleted");
  REQUIRE(steps.create_volume(volume_request("pvc-half-deleted"), info).ok());
  REQUIRE(client.remove_disk(disks().at(slot).id).ok());
  // Files that merely start like the slot are not the driver's.
  std::ofstream{dir + "/raid10/" + slot + ".txt"};
  std::ofstream{dir + "/raid10/" + slot + "x.img"};
  REQUIRE(steps.delete_volume(slot).ok());
  CHECK(files() == std::set<std::string>{slot + ".txt", slot + "x.img"});
}

TEST_CASE_FIXTURE(rds_fixture, "delete a volume: cut at every request, the repeat ends right") {
  auto slot = slot_for("pvc-cut-delete");
  cut_everywhere(
    *this,
    [&] {
      volume_info info;
      REQUIRE(steps.create_volume(volume_request("pvc-cut-delete"), info).ok());
      add_by_hand("by-hand", "/raid10/by-hand.img", mib);
    },
    [&] { return steps.delete_volume(slot); },
    [&] {
      auto all = disks();
      CHECK(all.size() == 1);
      CHECK(all.count("by-hand") == 1);
      CHECK(files() == std::set<std::string>{"by-hand.img"});
    });
}

TEST_CASE_FIXTURE(rds_fixture, "snapshots: made, found again, restored, cloned, deleted") {
  volume_info source;
  REQUIRE(steps.create_volume(volume_request("pvc-source"), source).ok());
  auto source_file = disks().at(source.volume_id).file_path;
  write_at(source_file, "volume content", 1000);
  snapshot_info snap;
  REQUIRE(steps.create_snapshot({"snap-1", source.volume_id}, snap).ok());
  CHECK(snap.snapshot_id == slot_for("snap-1", snapshot_prefix));
  CHECK(snap.source_volume_id == source.volume_id);
  CHECK(snap.size_bytes == 4 * mib);
  CHECK(snap.created_at > 0);
  snapshot_info again;
  REQUIRE(steps.create_snapshot({"snap-1", source.volume_id}, again).ok());
  CHECK(again.created_at == snap.created_at);
  std::vector<snapshot_info> listed;
  REQUIRE(steps.list_snapshots(listed).ok());
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].snapshot_id == snap.snapshot_id);
  // The snapshot keeps what the volume held when it was cut.
  write_at(source_file, "changed later", 1000);

  auto restore = volume_request("pvc-restored", 0);
  restore.source_snapshot_id = snap.snapshot_id;
  volume_info restored;
  REQUIRE(steps.create_volume(restore, restored).ok());
  CHECK(restored.capacity_bytes == 4 * mib); // the source's size when none is asked for
  CHECK(read_at(disks().at(restored.volume_id).file_path, 14, 1000) == "volume content");

  auto clone = volume_request("pvc-clone", 8 * mib);
  clone.source_volume_id = source.volume_id;
  volume_info cloned;
  REQUIRE(steps.create_volume(clone, cloned).ok());
  CHECK(cloned.capacity_bytes == 8 * mib);
  CHECK(read_at(disks().at(cloned.volume_id).file_path, 13, 1000) == "changed later");
  // The same name from another source is another volume.
  auto other = clone;
  other.source_volume_id = restored.volume_id;
  CHECK(steps.create_volume(other, cloned).code == ec::already_exists);

  REQUIRE(steps.delete_snapshot(snap.snapshot_id).ok());
  CHECK(steps.delete_snapshot(snap.snapshot_id).ok());
  REQUIRE(steps.list_snapshots(listed).ok());
  CHECK(listed.empty());
  disk found;
  CHECK(steps.find_snapshot(snap.snapshot_id, found, again).code == ec::not_found);
  CHECK(files().size() == 3);
}

TEST_CASE_FIXTURE(rds_fixture, "create a snapshot: cut at every request, the repeat ends right") {
  auto volume = slot_for("pvc-snap-source");
  auto snapshot = slot_for("snap-cut", snapshot_prefix);
  cut_everywhere(
    *this,
    [&] {
      volume_info info;
      REQUIRE(steps.create_volume(volume_request("pvc-snap-source"), info).ok());
      write_at("/raid10/" + volume + ".img", "snapshot me", 100);
    },
    [&] {
      snapshot_info info;
      return steps.create_snapshot({"snap-cut", volume}, info);
    },
    [&] {
      auto all = disks();
      CHECK(all.size() == 2);
      REQUIRE(all.count(snapshot) == 1);
      snapshot_info info;
      REQUIRE(snapshot_of(layout, all.at(snapshot), info));
      CHECK(info.source_volume_id == volume);
      CHECK(read_at(all.at(snapshot).file_path, 11, 100) == "snapshot me");
      CHECK(files().size() == 2); // no copy left behind
    });
}

TEST_CASE_FIXTURE(rds_fixture, "restore and clone: cut at every request, the repeat ends right") {
  auto volume = slot_for("pvc-origin");
  auto snapshot = slot_for("snap-origin", snapshot_prefix);
  for (bool from_snapshot : {true, false}) {
    CAPTURE(from_snapshot);
    auto req = volume_request("pvc-copy", 8 * mib);
    if (from_snapshot)
      req.source_snapshot_id = snapshot;
    else
      req.source_volume_id = volume;
    auto target = slot_for("pvc-copy");
    cut_everywhere(
      *this,
      [&] {
        volume_info info;
        REQUIRE(steps.create_volume(volume_request("pvc-origin"), info).ok());
        write_at("/raid10/" + volume + ".img", "origin", 4096);
        snapshot_info snap;
        REQUIRE(steps.create_snapshot({"snap-origin", volume}, snap).ok());
      },
      [&] {
        volume_info info;
        return steps.create_volume(req, info);
      },
      [&] {
        auto all = disks();
        CHECK(all.size() == 3);
        REQUIRE(all.count(target) == 1);
        auto& d = all.at(target);
        CHECK(d.nvme_tcp_export);
        CHECK(d.file_size == 8 * mib);
        CHECK(d.file_path == volume_path(layout, target, from_snapshot ? snapshot : volume));
        CHECK(read_at(d.file_path, 6, 4096) == "origin");
        CHECK(files().size() == 3);
      });
  }
}

TEST_CASE_FIXTURE(rds_fixture, "delete a snapshot: cut at every request, the repeat ends right") {
  auto volume = slot_for("pvc-kept");
  auto snapshot = slot_for("snap-deleted", snapshot_prefix);
  cut_everywhere(
    *this,
    [&] {
      volume_info info;
      REQUIRE(steps.create_volume(volume_request("pvc-kept"), info).ok());
      snapshot_info snap;
      REQUIRE(steps.create_snapshot({"snap-deleted", volume}, snap).ok());
    },
    [&] { return steps.delete_snapshot(snapshot); },
    [&] {
      auto all = disks();
      CHECK(all.size() == 1);
      CHECK(all.count(volume) == 1);
      CHECK(files() == std::set<std::string>{volume + ".img"});
    });
}

TEST_CASE_FIXTURE(rds_fixture, "expand a volume: grows once, cut at every request") {
  auto volume = slot_for("pvc-grow");
  cut_everywhere(
    *this,
    [&] {
      volume_info info;
      REQUIRE(steps.create_volume(volume_request("pvc-grow"), info).ok());
    },
    [&] {
      uint64_t capacity = 0;
      auto r = steps.expand_volume(volume, 16 * mib, capacity);
      if (r.ok())
        CHECK(capacity == 16 * mib);
      return r;
    },
    [&] { CHECK(disks().at(volume).file_size == 16 * mib); });
  // Smaller than it is: nothing to do, the size it has.
  uint64_t capacity = 0;
  REQUIRE(steps.expand_volume(volume, mib, capacity).ok());
  CHECK(capacity == 16 * mib);
  CHECK(steps.expand_volume(slot_for("pvc-none"), mib, capacity).code == ec::not_found);
}

TEST_CASE_FIXTURE(rds_fixture, "snapshots: what is in the way") {
  volume_info a, b;
  REQUIRE(steps.create_volume(volume_request("pvc-a"), a).ok());
  REQUIRE(steps.create_volume(volume_request("pvc-b"), b).ok());
  snapshot_info snap;
  SUBCASE("the name taken by a snapshot of another volume: ALREADY_EXISTS") {
    REQUIRE(steps.create_snapshot({"snap", a.volume_id}, snap).ok());
    CHECK(steps.create_snapshot({"snap", b.volume_id}, snap).code == ec::already_exists);
  }
  SUBCASE("an unfinished copy of another volume: dropped, the copy made again") {
    auto partial = slot_for("snap", partial_snapshot_prefix);
    auto stale = snapshot_path(layout, slot_for("snap", snapshot_prefix), b.volume_id, 1);
    add_by_hand(partial, stale, 4 * mib);
    REQUIRE(steps.create_snapshot({"snap", a.volume_id}, snap).ok());
    CHECK(snap.source_volume_id == a.volume_id);
    CHECK(disks().count(partial) == 0);
    CHECK(files().count(stale.substr(8)) == 0);
    CHECK(files().size() == 3);
  }
  SUBCASE("an unfinished copy of the same volume: taken and finished") {
    auto partial = slot_for("snap", partial_snapshot_prefix);
    auto path = snapshot_path(layout, slot_for("snap", snapshot_prefix), a.volume_id, 7);
    add_by_hand(partial, path, 4 * mib);
    REQUIRE(steps.create_snapshot({"snap", a.volume_id}, snap).ok());
    CHECK(snap.created_at == 7);
    CHECK(files().size() == 3);
  }
  SUBCASE("a disk in a snapshot slot with a file this driver did not make is not a snapshot") {
    auto id = slot_for("snap", snapshot_prefix);
    add_by_hand(id, "/raid10/by-hand.img", mib);
    disk found;
    CHECK(steps.find_snapshot(id, found, snap).code == ec::internal);
    std::vector<snapshot_info> listed;
    REQUIRE(steps.list_snapshots(listed).ok());
    CHECK(listed.empty());
  }
  SUBCASE("ids this driver never made") {
    disk found;
    CHECK(steps.find_snapshot("by-hand", found, snap).code == ec::not_found);
    CHECK(steps.delete_snapshot("by-hand").ok());
    CHECK(steps.create_snapshot({"snap", "by-hand"}, snap).code == ec::not_found);
  }
}

TEST_CASE_FIXTURE(rds_fixture,
                  "codes: final ones only for the request, the RDS's faults retryable") {
  volume_info info;
  snapshot_info snap;
  SUBCASE("the request is the cause") {
    auto restore = volume_request("pvc-restore");
    restore.source_snapshot_id = slot_for("missing", snapshot_prefix);
    CHECK(steps.create_volume(restore, info).code == ec::not_found);
    auto clone = volume_request("pvc-clone");
    clone.source_volume_id = slot_for("missing");
    CHECK(steps.create_volume(clone, info).code == ec::not_found);
    CHECK(steps.create_snapshot({"snap", slot_for("missing")}, snap).code == ec::not_found);
    REQUIRE(steps.create_volume(volume_request("pvc-big", 8 * mib), info).ok());
    auto small = volume_request("pvc-small", 0);
    small.source_volume_id = info.volume_id;
    small.limit_bytes = 4 * mib;
    CHECK(steps.create_volume(small, info).code == ec::out_of_range);
    CHECK(disks().size() == 1); // nothing made for a refused request
  }
  SUBCASE("every verb failing or losing its answers: UNAVAILABLE, never a final code") {
    REQUIRE(steps.create_volume(volume_request("pvc-there"), info).ok());
    REQUIRE(steps.create_snapshot({"snap-there", info.volume_id}, snap).ok());
    auto volume = info.volume_id;
    // Every verb failing; and a PUT carried out with its answer lost (each lost answer waits
    // half a second, so only the verb of the issue).
    std::vector<std::pair<std::string, bool>> faults{{"GET", false},   {"PUT", false},
                                                     {"PATCH", false}, {"DELETE", false},
                                                     {"POST", false},  {"PUT", true}};
    for (auto& [verb, lost] : faults) {
      {
        CAPTURE(verb);
        CAPTURE(lost);
        simulator_config flags;
        (lost ? flags.drop_after_rate : flags.error_rate)[verb] = 1.0;
        restart(flags, true);
        std::vector<outcome> results;
        volume_info v;
        snapshot_info s;
        uint64_t n = 0;
        auto clone = volume_request("pvc-clone-storm");
        clone.source_volume_id = volume;
        results.push_back(steps.create_volume(volume_request("pvc-storm"), v));
        results.push_back(steps.create_volume(clone, v));
        results.push_back(steps.create_snapshot({"snap-storm", volume}, s));
        results.push_back(steps.expand_volume(volume, 8 * mib, n));
        results.push_back(steps.delete_snapshot(snap.snapshot_id));
        results.push_back(steps.delete_volume(slot_for("pvc-storm")));
        for (auto& r : results) {
          CAPTURE(r.message);
          CHECK(retry_code(r.code));
        }
      }
    }
  }
  SUBCASE("the breaker open: UNAVAILABLE at once") {
    simulator_config flags;
    flags.error_rate["GET"] = 1.0;
    restart(flags);
    for (int i = 0; i < 3; ++i)
      CHECK(steps.create_volume(volume_request("pvc-x"), info).code == ec::unavailable);
    CHECK(client.breaker() != breaker_state::closed);
  }
  SUBCASE("the pool") {
    uint64_t free = 0;
    REQUIRE(steps.pool_free(free).ok());
    CHECK(free == 1024 * mib);
    volume_layout elsewhere;
    elsewhere.volume_base_path = "/nvme1/volumes";
    CHECK(pool_of(elsewhere) == "nvme1");
    CHECK(volume_steps{client, elsewhere}.pool_free(free).code == ec::not_found);
  }
}

TEST_CASE_FIXTURE(rds_fixture, "a fault storm on every verb: retried like a provisioner, the "
                               "state is exactly right") {
  simulator_config flags;
  flags.seed = 7;
  flags.drop_rate = 0.01;
  for (auto* verb : {"GET", "PUT", "PATCH", "DELETE", "POST"}) {
    flags.error_rate[verb] = 0.15;
    flags.drop_after_rate[verb] = 0.02;
  }
  restart(flags);
  std::map<ec, int> seen;
  auto until_done = [&](const std::function<outcome()>& step) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto r = step();
      ++seen[r.code];
      CAPTURE(r.message);
      CHECK(retry_code(r.code));
      if (r.ok())
        return;
    }
    FAIL("never succeeded");
  };
  std::set<std::string> kept;
  for (int i = 0; i < 24; ++i) {
    auto name = "pvc-storm-" + std::to_string(i);
    volume_info info;
    until_done([&] { return steps.create_volume(volume_request(name, mib), info); });
    if (i % 3 == 0)
      until_done([&] { return steps.delete_volume(slot_for(name)); });
    else
      kept.insert(slot_for(name));
  }
  // What is there, seen without faults.
  restart({}, true);
  std::set<std::string> slots, expected_files;
  for (auto& [slot, d] : disks()) {
    slots.insert(slot);
    CHECK(d.nvme_tcp_export);
  }
  for (auto& slot : kept)
    expected_files.insert(slot + ".img");
  CHECK(slots == kept);
  CHECK(files() == expected_files);
  CHECK(seen[ec::unavailable] > 0); // the storm did reach the steps
}
