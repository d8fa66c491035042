// List + watch of one resource, the Kubernetes way: a paginated list gives a snapshot and a
// resourceVersion; a watch from there (with bookmarks) gives every change after it. When the
// version is too old (410 Gone) or the stream breaks, the session lists again, so no change is
// lost; handlers must be idempotent, so none is harmful twice. Blocking: run it in a detached
// actor.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <caf/timestamp.hpp>

#include "services/kube/kube_client.hpp"
#include "services/kube/objects.hpp"
#include "services/log/log.hpp"

namespace rds::services::kube {

/// Every item of a paginated list and the list's resourceVersion. A continue token that expired
/// (410) starts the list again, a bounded number of times.
template <class T>
outcome list_all(kube_client& client, const std::string& path, int page_size,
                 std::chrono::milliseconds deadline,
                 outcome (*parse)(const std::string&, list_page<T>&), std::vector<T>& items,
                 std::string& resource_version) {
  for (int restart = 0; restart < 3; ++restart) {
    items.clear();
    std::string token;
    bool expired = false;
    do {
      auto url = path + "?limit=" + std::to_string(page_size);
      if (!token.empty())
        url += "&continue=" + url_escape(token);
      auto r = client.get(url, deadline);
      if (r.status.code == ec::expired) {
        expired = true;
        break;
      }
      if (!r.status.ok())
        return r.status;
      list_page<T> page;
      if (auto parsed = parse(r.body, page); !parsed.ok())
        return parsed;
      if (token.empty())
        resource_version = page.resource_version;
      items.insert(items.end(), std::make_move_iterator(page.items.begin()),
                   std::make_move_iterator(page.items.end()));
      token = page.continue_token;
    } while (!token.empty());
    if (!expired)
      return outcome::success();
    log::warning("list of ", path, " expired while paging; listing again");
  }
  return outcome::failure(ec::expired, "list of " + path + " kept expiring while paging");
}

struct watch_counters {
  uint64_t lists = 0;
  uint64_t events = 0;
  /// Watches that had to list again: 410 Gone, or a stream that broke.
  uint64_t relists = 0;
  uint64_t failures = 0;
};

/// Where a session stands, for whoever shows it.
struct watch_progress {
  watch_counters counters;
  /// Where the next watch starts.
  std::string resource_version;
  /// "listing" or "watching" while a round runs.
  std::string activity;
  caf::timestamp activity_since;
  /// When the last change (not a bookmark) arrived (zero: none yet).
  caf::timestamp last_event;
  /// Objects in the last complete list.
  uint64_t listed_objects = 0;
  std::string last_failure;
  caf::timestamp last_failure_at;
};

template <class T> class watch_session {
 public:
  using list_parser = outcome (*)(const std::string&, list_page<T>&);
  using event_parser = outcome (*)(const std::string&, watch_event<T>&);

  struct handlers {
    /// A full, consistent snapshot (the first one is the start-up state) and when it was taken
    /// (its first page asked). False: it could not be used (the list is then tried again).
    std::function<bool(std::vector<T>&, caf::timestamp)> on_list;
    /// One change after the snapshot; `deleted` for DELETED events.
    std::function<void(const T&, bool deleted)> on_event;
    /// Optional: progress() changed (a list began or ended, an event or bookmark arrived, the
    /// stream ended). Called on the session's thread; it must not use the client.
    std::function<void()> on_progress;
  };

  watch_session(kube_client& client, std::string path, list_parser parse_list,
                event_parser parse_event, handlers h)
    : client_(client)
    , path_(std::move(path))
    , parse_list_(parse_list)
    , parse_event_(parse_event)
    , handlers_(std::move(h)) {}

  /// One round: lists if needed, then watches until the stream ends (at most `watch_limit`) or
  /// `stop` is set. Returns false after a failure, so the caller can back off.
  bool round(const std::atomic<bool>& stop, std::chrono::seconds watch_limit,
             std::chrono::milliseconds call_deadline, int page_size = 500) {
    if (need_list_) {
      std::vector<T> items;
      auto taken = caf::make_timestamp();
      begin("listing");
      std::string version;
      auto listed = list_all(client_, path_, page_size, call_deadline, parse_list_, items, version);
      if (!listed.ok()) {
        failed("cannot list " + path_ + ": " + listed.message);
        log::warning("cannot list ", path_, ": ", listed.message);
        return false;
      }
      auto count = items.size();
      if (!handlers_.on_list(items, taken)) {
        failed("the list of " + path_ + " could not be used");
        return false;
      }
      progress_.resource_version = std::move(version);
      progress_.listed_objects = count;
      ++progress_.counters.lists;
      need_list_ = false;
    }
    begin("watching");
    auto url = path_ + "?watch=1&allowWatchBookmarks=true&resourceVersion="
               + url_escape(progress_.resource_version)
               + "&timeoutSeconds=" + std::to_string(watch_limit.count());
    bool gone = false;
    auto streamed = client_.stream(
      url,
      [&](const std::string& line) {
        watch_event<T> event;
        if (!parse_event_(line, event).ok())
          return true;
        if (event.type == watch_event_type::error) {
          gone = event.error_code == 410;
          if (!gone)
            log::warning("watch of ", path_, " failed: ", event.error_message);
          return false;
        }
        if (!event.resource_version.empty())
          progress_.resource_version = event.resource_version;
        if (event.type != watch_event_type::bookmark) {
          ++progress_.counters.events;
          progress_.last_event = caf::make_timestamp();
          handlers_.on_event(event.object, event.type == watch_event_type::deleted);
        }
        notify();
        return true;
      },
      watch_limit + std::chrono::seconds{5}, &stop);
    if (gone || streamed.code == ec::expired) {
      ++progress_.counters.relists;
      need_list_ = true;
      log::info("watch of ", path_, " is too old (410 Gone); listing again");
      notify();
      return true;
    }
    if (!streamed.ok()) {
      ++progress_.counters.relists;
      need_list_ = true;
      failed("watch of " + path_ + " broke: " + streamed.message);
      log::warning("watch of ", path_, " broke: ", streamed.message, "; listing again");
      return false;
    }
    return true;
  }

  const watch_counters& counters() const { return progress_.counters; }
  const watch_progress& progress() const { return progress_; }

 private:
  kube_client& client_;
  std::string path_;
  list_parser parse_list_;
  event_parser parse_event_;
  handlers handlers_;
  bool need_list_ = true;
  watch_progress progress_;

  void notify() {
    if (handlers_.on_progress)
      handlers_.on_progress();
  }

  void begin(const char* activity) {
    progress_.activity = activity;
    progress_.activity_since = caf::make_timestamp();
    notify();
  }

  void failed(std::string why) {
    ++progress_.counters.failures;
    progress_.last_failure = std::move(why);
    progress_.last_failure_at = caf::make_timestamp();
    notify();
  }
};

} // namespace rds::services::kube
