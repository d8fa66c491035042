// One CSI RPC in flight: its reactor, its deadline, and its entry in
// csi_plugin_operations_seconds, recorded exactly once when it finishes.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "messages/actors.hpp"

namespace rds::services::csi {

class rpc_call {
public:
  rpc_call(grpc::CallbackServerContext* ctx, metrics_actor metrics, const char* method);

  /// How long an actor request for this call may take: the client's deadline, capped.
  caf::timespan timeout(caf::timespan cap) const;

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }

  void finish(const grpc::Status& status);
  void finish(const outcome& result);
  void finish(const caf::error& failure);

private:
  grpc::CallbackServerContext* ctx_;
  grpc::ServerUnaryReactor* reactor_;
  metrics_actor metrics_;
  const char* method_;
  std::chrono::steady_clock::time_point started_;
};

using rpc_call_ptr = std::shared_ptr<rpc_call>;

} // namespace rds::services::csi
