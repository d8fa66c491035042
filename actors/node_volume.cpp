// Busy flag, one nvme_io per operation, the operation's metric.
#include "actors/node_volume.hpp"

#include <chrono>

namespace rds::actors {

namespace {

using clock_type = std::chrono::steady_clock;
using self_pointer = node_volume_actor::stateful_pointer<node_volume_state>;

/// Runs `xs...` in a new nvme_io actor unless an operation is in flight; answers with what it
/// answers (or ABORTED). `Result...` is what the operation replies besides the outcome.
template <class... Result, class... Ts>
auto run(self_pointer self, const node_config& config, const metrics_actor& metrics,
         const std::string& volume_id, const char* operation, Ts... xs) {
  auto promise = self->template make_response_promise<outcome, Result...>();
  if (!self->state.busy.empty()) {
    self->send(metrics, volume_operation_recorded{operation, to_string(ec::aborted), 0});
    promise.deliver(outcome::failure(ec::aborted, "volume " + volume_id + " is busy with "
                                                    + self->state.busy + ": try again"),
                    Result{}...);
    return promise;
  }
  self->state.busy = operation;
  auto io = self->home_system().template spawn<caf::detached>(nvme_io, config, metrics);
  auto begin = clock_type::now();
  auto finish = [self, metrics, operation, begin](const outcome& r) {
    self->state.busy.clear();
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

} // namespace

node_volume_actor::behavior_type node_volume(self_pointer self, std::string volume_id,
                                             node_config config, metrics_actor metrics) {
  return {
    [=](stage_atom a, const stage_request& req) {
      return run<>(self, config, metrics, volume_id, "stage", a, req);
    },
    [=](unstage_atom a, const unstage_request& req) {
      return run<>(self, config, metrics, volume_id, "unstage", a, req);
    },
    [=](publish_atom a, const node_publish_request& req) {
      return run<>(self, config, metrics, volume_id, "publish", a, req);
    },
    [=](unpublish_atom a, const node_unpublish_request& req) {
      return run<>(self, config, metrics, volume_id, "unpublish", a, req);
    },
    [=](stats_atom a, const volume_path_request& req) {
      return run<volume_stats>(self, config, metrics, volume_id, "stats", a, req);
    },
    [=](expand_atom a, const volume_path_request& req) {
      return run<uint64_t>(self, config, metrics, volume_id, "expand", a, req);
    },
    [self](status_atom) { return self->state.busy; },
  };
}

} // namespace rds::actors
