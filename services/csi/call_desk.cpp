// The call desk: the book of waiting requests, the reply actor that takes their replies, and the
// sweeper that fails them at their deadline.
#include "services/csi/call_desk.hpp"

#include "services/log/log.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_clock.hpp>
#include <caf/actor_companion.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>

#include <exception>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace rds::services::csi {

namespace {

using sweep_atom = caf::atom_constant<caf::atom("sweep")>;

/// Finished RPCs gathered beyond this many are passed on at once.
constexpr size_t rpc_batch = 64;

caf::message failure(caf::sec reason) {
  return caf::make_message(caf::make_error(reason));
}

/// Runs a request's handler. It runs inside the actor that replied (or the sweeper): an
/// exception must not end that actor, so it ends here, logged.
void run(const call_desk::reply_handler& done, caf::message& reply, caf::execution_unit* host) {
  try {
    done(reply, host);
  } catch (const std::exception& e) {
    log::error("a CSI call's reply handler failed: ", e.what());
  }
}

} // namespace

/// The requests waiting for their reply, shared by the desk, its reply actor and its sweeper.
struct call_desk::book {
  struct waiting {
    reply_handler done;
    clock::time_point deadline;
  };

  mutable std::mutex lock;
  uint64_t last_id = 0;
  std::unordered_map<uint64_t, waiting> asks;
  bool sweep_armed = false;
  /// Finished RPCs not passed on yet, and where they go (never changes).
  rpcs_recorded finished;
  const metrics_actor metrics;
  /// The actor system's clock (the tests' own in unit tests), and when the finished RPCs may go
  /// again without being many.
  caf::actor_clock& time;
  caf::actor_clock::time_point pass_after{};

  book(metrics_actor to, caf::actor_clock& clock)
    : metrics(std::move(to))
    , time(clock) {}

  /// The finished RPCs to pass on now (empty if none), taken out; under the lock. `all`: the
  /// sweep, or the desk closing.
  rpcs_recorded take_finished(bool all) {
    if (finished.rpcs.empty())
      return {};
    auto now = time.now();
    if (!(all || finished.rpcs.size() >= rpc_batch || (asks.empty() && now >= pass_after)))
      return {};
    pass_after = now + record_interval;
    return std::exchange(finished, rpcs_recorded{});
  }

  /// Books a request; its id, and in `arm` whether the sweeper must be started.
  uint64_t enter(reply_handler done, clock::time_point deadline, bool& arm) {
    std::lock_guard<std::mutex> guard{lock};
    // Request ids use the 60 bits CAF leaves for them; they never come round in practice.
    auto id = ++last_id & caf::message_id::request_id_mask;
    if (id == 0)
      id = last_id = 1;
    asks.emplace(id, waiting{std::move(done), deadline});
    arm = !sweep_armed;
    sweep_armed = true;
    return id;
  }

  /// The handler waiting for request `id`, taken out of the book (empty if none waits).
  reply_handler take(uint64_t id) {
    std::lock_guard<std::mutex> guard{lock};
    auto i = asks.find(id);
    if (i == asks.end())
      return {};
    auto done = std::move(i->second.done);
    asks.erase(i);
    return done;
  }

  /// A message for the reply actor: a reply runs its request's handler; anything else is not for
  /// the desk and is dropped.
  void deliver(caf::message_id mid, caf::message& content, caf::execution_unit* host) {
    if (!mid.is_response())
      return;
    if (auto done = take(mid.request_id().integer_value()))
      run(done, content, host);
  }

  /// Fails the requests past their deadline, and passes on the finished RPCs; whether any
  /// requests still wait (the sweep then comes again).
  bool sweep(caf::execution_unit* host) {
    std::vector<reply_handler> late;
    bool again;
    rpcs_recorded rpcs;
    {
      std::lock_guard<std::mutex> guard{lock};
      rpcs = take_finished(true);
      auto now = clock::now();
      for (auto i = asks.begin(); i != asks.end();) {
        if (i->second.deadline <= now) {
          late.push_back(std::move(i->second.done));
          i = asks.erase(i);
        } else {
          ++i;
        }
      }
      sweep_armed = again = !asks.empty();
    }
    pass_on(std::move(rpcs), host);
    for (auto& done : late) {
      auto timeout = failure(caf::sec::request_timeout);
      run(done, timeout, host);
    }
    return again;
  }

  void pass_on(rpcs_recorded rpcs, caf::execution_unit* host) const {
    if (rpcs.rpcs.empty() || !metrics)
      return;
    // On the running actor's unit: queued behind it, instead of waking another worker.
    if (host != nullptr)
      caf::actor_cast<caf::abstract_actor*>(metrics)->eq_impl(caf::make_message_id(), nullptr, host,
                                                              std::move(rpcs));
    else
      caf::anon_send(metrics, std::move(rpcs));
  }

  /// Drops every waiting request (later replies find nothing), and passes on the finished RPCs.
  void close() {
    std::unordered_map<uint64_t, waiting> dropped;
    rpcs_recorded rpcs;
    {
      std::lock_guard<std::mutex> guard{lock};
      dropped.swap(asks);
      rpcs = take_finished(true);
    }
    pass_on(std::move(rpcs), nullptr);
  }
};

namespace {

/// The sender of the desk's requests. CAF hands it every reply through enqueue, on the thread of
/// the actor that replies; it never runs a turn of its own (an actor companion is never
/// scheduled).
class reply_actor final : public caf::actor_companion {
 public:
  reply_actor(caf::actor_config& cfg, std::shared_ptr<call_desk::book> book)
    : caf::actor_companion(cfg)
    , book_(std::move(book)) {}

  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* host) override {
    if (!x)
      return;
    auto content = x->move_content_to_message();
    book_->deliver(x->mid, content, host);
  }

  void enqueue(caf::strong_actor_ptr, caf::message_id mid, caf::message content,
               caf::execution_unit* host) override {
    book_->deliver(mid, content, host);
  }

 private:
  std::shared_ptr<call_desk::book> book_;
};

caf::behavior sweeper(caf::event_based_actor* self, std::shared_ptr<call_desk::book> book) {
  return {
    [=](sweep_atom) {
      if (book->sweep(self->context()))
        self->delayed_send(self, deadline_sweep, sweep_atom::value);
    },
  };
}

} // namespace

call_desk::call_desk(caf::actor_system& sys, metrics_actor metrics)
  : book_(std::make_shared<book>(std::move(metrics), sys.clock()))
  , reply_actor_(caf::actor_cast<caf::strong_actor_ptr>(sys.spawn<reply_actor>(book_)))
  , sweeper_(sys.spawn(sweeper, book_)) {}

call_desk::~call_desk() {
  book_->close();
  caf::anon_send_exit(sweeper_, caf::exit_reason::user_shutdown);
  // The reply actor goes with the last reference to it (a response promise an actor still
  // holds); what reaches it until then finds the book empty.
}

void call_desk::ask(caf::abstract_actor* to, caf::message request, clock::time_point deadline,
                    reply_handler done, caf::execution_unit* unit) {
  if (to == nullptr) {
    auto invalid = failure(caf::sec::invalid_argument);
    done(invalid, unit);
    return;
  }
  bool arm = false;
  auto id = book_->enter(std::move(done), deadline, arm);
  if (arm)
    caf::delayed_anon_send(sweeper_, deadline_sweep, sweep_atom::value);
  to->enqueue(reply_actor_, caf::make_message_id(id), std::move(request), unit);
}

void call_desk::record(rpc_recorded finished, caf::execution_unit* host) {
  rpcs_recorded rpcs;
  bool arm = false;
  {
    std::lock_guard<std::mutex> guard{book_->lock};
    book_->finished.rpcs.push_back(std::move(finished));
    rpcs = book_->take_finished(false);
    // Kept: the sweep takes it, if no later call does.
    if (rpcs.rpcs.empty() && !book_->sweep_armed)
      arm = book_->sweep_armed = true;
  }
  if (arm)
    caf::delayed_anon_send(sweeper_, deadline_sweep, sweep_atom::value);
  book_->pass_on(std::move(rpcs), host);
}

size_t call_desk::waiting() const {
  std::lock_guard<std::mutex> guard{book_->lock};
  return book_->asks.size();
}

} // namespace rds::services::csi
