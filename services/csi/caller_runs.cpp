// The caller-runs execution unit: a thread-local list of woken actors, run when the scope ends.
#include "services/csi/caller_runs.hpp"

#include <caf/scheduler/abstract_coordinator.hpp>

#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace rds::services::csi {

namespace {

/// The actors a scope woke, on a fixed array: exec_later runs inside CAF's enqueue after the
/// actor was marked scheduled, so it must not fail (an allocation that throws there would leave
/// the actor scheduled and never run). A full list gives the actor to the scheduler instead.
class woken_list {
 public:
  static constexpr size_t capacity = 64;

  bool empty() const { return size_ == 0; }

  /// On top: run next (as a CAF worker runs what its actor just woke next; a handler's reply is
  /// its last send, so the answer's way back runs before the side messages sent before it).
  bool push_top(caf::resumable* job) {
    if (size_ == capacity)
      return false;
    jobs_[size_++] = job;
    return true;
  }

  /// At the bottom: run after the others (an actor that had its turn and has more to do).
  bool push_bottom(caf::resumable* job) {
    if (size_ == capacity)
      return false;
    std::memmove(&jobs_[1], &jobs_[0], size_ * sizeof(caf::resumable*));
    jobs_[0] = job;
    ++size_;
    return true;
  }

  caf::resumable* pop_top() { return jobs_[--size_]; }

 private:
  std::array<caf::resumable*, capacity> jobs_{};
  size_t size_ = 0;
};

/// The unit whose scope is open on this thread, and what it woke.
thread_local caller_runs_unit* open_unit = nullptr;
thread_local woken_list woken;

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
  if (open_unit != this || !woken.push_top(job))
    system().scheduler().enqueue(job);
}

caller_runs_scope::caller_runs_scope(caller_runs_unit& unit, std::chrono::microseconds time)
  : unit_(unit)
  , time_(time)
  , outermost_(open_unit == nullptr) {
  if (outermost_)
    open_unit = &unit;
}

caller_runs_scope::~caller_runs_scope() {
  if (!outermost_)
    return;
  auto& scheduler = unit_.system().scheduler();
  auto until = std::chrono::steady_clock::now() + time_;
  // Each job on the list carries the reference its waker added, as on a worker's queue.
  for (size_t turns = 0; turns < max_resumes && !woken.empty(); ++turns) {
    if (turns > 0 && std::chrono::steady_clock::now() >= until)
      break;
    auto* job = woken.pop_top();
    switch (job->resume(&unit_, max_messages)) {
    case caf::resumable::resume_later:
      if (!woken.push_bottom(job))
        scheduler.enqueue(job);
      break;
    case caf::resumable::done:
    case caf::resumable::awaiting_message:
      intrusive_ptr_release(job);
      break;
    default:
      // Only the scheduler's own shutdown job says this; it is never woken here, but if it
      // were, a worker is where it belongs.
      scheduler.enqueue(job);
      break;
    }
  }
  open_unit = nullptr;
  // The rest, with their references, to the workers (which wake for them).
  while (!woken.empty())
    scheduler.enqueue(woken.pop_top());
}

} // namespace rds::services::csi
