// The caller-runs execution unit: a thread-local list of woken actors, run when the scope ends.
#include "services/csi/caller_runs.hpp"

#include <caf/scheduler/abstract_coordinator.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace rds::services::csi {

namespace {

/// The unit whose scope is open on this thread, and the actors it woke, newest first (as a CAF
/// worker runs what its actor just woke next): a handler's reply is its last send, so the
/// answer's way back runs before the side messages (metrics, feed) sent before it. Kept for the
/// thread's life, so a call allocates nothing here once the list has grown.
thread_local caller_runs_unit* open_unit = nullptr;
thread_local std::deque<caf::resumable*> woken;

} // namespace

caller_runs_unit::caller_runs_unit(caf::actor_system& sys)
  : caf::execution_unit(&sys) {}

caller_runs_unit& caller_runs_unit::of(caf::actor_system& sys) {
  // Never freed (see the header); reachable from here, so not a leak to LeakSanitizer.
  static auto* units = new std::vector<std::unique_ptr<caller_runs_unit>>;
  static std::mutex lock;
  std::lock_guard<std::mutex> guard{lock};
  for (auto& unit : *units)
    if (&unit->system() == &sys)
      return *unit;
  units->emplace_back(new caller_runs_unit(sys));
  return *units->back();
}

void caller_runs_unit::exec_later(caf::resumable* job) {
  if (open_unit == this)
    woken.push_front(job);
  else
    system().scheduler().enqueue(job);
}

caller_runs_scope::caller_runs_scope(caller_runs_unit& unit)
  : unit_(unit)
  , outermost_(open_unit == nullptr) {
  if (outermost_)
    open_unit = &unit;
}

caller_runs_scope::~caller_runs_scope() {
  if (!outermost_)
    return;
  // Each job on the list carries the reference its waker added, as on a worker's queue.
  for (size_t turns = 0; turns < max_resumes && !woken.empty(); ++turns) {
    auto* job = woken.front();
    woken.pop_front();
    switch (job->resume(&unit_, max_messages)) {
    case caf::resumable::resume_later:
      woken.push_back(job);
      break;
    case caf::resumable::done:
    case caf::resumable::awaiting_message:
      intrusive_ptr_release(job);
      break;
    default:
      // Only the scheduler's own shutdown job says this; it is never woken here, but if it
      // were, a worker is where it belongs.
      unit_.system().scheduler().enqueue(job);
      break;
    }
  }
  open_unit = nullptr;
  // The rest, with their references, to the workers (which wake for them).
  while (!woken.empty()) {
    auto* job = woken.front();
    woken.pop_front();
    unit_.system().scheduler().enqueue(job);
  }
}

} // namespace rds::services::csi
