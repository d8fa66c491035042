// Busy flag, one nvme_io per operation, the operation's metric, what it did (for status).
#include "actors/node_volume.hpp"

#include <algorithm>
#include <chrono>

namespace rds::actors {

namespace {

using clock_type = std::chrono::steady_clock;
using self_pointer = node_volume_actor::stateful_pointer<node_volume_state>;

/// Runs `xs...` in a new nvme_io actor unless an operation is in flight; answers with what it
/// answers (or ABORTED). `Result...` is what the operation replies besides the outcome;
/// `applied` records what a successful operation changed.
template <class... Result, class Applied, class... Ts>
auto run(self_pointer self, const node_config& config, const metrics_actor& metrics,
         const node_volume_listener& listener, const char* operation, Applied applied, Ts... xs) {
  auto promise = self->template make_response_promise<outcome, Result...>();
  auto& status = self->state.status;
  if (!status.operation.empty()) {
    self->send(metrics, volume_operation_recorded{operation, to_string(ec::aborted), 0});
    promise.deliver(outcome::failure(ec::aborted, "volume " + status.volume_id + " is busy with "
                                                    + status.operation + ": try again"),
                    Result{}...);
    return promise;
  }
  status.operation = operation;
  status.operation_since = caf::make_timestamp();
  self->send(listener, status);
  auto io = self->home_system().template spawn<caf::detached>(
    nvme_io, config, metrics, caf::actor_cast<device_listener>(self));
  auto begin = clock_type::now();
  auto finish = [self, metrics, listener, operation, begin, applied](const outcome& r) {
    auto& status = self->state.status;
    status.operation.clear();
    status.operation_since = caf::timestamp{};
    status.last_operation = operation;
    status.last_result = to_string(r.code);
    if (r.ok())
      applied(status);
    self->send(listener, status);
    self->send(metrics, volume_operation_recorded{
                          operation, r.ok() ? "success" : to_string(r.code),
                          std::chrono::duration<double>(clock_type::now() - begin).count()});
  };
  self->request(io, config.operation_deadline, xs...)
    .then(
      [promise, finish](const outcome& r, const Result&... rest) mutable {
        finish(r);
        promise.deliver(r, rest...);
      },
      [promise, finish, operation](caf::error& failure) mutable {
        auto r =
          outcome::failure(ec::unavailable, std::string{operation} + " did not finish in time ("
                                              + caf::to_string(failure) + ")");
        finish(r);
        promise.deliver(r, Result{}...);
      });
  return promise;
}

/// For operations that change nothing that is shown.
void unchanged(node_volume_status&) {}

} // namespace

node_volume_actor::behavior_type node_volume(self_pointer self, std::string volume_id,
                                             node_config config, metrics_actor metrics,
                                             node_volume_listener listener) {
  self->state.status.volume_id = volume_id;
  return {
    [=](stage_atom a, const stage_request& req) {
      auto staged = [path = req.staging_path](node_volume_status& s) { s.staging_path = path; };
      return run<>(self, config, metrics, listener, "stage", staged, a, req);
    },
    [=](unstage_atom a, const unstage_request& req) {
      auto unstaged = [](node_volume_status& s) {
        s.staging_path.clear();
        s.device.clear();
      };
      return run<>(self, config, metrics, listener, "unstage", unstaged, a, req);
    },
    [=](publish_atom a, const node_publish_request& req) {
      auto published = [target = req.target_path](node_volume_status& s) {
        if (std::find(s.targets.begin(), s.targets.end(), target) == s.targets.end())
          s.targets.push_back(target);
      };
      return run<>(self, config, metrics, listener, "publish", published, a, req);
    },
    [=](unpublish_atom a, const node_unpublish_request& req) {
      auto unpublished = [target = req.target_path](node_volume_status& s) {
        s.targets.erase(std::remove(s.targets.begin(), s.targets.end(), target), s.targets.end());
      };
      return run<>(self, config, metrics, listener, "unpublish", unpublished, a, req);
    },
    [=](stats_atom a, const volume_path_request& req) {
      return run<volume_stats>(self, config, metrics, listener, "stats", unchanged, a, req);
    },
    [=](expand_atom a, const volume_path_request& req) {
      return run<uint64_t>(self, config, metrics, listener, "expand", unchanged, a, req);
    },
    [self](status_atom) { return self->state.status; },
    [self, listener](const device_resolved& found) {
      if (found.device == self->state.status.device)
        return;
      self->state.status.device = found.device;
      self->send(listener, self->state.status);
    },
  };
}

} // namespace rds::actors
