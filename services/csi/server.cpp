// Builds the gRPC server on the unix socket and registers the services the mode asks for.
#include "services/csi/server.hpp"

#include <absl/synchronization/mutex.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "services/csi/controller_service.hpp"
#include "services/csi/identity_service.hpp"
#include "services/csi/node_service.hpp"
#include "services/log/log.hpp"

namespace rds::services::csi {

struct server::impl {
  impl(caf::actor_system& sys, server_config cfg, server_actors actors)
    : config(std::move(cfg))
    , calls(sys, actors.metrics)
    , identity(sys, config, actors, calls) {
    // Debian builds Abseil without NDEBUG, so every contended absl::Mutex inside gRPC also
    // keeps a lock-order graph for deadlock detection (a few percent of the CPU of a CSI call,
    // and it can only report bugs in gRPC itself). Process-wide, set before gRPC starts.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    if (config.controller)
      controller = std::make_unique<controller_service>(sys, config, actors, calls);
    if (config.node)
      node = std::make_unique<node_service>(sys, config, actors, calls);
  }

  server_config config;
  call_tracker calls;
  identity_service identity;
  std::unique_ptr<controller_service> controller;
  std::unique_ptr<node_service> node;
  std::unique_ptr<grpc::Server> grpc_server;
};

server::server(caf::actor_system& sys, server_config config, server_actors actors)
  : impl_(std::make_unique<impl>(sys, std::move(config), std::move(actors))) {}

server::~server() {
  shutdown(std::chrono::milliseconds{0});
}

void configure_scheduler(caf::actor_system_config& cfg) {
  cfg.set("work-stealing.aggressive-poll-attempts", size_t{10});
  cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
}

std::string socket_path_of(const std::string& endpoint) {
  std::string path;
  if (endpoint.rfind("unix://", 0) == 0)
    path = endpoint.substr(7);
  else if (endpoint.rfind("unix:", 0) == 0)
    path = endpoint.substr(5);
  if (path.empty() || path.front() != '/')
    return {};
  return path;
}

namespace {

/// Creates the socket's directory (and its parents) if missing.
std::string ensure_directory_of(const std::string& socket_path) {
  auto dir = socket_path.substr(0, socket_path.rfind('/'));
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/')
      continue;
    auto prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST)
      return "cannot create " + prefix + ": " + std::strerror(errno);
  }
  return {};
}

} // namespace

std::string server::start() {
  auto& cfg = impl_->config;
  auto path = socket_path_of(cfg.endpoint);
  if (path.empty())
    return "endpoint " + cfg.endpoint + " is not unix:///absolute/path";
  if (auto err = ensure_directory_of(path); !err.empty())
    return err;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(&impl_->identity);
  if (impl_->controller)
    builder.RegisterService(impl_->controller.get());
  if (impl_->node)
    builder.RegisterService(impl_->node.get());
  impl_->grpc_server = builder.BuildAndStart();
  if (!impl_->grpc_server)
    return "cannot listen on " + cfg.endpoint + " (is another plugin running, or is the path "
           + "taken by a file that is not a socket?)";
  return {};
}

void server::shutdown(std::chrono::milliseconds grace) {
  if (!impl_->grpc_server)
    return;
  // New RPCs are refused from here on; in-flight ones get up to `grace` to finish. (gRPC's own
  // Shutdown deadline would also wait for idle client connections, which sidecars keep open.)
  impl_->calls.draining = true;
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->calls.in_flight > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  if (impl_->calls.in_flight > 0)
    log::warning(impl_->calls.in_flight.load(), " RPCs still in flight after ", grace.count(),
                 " ms; cancelling them");
  impl_->grpc_server->Shutdown(std::chrono::system_clock::now());
  impl_->grpc_server->Wait();
  impl_->grpc_server.reset();
}

} // namespace rds::services::csi
