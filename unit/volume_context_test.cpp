// The volume context and StorageClass parameters, read once into a typed value.
#include <doctest/doctest.h>

#include "messages/volume_context.hpp"

using namespace rds;
using namespace std::chrono_literals;

TEST_CASE("one integer reader: the whole text, in range") {
  long long v = 0;
  CHECK(read_integer("42", 0, 100, v));
  CHECK(v == 42);
  CHECK(read_integer("-1", -1, 10, v));
  CHECK(v == -1);
  for (auto text : {"", " 1", "1 ", "+1", "1x", "0x10", "1e3", "--1", "-", "99999999999999999999"})
    CHECK_FALSE(read_integer(text, -100, 100, v));
  CHECK_FALSE(read_integer("101", 0, 100, v));
  CHECK_FALSE(read_integer("-2", -1, 100, v));
  v = 7;
  CHECK_FALSE(read_integer("x", 0, 10, v));
  CHECK(v == 7); // unchanged on failure
}

TEST_CASE("StorageClass parameters: defaults, every key checked, unknown keys refused") {
  context_defaults d;
  d.nvme_address = "192.0.2.1";
  volume_context c;
  REQUIRE(read_storage_class({}, d, c).ok());
  CHECK(c.nvme_address == "192.0.2.1");
  CHECK(c.nvme_port == 4420);
  CHECK(c.migration_timeout == 300s);
  CHECK_FALSE(c.ctrl_loss_tmo);
  auto context = context_of(c);
  CHECK(context.at("migrationTimeoutSeconds") == "300");
  CHECK(context.at("nvmeAddress") == "192.0.2.1");
  CHECK(context.at("nvmePort") == "4420");
  CHECK(context.count("nqn") == 0);
  CHECK(context.count("ctrlLossTmo") == 0); // the node's flag decides

  REQUIRE(read_storage_class({{"nvmeAddress", "::1"},
                              {"nvmePort", "4421"},
                              {"migrationTimeoutSeconds", "600"},
                              {"ctrlLossTmo", "-1"},
                              {"reconnectDelay", "2"},
                              {"keepAliveTmo", "0"},
                              {"volumePath", "/raid10"},
                              {"csi.storage.k8s.io/pvc/name", "anything"}},
                             d, c)
            .ok());
  CHECK(c.nvme_address == "::1");
  CHECK(c.nvme_port == 4421);
  CHECK(c.migration_timeout == 600s);
  CHECK(c.ctrl_loss_tmo == -1);
  CHECK(c.reconnect_delay == 2);
  CHECK(c.keep_alive_tmo == 0);
  context = context_of(c);
  CHECK(context.count("volumePath") == 0);
  CHECK(context.count("csi.storage.k8s.io/pvc/name") == 0);
  CHECK(context.at("ctrlLossTmo") == "-1");

  auto refused = [&](std::map<std::string, std::string> p) {
    auto r = read_storage_class(p, d, c);
    return r.code == ec::invalid_argument && !r.message.empty();
  };
  CHECK(refused({{"nvmeAddress", "rds.example.org"}}));
  CHECK(refused({{"nvmeAddress", "10.0.0.1; rm -rf /"}}));
  CHECK(refused({{"nvmePort", "0"}}));
  CHECK(refused({{"nvmePort", "65536"}}));
  CHECK(refused({{"nvmePort", "44 20"}}));
  CHECK(refused({{"migrationTimeoutSeconds", "29"}}));
  CHECK(refused({{"migrationTimeoutSeconds", "3601"}}));
  CHECK(refused({{"migrationTimeoutSeconds", "5m"}}));
  CHECK(refused({{"ctrlLossTmo", "-2"}}));
  CHECK(refused({{"reconnectDelay", "0"}}));
  CHECK(refused({{"keepAliveTmo", "-1"}}));
  CHECK(refused({{"volumePath", "/other"}}));
  CHECK(refused({{"nvmeadress", "10.0.0.1"}}));
  CHECK(read_storage_class({{"nvmeAddress", "x"}}, d, c).message.find("nvmeAddress")
        != std::string::npos);
}

TEST_CASE("a volume context as passed back: keys Kubernetes adds are ignored, bad values refused") {
  context_defaults d;
  volume_context c;
  std::map<std::string, std::string> context{
    {"nqn", volume_nqn("pvc-1")},
    {"nvmeAddress", "127.0.0.1"},
    {"migrationTimeoutSeconds", "120"},
    {"storage.kubernetes.io/csiProvisionerIdentity", "1700000000000-8081-rds.csi.srvlab.io"}};
  REQUIRE(read_volume_context(context, d, c).ok());
  CHECK(c.nqn == "nqn.2000-02.com.mikrotik:pvc-1");
  CHECK(c.migration_timeout == 120s);
  CHECK(check_stage_context("pvc-1", c).ok());
  CHECK(check_stage_context("pvc-2", c).code == ec::invalid_argument);
  // Absent: the fallback timeout; no address means none (a stage needs one).
  REQUIRE(read_volume_context({}, d, c).ok());
  CHECK(c.migration_timeout == 300s);
  CHECK(c.nvme_address.empty());
  CHECK(check_stage_context("pvc-1", c).code == ec::invalid_argument);
  CHECK(read_volume_context({{"migrationTimeoutSeconds", "abc"}}, d, c).code
        == ec::invalid_argument);
  CHECK(read_volume_context({{"nvmePort", "-5"}}, d, c).code == ec::invalid_argument);
  // What CreateVolume writes reads back the same.
  volume_context made;
  REQUIRE(read_storage_class({{"ctrlLossTmo", "600"}}, d, made).ok());
  made.nqn = volume_nqn("pvc-9");
  volume_context back;
  REQUIRE(read_volume_context(context_of(made), d, back).ok());
  CHECK(back.nqn == made.nqn);
  CHECK(back.nvme_address == made.nvme_address);
  CHECK(back.nvme_port == made.nvme_port);
  CHECK(back.migration_timeout == made.migration_timeout);
  CHECK(back.ctrl_loss_tmo == 600);
  CHECK_FALSE(back.reconnect_delay);
}

TEST_CASE("migrationTimeoutSeconds: whole seconds inside the policy's bounds") {
  context_defaults d;
  volume_context c;
  REQUIRE(read_volume_context({{"migrationTimeoutSeconds", "45"}}, d, c).ok());
  CHECK(c.migration_timeout == 45s);
  for (std::string bad : {"", "29", "3601", "-5", "1e3", "abc", " 60", "60s", "9999999999"}) {
    CAPTURE(bad);
    auto r = read_volume_context({{"migrationTimeoutSeconds", bad}}, d, c);
    CHECK(r.code == ec::invalid_argument);
    CHECK(r.message.find("migrationTimeoutSeconds") != std::string::npos);
  }
  d.migrations.minimum = 1s;
  REQUIRE(read_volume_context({{"migrationTimeoutSeconds", "1"}}, d, c).ok());
  CHECK(c.migration_timeout == 1s);
}
