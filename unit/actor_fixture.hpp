// A deterministic actor system for unit tests: CAF's test coordinator runs every message and
// timer explicitly, so nothing sleeps and every run is the same.
#pragma once

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>

#include "actors/events.hpp"
#include "actors/metrics.hpp"
#include "actors/state_feed.hpp"
#include "messages/actors.hpp"
#include "services/log/log.hpp"

namespace rds::test {

inline caf::actor_system_config& testing_config(caf::actor_system_config& cfg) {
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.inline-output", true);
  return cfg;
}

struct actor_fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{testing_config(cfg)};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys};
  metrics_actor metrics = sys.spawn(actors::metrics, actors::metrics_config{"", "test.driver"});
  /// Without a cluster: records events (by reason) and posts nothing.
  events_actor events = sys.spawn(actors::events, actors::events_config{}, metrics);
  /// The live feed of state changes (what /debug/stream shows).
  state_feed_actor feed = sys.spawn(actors::state_feed, actors::state_feed_config{});

  actor_fixture() {
    log::set_threshold(log::level::error);
    sched.run();
  }

  ~actor_fixture() {
    self->send_exit(feed, caf::exit_reason::user_shutdown);
    self->send_exit(events, caf::exit_reason::user_shutdown);
    self->send_exit(metrics, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Sends a message, runs every actor until idle and returns the answer of type T.
  template <class T, class Handle, class... Ts>
  std::optional<T> ask(const Handle& dest, Ts&&... xs) {
    self->send(dest, std::forward<Ts>(xs)...);
    sched.run();
    std::optional<T> answer;
    self->receive([&](T& x) { answer = std::move(x); },
                  [&](caf::error& e) { FAIL("unexpected error: ", to_string(e)); },
                  caf::after(std::chrono::seconds{0}) >> [] {});
    return answer;
  }

  /// Moves the virtual clock and runs whatever became due.
  void advance(caf::timespan t) {
    sched.advance_time(t);
    sched.run();
  }

  /// How many events of `reason` were recorded.
  uint64_t recorded_events(const std::string& reason) {
    auto status = ask<events_status>(events, status_atom_v);
    if (!status)
      return 0;
    auto i = status->recorded.find(reason);
    return i == status->recorded.end() ? 0 : i->second;
  }

  std::string scrape() { return ask<std::string>(metrics, scrape_atom_v).value_or(""); }

  /// The value of one series in the exposition text, e.g.
  /// `rds_csi_migration_migrations_total{result="success"}`; -1 when absent.
  double metric(const std::string& series) {
    auto text = scrape();
    size_t pos = 0;
    while (pos < text.size()) {
      auto end = text.find('\n', pos);
      if (end == std::string::npos)
        end = text.size();
      auto line = text.substr(pos, end - pos);
      if (line.size() > series.size() && line.compare(0, series.size(), series) == 0
          && line[series.size()] == ' ')
        return std::stod(line.substr(series.size() + 1));
      pos = end + 1;
    }
    return -1;
  }
};

} // namespace rds::test
