// RouterOS records, slot derivation, hostile values, and the simulator's REST semantics
// (driven directly, without HTTP).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "services/codec/base64.hpp"
#include "services/rds/disk.hpp"
#include "services/rds/routeros_client.hpp"
#include "services/rds/routeros_simulator.hpp"

using namespace rds;
using namespace rds::services;
using namespace rds::services::rds_api;

namespace {

struct sim_fixture {
  std::string dir = [] {
    char pattern[] = "/tmp/rds-sim-unit-XXXXXX";
    return std::string{mkdtemp(pattern)};
  }();
  simulator_config config = [this] {
    simulator_config c;
    c.data_dir = dir;
    c.password = "secret";
    c.pool_size = 10u << 20;
    return c;
  }();

  ~sim_fixture() { std::filesystem::remove_all(dir); }

  static http::response call(routeros_simulator& sim, const std::string& method,
                             const std::string& path, const std::string& body = "",
                             const std::string& query = "") {
    return sim.handle(http::request{method, path, query, body, "rds-csi", "secret"});
  }
};

const std::string add_body =
  R"({"type":"file","slot":"csi-0123456789abcdef0123456789ab","file-path":"/raid10/csi-0123456789abcdef0123456789ab.img","file-size":"1048576"})";

} // namespace

TEST_CASE("slots are derived, bounded and stable") {
  auto slot = slot_for("pvc-5c3e8a36-1f0e-4a77-9d27-2b0d4c1f9e11");
  CHECK(slot.size() == max_slot_length);
  CHECK(slot.rfind("csi-", 0) == 0);
  CHECK(slot == slot_for("pvc-5c3e8a36-1f0e-4a77-9d27-2b0d4c1f9e11"));
  CHECK(slot != slot_for("pvc-5c3e8a36-1f0e-4a77-9d27-2b0d4c1f9e12"));
  CHECK(slot_for(std::string(10 * 1024, 'x')).size() == max_slot_length);
  CHECK(slot_for("a\"; /disk remove [find]").find_first_not_of("csi-0123456789abcdef")
        == std::string::npos);
}

TEST_CASE("slot kinds: volumes, snapshots and unfinished snapshots never share a slot") {
  auto volume = slot_for("same-name");
  auto snapshot = slot_for("same-name", snapshot_prefix);
  auto partial = slot_for("same-name", partial_snapshot_prefix);
  CHECK(snapshot.rfind("snp-", 0) == 0);
  CHECK(partial.rfind("tmp-", 0) == 0);
  CHECK(volume.substr(4) == snapshot.substr(4)); // a partial snapshot finds its snapshot
  CHECK(has_slot_shape(volume, volume_prefix));
  CHECK_FALSE(has_slot_shape(volume, snapshot_prefix));
  CHECK(has_slot_shape(snapshot, snapshot_prefix));
  CHECK_FALSE(has_slot_shape("raid10", volume_prefix)); // never the pool
  CHECK_FALSE(has_slot_shape("csi-0123456789abcdef0123456789aB", volume_prefix));
  CHECK_FALSE(has_slot_shape("csi-0123456789abcdef0123456789a", volume_prefix));
}

TEST_CASE("a change shows in the record RouterOS answers, booleans compared as booleans") {
  auto record = R"({".id":"*1A","nvme-tcp-export":"yes","file-size":"1048576","slot":"a"})";
  CHECK(record_shows(record, {{"nvme-tcp-export", "true"}, {"file-size", "1048576"}}));
  CHECK_FALSE(record_shows(record, {{"nvme-tcp-export", "false"}}));
  CHECK_FALSE(record_shows(record, {{"file-size", "2097152"}}));
  CHECK_FALSE(record_shows(record, {{"nvme-tcp-server-nqn", "nqn.x"}})); // not shown at all
  CHECK_FALSE(record_shows("[]", {{"slot", "a"}}));
}

TEST_CASE("byte counts and booleans as RouterOS prints them") {
  uint64_t n = 0;
  CHECK(parse_bytes("1073741824", n));
  CHECK(n == 1073741824);
  CHECK(parse_bytes("18446744073709551615", n));
  for (auto bad : {"", "-1", "1G", "1.5", " 1", "18446744073709551616", "1e9", "0x10"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_bytes(bad, n));
  }
  bool ok = true;
  CHECK(parse_bool("true", ok));
  CHECK(parse_bool("yes", ok));
  CHECK_FALSE(parse_bool("no", ok));
  CHECK(ok);
  parse_bool("maybe", ok);
  CHECK_FALSE(ok);
}

TEST_CASE("disk records round-trip as all-string JSON") {
  disk d;
  d.id = "*1A";
  d.slot = "csi-x";
  d.file_path = "/raid10/csi-x.img";
  d.file_size = 5368709120;
  d.nvme_tcp_export = true;
  d.nvme_tcp_server_nqn = "nqn.2000-02.com.mikrotik:csi-x";
  auto json = to_json(d);
  CHECK(json.find(R"("file-size":"5368709120")") != std::string::npos);
  CHECK(json.find(R"("nvme-tcp-export":"true")") != std::string::npos);
  disk back;
  REQUIRE(disk_from_json(json, back).ok());
  CHECK(back.file_size == d.file_size);
  CHECK(back.nvme_tcp_export);
  CHECK(back.nvme_tcp_server_port == 4420);
  CHECK(disk_from_json(R"({"file-size":"50.0GiB"})", back).code == ec::invalid_argument);
  CHECK(disk_from_json("[]", back).code == ec::invalid_argument);
}

TEST_CASE("base64") {
  std::string out;
  CHECK(codec::encode_base64("rds-csi:secret") == "cmRzLWNzaTpzZWNyZXQ=");
  REQUIRE(codec::decode_base64("cmRzLWNzaTpzZWNyZXQ=", out));
  CHECK(out == "rds-csi:secret");
  CHECK_FALSE(codec::decode_base64("!!", out));
}

TEST_CASE_FIXTURE(sim_fixture, "the simulator: add, export, grow, remove, files, restart") {
  routeros_simulator sim{config};
  REQUIRE(sim.error().empty());
  auto added = call(sim, "PUT", "/rest/disk", add_body);
  REQUIRE(added.status == 200);
  disk d;
  REQUIRE(disk_from_json(added.body, d).ok());
  CHECK(d.id.rfind("*", 0) == 0);
  struct stat st {};
  REQUIRE(::stat((dir + d.file_path).c_str(), &st) == 0);
  CHECK(st.st_size == 1048576);
  CHECK(st.st_blocks == 0); // sparse

  CHECK(call(sim, "PUT", "/rest/disk", add_body).status == 400); // slot exists
  auto found = call(sim, "GET", "/rest/disk", "", "slot=" + d.slot);
  CHECK(found.body.find(d.id) != std::string::npos);
  CHECK(call(sim, "GET", "/rest/disk", "", "slot=none").body == "[]");

  auto exported = call(sim, "PATCH", "/rest/disk/" + d.id,
                       R"({"nvme-tcp-export":"true","nvme-tcp-server-port":"4420",)"
                       R"("nvme-tcp-server-nqn":"nqn.2000-02.com.mikrotik:csi-x"})");
  REQUIRE(exported.status == 200);
  CHECK(exported.body.find(R"("nvme-tcp-export":"true")") != std::string::npos);
  CHECK(call(sim, "PATCH", "/rest/disk/" + d.id, R"({"file-size":"2097152"})").status == 200);
  CHECK(call(sim, "PATCH", "/rest/disk/" + d.id, R"({"file-size":"1024"})").status == 400);
  CHECK(call(sim, "PATCH", "/rest/disk/" + d.id, R"({"file-size":"999999999999"})").status
        == 400); // more than the pool has

  {
    routeros_simulator restarted{config}; // the state survives a restart
    auto again = call(restarted, "GET", "/rest/disk/" + d.id);
    REQUIRE(again.status == 200);
    CHECK(again.body.find(R"("file-size":"2097152")") != std::string::npos);
  }

  CHECK(call(sim, "DELETE", "/rest/disk/" + d.id).status == 200);
  CHECK(call(sim, "DELETE", "/rest/disk/" + d.id).status == 404);
  CHECK(call(sim, "GET", "/rest/disk/" + d.id).body.find(R"("error":404)") != std::string::npos);
  // The backing file stays, as on the real device, until it is removed through /file.
  auto files = call(sim, "GET", "/rest/file", "", "name=raid10/" + d.slot + ".img");
  auto id_at = files.body.find(R"(".id":")");
  REQUIRE(id_at != std::string::npos);
  auto file_id = files.body.substr(id_at + 7, files.body.find('"', id_at + 7) - id_at - 7);
  CHECK(call(sim, "DELETE", "/rest/file/" + file_id).status == 200);
  CHECK(::stat((dir + d.file_path).c_str(), &st) != 0);
}

TEST_CASE_FIXTURE(sim_fixture, "the simulator refuses what RouterOS refuses") {
  routeros_simulator sim{config};
  auto body = [](const std::string& slot, const std::string& path, const std::string& size) {
    return R"({"type":"file","slot":")" + slot + R"(","file-path":")" + path + R"(","file-size":")"
           + size + R"("})";
  };
  auto long_slot = std::string(33, 'a');
  CHECK(
    call(sim, "PUT", "/rest/disk", body(long_slot, "/raid10/a.img", "1024")).body.find("too long")
    != std::string::npos);
  CHECK(call(sim, "PUT", "/rest/disk", body("a", "/raid10/../etc/passwd", "1024")).status == 400);
  CHECK(call(sim, "PUT", "/rest/disk", body("a", "/elsewhere/a.img", "1024")).status == 400);
  CHECK(call(sim, "PUT", "/rest/disk", body("a\";x", "/raid10/a.img", "1024")).status == 400);
  CHECK(call(sim, "PUT", "/rest/disk", body("a", "/raid10/a.img", "-1")).status == 400);
  CHECK(call(sim, "PUT", "/rest/disk", body("a", "/raid10/a.img", "99999999999"))
          .body.find("not enough space")
        != std::string::npos);
  CHECK(call(sim, "GET", "/rest/nothing").status == 400);
  CHECK(sim.handle(http::request{"GET", "/rest/disk", "", "", "rds-csi", "wrong"}).status == 401);
  config.deny_policy = true;
  routeros_simulator denied{config};
  auto refused = call(denied, "GET", "/rest/disk");
  CHECK(refused.status == 500);
  CHECK(refused.body.find("not allowed (9)") != std::string::npos);
}

TEST_CASE_FIXTURE(sim_fixture, "the simulator: copy, rename, and POST set and remove") {
  routeros_simulator sim{config};
  auto add = [&](const std::string& slot, const std::string& size) {
    disk d;
    auto r = call(sim, "PUT", "/rest/disk",
                  R"({"type":"file","slot":")" + slot + R"(","file-path":"/raid10/)" + slot
                    + R"(.img","file-size":")" + size + R"("})");
    REQUIRE(r.status == 200);
    REQUIRE(disk_from_json(r.body, d).ok());
    return d;
  };
  auto from = add("from", "1048576"), to = add("to", "2097152"), small = add("small", "4096");
  {
    std::fstream f{dir + from.file_path, std::ios::in | std::ios::out | std::ios::binary};
    f.seekp(1048576 - 5);
    f << "tail!";
  }
  CHECK(call(sim, "POST", "/rest/disk/copy", R"({"src":"from","dst":"to"})").status == 200);
  {
    std::ifstream f{dir + to.file_path, std::ios::binary};
    f.seekg(1048576 - 5);
    std::string tail(5, '\0');
    f.read(tail.data(), 5);
    CHECK(tail == "tail!");
  }
  CHECK(call(sim, "POST", "/rest/disk/copy", R"({"src":"from","dst":"small"})").status == 400);
  CHECK(call(sim, "POST", "/rest/disk/copy", R"({"src":"none","dst":"to"})").status == 400);

  // A slot can be renamed, but not to one that exists or is too long.
  CHECK(call(sim, "PATCH", "/rest/disk/" + to.id, R"({"slot":"renamed"})").status == 200);
  CHECK(call(sim, "GET", "/rest/disk", "", "slot=renamed").body.find(to.id) != std::string::npos);
  CHECK(call(sim, "PATCH", "/rest/disk/" + to.id, R"({"slot":"from"})").status == 400);
  CHECK(
    call(sim, "PATCH", "/rest/disk/" + to.id, R"({"slot":")" + std::string(33, 'a') + "\"}").status
    == 400);

  // POST .../set and .../remove take the id in the body and answer an empty list.
  auto set =
    call(sim, "POST", "/rest/disk/set", R"({".id":")" + small.id + R"(","file-size":"8192"})");
  CHECK(set.status == 200);
  CHECK(set.body == "[]");
  CHECK(call(sim, "GET", "/rest/disk/" + small.id).body.find(R"("file-size":"8192")")
        != std::string::npos);
  CHECK(call(sim, "POST", "/rest/disk/remove", R"({".id":")" + small.id + R"("})").status == 200);
  CHECK(call(sim, "GET", "/rest/disk/" + small.id).status == 404);
  CHECK(call(sim, "POST", "/rest/disk/frobnicate", "{}").status == 400);
}

TEST_CASE_FIXTURE(sim_fixture, "the simulator's legacy mode answers PATCH and DELETE by id idly") {
  config.legacy_rest = true;
  routeros_simulator sim{config};
  auto r = call(sim, "PUT", "/rest/disk", add_body);
  disk d;
  REQUIRE(disk_from_json(r.body, d).ok());
  auto patched = call(sim, "PATCH", "/rest/disk/" + d.id, R"({"nvme-tcp-export":"true"})");
  CHECK(patched.status == 200);
  CHECK_FALSE(record_shows(patched.body, {{"nvme-tcp-export", "true"}}));
  CHECK(call(sim, "DELETE", "/rest/disk/" + d.id).status == 200);
  CHECK(call(sim, "GET", "/rest/disk/" + d.id).status == 200); // still there
  CHECK(call(sim, "POST", "/rest/disk/set", R"({".id":")" + d.id + R"(","nvme-tcp-export":"true"})")
          .status
        == 200);
  CHECK(record_shows(call(sim, "GET", "/rest/disk/" + d.id).body, {{"nvme-tcp-export", "true"}}));
}

TEST_CASE("a list item that is no flat record is skipped, however deeply it nests") {
  // 300,000 levels: RapidJSON's writer recursed once per level and overflowed the stack.
  auto deep = std::string(300000, '[') + std::string(300000, ']');
  const std::string good =
    R"({".id":"*1","type":"file","slot":"csi-0123456789abcdef0123456789ab","file-path":"/raid10/csi-0123456789abcdef0123456789ab.img","file-size":"1048576"})";
  http::server answering{"127.0.0.1:0", [&](const http::request&) {
                           http::response r;
                           r.body =
                             "[" + deep + R"(,{"slot":{"nested":)" + deep + "}}," + good + "]";
                           return r;
                         }};
  REQUIRE(answering.error().empty());
  client_config c;
  c.base_url = "http://127.0.0.1:" + std::to_string(answering.port()) + "/rest";
  c.user = "rds-csi";
  c.password = "secret";
  routeros_client client{c};
  std::vector<disk> disks;
  REQUIRE(client.list_file_disks(disks).ok());
  REQUIRE(disks.size() == 1);
  CHECK(disks[0].slot == "csi-0123456789abcdef0123456789ab");
}
