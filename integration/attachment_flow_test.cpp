// ControllerPublish/Unpublish through the real plugin binary over its unix socket, with the
// exact /metrics after every step: a full migration, a rollback, a timeout, an RWO conflict, a
// third-node refusal and bad input. This is the end-to-end check whose absence let the Go
// driver ship migration metrics that were always zero.
#include <chrono>
#include <thread>

#include "integration/clean_stop.hpp"
#include "integration/metric_expectations.hpp"
#include "integration/client.hpp"

using namespace rds::test;
using namespace rds::test::series;

namespace {

const std::string a = "node-a", b = "node-b", c = "node-c";
const std::string publish_method = "/csi.v1.Controller/ControllerPublishVolume";

} // namespace

TEST_CASE("migrations, conflicts and their metrics through the real binary") {
  plugin_process plugin{{"--migration-timeout-min=1"}};
  csi_client client{plugin.endpoint()};
  check_series(plugin.metrics_url(), initial_series());
  // Only volumes that exist on the RDS are published: create them first.
  std::map<std::string, std::string> id;
  for (auto name : {"pvc-migrate", "pvc-rollback", "pvc-timeout", "pvc-rwo", "pvc-third"}) {
    id[name] = client.provision(name);
    REQUIRE(!id[name].empty());
  }
  const auto created = "rds_csi_volume_operations_total{operation=\"create\",status=\"success\"}";
  REQUIRE(settled_value(plugin.metrics_url(), created, 5) == 5);
  // From here on, publishing makes no request to the RDS: the volumes are known.
  auto m = driver_series(http_get(plugin.metrics_url()));

  {
    INFO("full migration: publish A, publish B, unpublish A");
    REQUIRE(client.publish(id["pvc-migrate"], a, volume_access::rwx_block).ok());
    m[attach] = 1, m[op_attach] = 1, m[attached] = 1;
    check_series(plugin.metrics_url(), m);
    REQUIRE(client.publish(id["pvc-migrate"], b, volume_access::rwx_block).ok());
    m[started] = 1, m[op_secondary] = 1, m[active] = 1;
    check_series(plugin.metrics_url(), m);
    REQUIRE(
      client.publish(id["pvc-migrate"], b, volume_access::rwx_block).ok()); // retried: no change
    check_series(plugin.metrics_url(), m);
    REQUIRE(client.unpublish(id["pvc-migrate"], a).ok());
    m[success] = 1, m[durations] = 1, m[op_partial] = 1, m[active] = 0;
    check_series(plugin.metrics_url(), m);
    REQUIRE(client.unpublish(id["pvc-migrate"], a).ok()); // already gone: idempotent
    check_series(plugin.metrics_url(), m);
    REQUIRE(client.unpublish(id["pvc-migrate"], b).ok());
    m[detach] = 1, m[op_detach] = 1, m[attached] = 0;
    check_series(plugin.metrics_url(), m);

    INFO("rollback: publish A, publish B, unpublish B");
    REQUIRE(client.publish(id["pvc-rollback"], a, volume_access::rwx_block).ok());
    REQUIRE(client.publish(id["pvc-rollback"], b, volume_access::rwx_block).ok());
    m[attach] = 2, m[op_attach] = 2, m[attached] = 1, m[started] = 2, m[op_secondary] = 2;
    m[active] = 1;
    check_series(plugin.metrics_url(), m);
    REQUIRE(client.unpublish(id["pvc-rollback"], b).ok());
    m[failed] = 1, m[durations] = 2, m[op_partial] = 2, m[active] = 0;
    check_series(plugin.metrics_url(), m);
    REQUIRE(client.unpublish(id["pvc-rollback"], a).ok());
    m[detach] = 2, m[op_detach] = 2, m[attached] = 0;
    check_series(plugin.metrics_url(), m);

    INFO("timeout: migrationTimeoutSeconds=1 and nobody detaches");
    std::map<std::string, std::string> one_second{{"migrationTimeoutSeconds", "1"}};
    REQUIRE(client.publish(id["pvc-timeout"], a, volume_access::rwx_block, one_second).ok());
    REQUIRE(client.publish(id["pvc-timeout"], b, volume_access::rwx_block, one_second).ok());
    m[attach] = 3, m[op_attach] = 3, m[attached] = 1, m[started] = 3, m[op_secondary] = 3;
    m[active] = 1;
    // The timer fires about a second later; check_series waits for it.
    m[timeout] = 1;
    check_series(plugin.metrics_url(), m); // nothing detached: still active, still attached
    auto third = client.publish(id["pvc-timeout"], c, volume_access::rwx_block, one_second);
    CHECK(third.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    m[conflicts] = 1;
    REQUIRE(client.unpublish(id["pvc-timeout"], a).ok());
    // The migration already has its result (timeout); it is not counted a second time.
    m[durations] = 3, m[op_partial] = 3, m[active] = 0;
    check_series(plugin.metrics_url(), m);
    REQUIRE(client.unpublish(id["pvc-timeout"], b).ok());
    m[detach] = 3, m[op_detach] = 3, m[attached] = 0;
    check_series(plugin.metrics_url(), m);

    INFO("RWO conflict");
    REQUIRE(client.publish(id["pvc-rwo"], a, volume_access::rwo).ok());
    REQUIRE(client.publish(id["pvc-rwo"], a, volume_access::rwo).ok());
    auto conflict = client.publish(id["pvc-rwo"], b, volume_access::rwo);
    CHECK(conflict.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(conflict.error_message().find("node-a") != std::string::npos);
    auto incompatible = client.publish(id["pvc-rwo"], a, volume_access::rwo_readonly_mode);
    CHECK(incompatible.error_code() == grpc::StatusCode::ALREADY_EXISTS);
    m[attach] = 4, m[op_attach] = 4, m[attached] = 1, m[conflicts] = 2;
    check_series(plugin.metrics_url(), m);
    REQUIRE(client.unpublish(id["pvc-rwo"], a).ok());
    m[detach] = 4, m[op_detach] = 4, m[attached] = 0;
    check_series(plugin.metrics_url(), m);

    INFO("a third node is refused, naming both attached nodes");
    REQUIRE(client.publish(id["pvc-third"], a, volume_access::rwx_block).ok());
    REQUIRE(client.publish(id["pvc-third"], b, volume_access::rwx_block).ok());
    auto refused = client.publish(id["pvc-third"], c, volume_access::rwx_block);
    CHECK(refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(refused.error_message().find("node-a") != std::string::npos);
    CHECK(refused.error_message().find("node-b") != std::string::npos);
    m[attach] = 5, m[op_attach] = 5, m[attached] = 1, m[started] = 4, m[op_secondary] = 4;
    m[active] = 1, m[conflicts] = 3;
    check_series(plugin.metrics_url(), m);

    INFO("bad input: INVALID_ARGUMENT and nothing changes");
    CHECK(client.publish(id["pvc-third"], c, volume_access::rwx_mount).error_code()
          == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(client.publish(id["pvc-third"], c, volume_access::multi_reader).error_code()
          == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(client.publish("bad/volume", a, volume_access::rwo).error_code()
          == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(client.publish("pvc-new", "", volume_access::rwo).error_code()
          == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(
      client.publish("pvc-new", a, volume_access::rwx_block, {{"migrationTimeoutSeconds", "5000"}})
        .error_code()
      == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(client.unpublish("", a).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    check_series(plugin.metrics_url(), m);

    INFO("a volume that does not exist on the RDS: NOT_FOUND, after asking the RDS once");
    auto missing = client.publish("csi-0123456789abcdef0123456789ab", a, volume_access::rwo);
    CHECK(missing.error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(client.publish("pvc-never-created", a, volume_access::rwo).error_code()
          == grpc::StatusCode::NOT_FOUND);
    m["rds_csi_rds_requests_total{method=\"GET\",status=\"200\"}"] += 1;
    m["rds_csi_rds_request_duration_seconds_count"] += 1;
    check_series(plugin.metrics_url(), m);
    CHECK(settled_value(plugin.metrics_url(), rpc_count(publish_method, "NotFound"), 2) == 2);
    CHECK(settled_value(plugin.metrics_url(), rpc_count(publish_method, "InvalidArgument"), 5)
          == 5);
    CHECK(settled_value(plugin.metrics_url(), rpc_count(publish_method, "FailedPrecondition"), 3)
          == 3);
    CHECK(settled_value(plugin.metrics_url(), rpc_count(publish_method, "AlreadyExists"), 1) == 1);
    CHECK(settled_value(plugin.metrics_url(), rpc_count(publish_method, "OK"), 11) == 11);
    CHECK(settled_value(plugin.metrics_url(),
                        rpc_count("/csi.v1.Controller/ControllerUnpublishVolume", "OK"), 8)
          == 8);
  }
  expect_clean_stop(plugin);
}
