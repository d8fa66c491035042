// rds-csi-inspect-bench: how fast the inspection answers with many volumes. Over HTTP (--http):
// the real plugin rebuilt from a kube-apiserver (started on loopback) holding N attached volumes,
// asked on its inspection port. In process (default): the real volume supervisor and volume
// actors on CAF's real scheduler, rebuilt from an inventory of N attached volumes (one in six
// migrating, some of those timed out), with what each volume costs in memory. Both ask for pages
// of volumes (first page, continued pages, filters), the migrations and single volumes. Prints
// figures; asserts nothing.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/events.hpp"
#include "actors/metrics.hpp"
#include "actors/state_feed.hpp"
#include "actors/volume.hpp"
#include "actors/volume_supervisor.hpp"
#include "client/csi_client.hpp"
#include "client/kube_cluster.hpp"
#include "client/plugin_process.hpp"
#include "services/log/log.hpp"
#include "services/memory/heap.hpp"

using namespace rds;
using clock_type = std::chrono::steady_clock;

namespace {

std::string volume_name(int i);

/// A catalog that knows every volume (the bench measures the supervisor, not the RDS): it tells
/// the supervisor the first `volumes` volume names, as the real one tells what it listed.
volume_catalog_actor::behavior_type every_volume_catalog(volume_catalog_actor::pointer self,
                                                         int volumes) {
  return {
    [](find_atom, const volume_id_request&) { return outcome::success(); },
    [](describe_atom, const volume_id_request& req) -> caf::result<outcome, volume_info> {
      volume_info info;
      info.volume_id = req.volume_id;
      return {outcome::success(), info};
    },
    [](create_atom, const create_volume_request& req) -> caf::result<outcome, volume_info> {
      volume_info info;
      info.volume_id = req.name;
      return {outcome::success(), info};
    },
    [](delete_atom, const volume_id_request&) { return outcome::success(); },
    [](status_atom) {
      catalog_status s;
      s.warm = true;
      return s;
    },
    [self, volumes](known_atom, const catalog_listener& listener) {
      known_volumes_change all;
      all.everything = true;
      for (int i = 0; i < volumes; ++i)
        all.known.push_back(volume_name(i));
      self->send(listener, known_atom_v, std::move(all));
    },
  };
}

/// --long-names: ids and node names as long as a real cluster's.
bool long_names = false;

std::string volume_name(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, long_names ? "pvc-%08d-1111-4222-8333-444444444444" : "pvc-%08d",
                i);
  return buf;
}

std::string node_name(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf,
                long_names ? "ip-10-0-0-%02d.eu-west-1.compute.internal" : "node-%d", i);
  return buf;
}

/// Heap bytes in use, as the allocator counts them (jemalloc: stats.allocated, size classes
/// rounded up, no metadata; glibc: mallinfo2). Not comparable across allocators.
double heap_bytes() {
  return static_cast<double>(rds::services::memory::heap_in_use());
}

double rss_bytes() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) * 1024;
  return 0;
}

struct figures {
  std::vector<double> ms;
  size_t volumes = 0;
  void print(const char* what) {
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) {
      return ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1))];
    };
    std::printf("  %-44s n=%4zu  p50 %7.2f ms  p95 %7.2f ms  max %7.2f ms  (%zu volumes/answer)\n",
                what, ms.size(), at(0.5), at(0.95), ms.back(),
                ms.empty() ? 0 : volumes / ms.size());
  }
};

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

/// The string value of a top-level JSON field (enough for "continue", whose values are ids).
std::string json_string(const std::string& body, const std::string& key) {
  auto marker = "\"" + key + "\":\"";
  auto pos = body.rfind(marker);
  if (pos == std::string::npos)
    return {};
  pos += marker.size();
  return body.substr(pos, body.find('"', pos) - pos);
}

size_t json_count(const std::string& body) {
  auto marker = std::string{"\"count\":"};
  auto pos = body.find(marker);
  return pos == std::string::npos ? 0 : std::stoul(body.substr(pos + marker.size()));
}

/// --http: the real plugin, rebuilt from a kube-apiserver, asked over its inspection port.
int over_http(int volumes, int rounds, int limit) {
  using namespace rds::client;
  int migrating = volumes / 6;
  auto& k = kube_cluster::instance();
  k.clear();
  std::printf("rds-csi-inspect-bench (over HTTP, the real plugin): %d volumes, %d migrating, "
              "pages of %d, %d requests each\n",
              volumes, migrating, limit, rounds);
  const std::vector<std::string> nodes{"node-0", "node-1", "node-2", "node-3"};
  k.create_nodes({"node-0", "node-1", "node-2", "node-3"});
  services::kube::kube_config cfg;
  if (!services::kube::load_kubeconfig(k.kubeconfig("admin-token"), cfg).ok())
    return 1;
  auto begin = clock_type::now();
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t)
    workers.emplace_back([&] {
      services::kube::kube_client client{cfg}; // one client per thread
      for (int i = next++; i < volumes; i = next++) {
        auto pv = "pv-" + std::to_string(i);
        k.create_volume(pv, volume_name(i), "ReadWriteMany", "Block", "3600", "{}", &client);
        k.attach(pv, nodes[static_cast<size_t>(i % 4)], true, &client);
        if (i % 6 == 0)
          k.attach(pv, nodes[static_cast<size_t>((i + 1) % 4)], true, &client);
      }
    });
  for (auto& w : workers)
    w.join();
  std::printf("created in %.1f s\n", ms_since(begin) / 1000);
  begin = clock_type::now();
  plugin_process plugin{{"--kubeconfig=" + k.kubeconfig("admin-token")}};
  csi_client csi{plugin.endpoint()};
  csi.wait_until_ready(std::chrono::seconds{600});
  std::printf("plugin ready (list + rebuild) in %.2f s; inspection port %s\n",
              ms_since(begin) / 1000, plugin.debug_url().c_str());
  auto base = plugin.debug_url() + "/debug/volumes?limit=" + std::to_string(limit);
  auto get = [&](const std::string& url, figures& f) {
    auto t = clock_type::now();
    auto body = http_get(url);
    f.ms.push_back(ms_since(t));
    f.volumes += json_count(body);
    return body;
  };
  {
    figures f;
    std::string after;
    for (int r = 0; r < rounds; ++r) {
      auto body = get(after.empty() ? base : base + "&continue=" + after, f);
      after = json_string(body, "continue");
    }
    f.print("GET /debug/volumes, page after page");
  }
  std::mt19937 random{42};
  {
    figures f;
    for (int r = 0; r < rounds; ++r)
      get(base + "&continue="
            + volume_name(static_cast<int>(random() % static_cast<unsigned>(volumes))),
          f);
    f.print("GET /debug/volumes&continue=<random>");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r)
      get(base + "&node=" + nodes[static_cast<size_t>(r % 4)], f);
    f.print("GET /debug/volumes&node=<one of 4>");
  }
  {
    figures f;
    std::string after;
    for (int r = 0; r < rounds; ++r) {
      auto body = get(base + "&migrating=true" + (after.empty() ? "" : "&continue=" + after), f);
      after = json_string(body, "continue");
    }
    f.print("GET /debug/volumes&migrating=true, continued");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r)
      get(base + "&timed_out=true", f);
    f.print("GET /debug/volumes&timed_out=true (no match)");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r)
      get(base + "&node=no-such-node", f);
    f.print("GET /debug/volumes&node=<matches none>");
  }
  {
    figures f;
    std::string after;
    for (int r = 0; r < rounds; ++r) {
      auto t = clock_type::now();
      auto body = http_get(plugin.debug_url() + "/debug/migrations"
                           + (after.empty() ? "" : "?continue=" + after));
      f.ms.push_back(ms_since(t));
      f.volumes += json_count(body);
      after = json_string(body, "continue");
    }
    f.print("GET /debug/migrations, continued");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r) {
      auto t = clock_type::now();
      auto body =
        http_get(plugin.debug_url() + "/debug/volumes/"
                 + volume_name(static_cast<int>(random() % static_cast<unsigned>(volumes))));
      f.ms.push_back(ms_since(t));
      f.volumes += body.find("\"recent\"") != std::string::npos;
    }
    f.print("GET /debug/volumes/{id}");
  }
  {
    std::ifstream status{"/proc/" + std::to_string(plugin.pid()) + "/status"};
    std::string line;
    while (std::getline(status, line))
      if (line.rfind("VmRSS:", 0) == 0)
        std::printf("plugin %s\n", line.c_str());
  }
  auto metrics = http_get(plugin.metrics_url());
  std::printf("attached volumes %.0f, active migrations %.0f\n",
              metric_value(metrics, "rds_csi_attachment_attached_volumes"),
              metric_value(metrics, "rds_csi_migration_active_migrations"));
  plugin.terminate();
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  // A line at a time into a file too: the HTTP set-up takes minutes and says how far it got.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"Times the inspection of volumes in process: the real volume supervisor and volume "
               "actors rebuilt from N attached volumes (one in six migrating), asked for pages, "
               "filtered pages, the migrations and single volumes. Prints figures (p50/p95/max) "
               "and the memory each volume costs; asserts nothing."};
  int volumes = 100000;
  int rounds = 200;
  int limit = 500;
  bool http = false;
  int migrations = 0;
  bool memory_only = false;
  int volume_idle_seconds = 0;
  app.add_option("volumes", volumes, "attached volumes")
    ->check(CLI::Range(10, 2000000))
    ->capture_default_str();
  app.add_option("--rounds", rounds, "requests per kind of question")
    ->check(CLI::Range(1, 100000))
    ->capture_default_str();
  app.add_option("--limit", limit, "volumes per page")
    ->check(CLI::Range(1, 5000))
    ->capture_default_str();
  app.add_flag("--http", http,
               "the real plugin over its inspection port, rebuilt from a kube-apiserver started "
               "on loopback (etcd and $RDS_CSI_KUBE_APISERVER); at most 500 a page");
  app
    .add_option("--migrations", migrations,
                "in process: migrations (publish to the next node, unpublish the source) spread "
                "over the volumes after the rebuild, then the memory per volume again")
    ->check(CLI::Range(0, 100000000))
    ->capture_default_str();
  app.add_flag("--memory-only", memory_only, "in process: the memory figures only, no timings");
  app
    .add_option("--volume-idle-seconds", volume_idle_seconds,
                "in process: the supervisor's hibernation, as the plugin's flag (rebuilt volumes "
                "that do not migrate start dormant; after the publishes the bench waits this long "
                "and a bit, and prints the memory once they hibernated again); 0: none")
    ->check(CLI::Range(0, 3600))
    ->capture_default_str();
  app.add_flag("--long-names", long_names,
               "in process: volume ids pvc-<uuid> (40 characters) and node names of 40 "
               "characters, as in a real cluster (default: 12 and 6 characters)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (http)
    return over_http(volumes, rounds, std::min(limit, 500));
  log::set_threshold(log::level::error);
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto metrics = sys.spawn(actors::metrics, actors::metrics_config{"", "bench"});
  auto events = sys.spawn(actors::events, actors::events_config{}, metrics);
  auto feed = sys.spawn(actors::state_feed, actors::state_feed_config{});
  auto catalog = sys.spawn(every_volume_catalog, volumes);
  actors::volume_supervisor_config sup_cfg;
  sup_cfg.follow_cluster = true;
  sup_cfg.max_page = 5000;
  // The CSI unpublishes of the last stale window are remembered (30 s by default): shorter here,
  // so that the figures after the migrations can show what is left once they are forgotten.
  sup_cfg.stale_window = std::chrono::seconds{2};
  sup_cfg.hibernation.idle = std::chrono::seconds{volume_idle_seconds};

  // The inventory: every volume on one of four nodes; one in six migrating to the next node;
  // one migration in a hundred started two hours ago (its 1 h timer fires at once).
  // Four nodes hold the volumes; the migrations move them among 64.
  std::vector<std::string> all_nodes;
  for (int n = 0; n < 64; ++n)
    all_nodes.push_back(node_name(n));
  const std::vector<std::string> nodes(all_nodes.begin(), all_nodes.begin() + 4);
  cluster_inventory inventory;
  auto wall = caf::make_timestamp();
  int migrating = 0;
  for (int i = 0; i < volumes; ++i) {
    observed_volume v;
    v.volume_id = volume_name(i);
    v.pv_name = "pv-" + std::to_string(i);
    v.capability = {access_kind::multi_node_block, 5, true, false};
    v.migration_timeout = std::chrono::seconds{3600};
    v.nodes.push_back({nodes[static_cast<size_t>(i % 4)], wall - std::chrono::hours{3}});
    if (i % 6 == 0) {
      auto age = migrating % 100 == 0 ? std::chrono::minutes{120} : std::chrono::minutes{i % 50};
      v.nodes.push_back({nodes[static_cast<size_t>((i + 1) % 4)], wall - age});
      ++migrating;
    }
    inventory.volumes.push_back(std::move(v));
  }
  inventory.listed_at = wall;
  std::printf("rds-csi-inspect-bench (in process): %d attached volumes, %d migrating, pages of "
              "%d, %d requests each\n",
              volumes, migrating, limit, rounds);

  rds::services::memory::release_free_memory();
  auto heap_before = heap_bytes();
  auto rss_before = rss_bytes();
  auto supervisor = sys.spawn(actors::volume_supervisor, sup_cfg, metrics, events, catalog, feed);
  self->send(supervisor, nodes_atom_v, all_nodes);
  auto begin = clock_type::now();
  self->send(supervisor, sync_atom_v, inventory);
  supervisor_status status;
  do
    self->request(supervisor, std::chrono::seconds{60}, status_atom_v)
      .receive([&](supervisor_status& s) { status = s; }, [](caf::error&) {});
  while (status.attached < static_cast<uint64_t>(volumes) || !status.ready);
  std::printf("rebuilt %llu volumes (%llu volume actors, %llu dormant) in %.0f ms\n",
              static_cast<unsigned long long>(status.volumes),
              static_cast<unsigned long long>(status.volume_actors),
              static_cast<unsigned long long>(status.dormant), ms_since(begin));
  inventory = {};
  rds::services::memory::release_free_memory();
  auto heap_after = heap_bytes();
  auto rss_after = rss_bytes();
  std::printf("memory per attached volume (actor + supervisor records, empty ring): heap %.0f B, "
              "RSS %.0f B\n",
              (heap_after - heap_before) / volumes, (rss_after - rss_before) / volumes);

  // One publish on every volume (idempotent: same node, same capability) fills a ring record.
  begin = clock_type::now();
  int answered = 0;
  for (int i = 0; i < volumes; ++i) {
    publish_request req{volume_name(i),
                        nodes[static_cast<size_t>(i % 4)],
                        {access_kind::multi_node_block, 5, true, false},
                        std::chrono::seconds{3600}};
    // No timeout: each would stay in CAF's clock for its minute and be counted as the volumes'.
    self->request(supervisor, caf::infinite, publish_atom_v, req)
      .receive([&](outcome& o) { answered += o.ok(); }, [](caf::error&) {});
  }
  std::printf("%d publishes one after another (each answered before the next) in %.0f ms\n",
              answered, ms_since(begin));
  rds::services::memory::release_free_memory();
  std::printf("memory per attached volume with one operation in its ring: heap %.0f B, RSS "
              "%.0f B\n",
              (heap_bytes() - heap_before) / volumes, (rss_bytes() - rss_before) / volumes);
  if (volume_idle_seconds > 0) {
    // Every volume that does not migrate hibernates once the idle time has passed.
    auto sleepers = static_cast<uint64_t>(volumes - migrating);
    auto until = clock_type::now() + std::chrono::seconds{volume_idle_seconds + 60};
    begin = clock_type::now();
    do {
      std::this_thread::sleep_for(std::chrono::milliseconds{250});
      self->request(supervisor, std::chrono::seconds{60}, status_atom_v)
        .receive([&](supervisor_status& s) { status = s; }, [](caf::error&) {});
    } while (status.dormant < sleepers && clock_type::now() < until);
    // The retired actors are destroyed by the scheduler's workers shortly after their exit.
    std::this_thread::sleep_for(std::chrono::seconds{1});
    rds::services::memory::release_free_memory();
    std::printf("after %.1f s idle: %llu dormant, %llu volume actors, %llu hibernations; memory "
                "per attached volume with one operation in its ring: heap %.0f B, RSS %.0f B\n",
                ms_since(begin) / 1000, static_cast<unsigned long long>(status.dormant),
                static_cast<unsigned long long>(status.volume_actors),
                static_cast<unsigned long long>(status.hibernations),
                (heap_bytes() - heap_before) / volumes, (rss_bytes() - rss_before) / volumes);
  }
  if (migrations > 0) {
    // Volume i is on current[i] (and, one in six, migrating to the next node: its first
    // migration ends there). Each migration publishes a target node, then unpublishes the source.
    std::vector<int> current(static_cast<size_t>(volumes));
    std::vector<bool> migrating_now(static_cast<size_t>(volumes));
    for (int i = 0; i < volumes; ++i) {
      current[static_cast<size_t>(i)] = i % 4;
      migrating_now[static_cast<size_t>(i)] = i % 6 == 0;
    }
    int ok = 0;
    // No timeout: each would stay in CAF's clock for its minute and be counted as the volumes'.
    auto call = [&](auto atom, const auto& req) {
      self->request(supervisor, caf::infinite, atom, req)
        .receive([&](outcome& o) { ok += o.ok(); }, [](caf::error&) {});
    };
    begin = clock_type::now();
    for (int k = 0; k < migrations; ++k) {
      auto i = static_cast<size_t>(k % volumes);
      auto source = current[i];
      auto target = migrating_now[i] ? (source + 1) % 4 : (source + 1 + (k * 7) % 63) % 64;
      if (!migrating_now[i])
        call(publish_atom_v, publish_request{volume_name(static_cast<int>(i)),
                                             all_nodes[static_cast<size_t>(target)],
                                             {access_kind::multi_node_block, 5, true, false},
                                             std::chrono::seconds{3600}});
      call(unpublish_atom_v, unpublish_request{volume_name(static_cast<int>(i)),
                                               all_nodes[static_cast<size_t>(source)]});
      current[i] = target;
      migrating_now[i] = false;
    }
    std::printf("%d migrations one after another (%d calls answered ok) in %.0f ms\n", migrations,
                ok, ms_since(begin));
    self->request(supervisor, std::chrono::seconds{60}, status_atom_v)
      .receive([&](supervisor_status& s) { status = s; }, [](caf::error&) {});
    rds::services::memory::release_free_memory();
    std::printf("memory per attached volume after %d migrations (%.1f a volume; %llu attached, "
                "%llu migrating): heap %.0f B, RSS %.0f B\n",
                migrations, static_cast<double>(migrations) / volumes,
                static_cast<unsigned long long>(status.attached),
                static_cast<unsigned long long>(status.migrating),
                (heap_bytes() - heap_before) / volumes, (rss_bytes() - rss_before) / volumes);
    std::this_thread::sleep_for(sup_cfg.stale_window + std::chrono::milliseconds{1500});
    rds::services::memory::release_free_memory();
    std::printf("... and once the unpublishes of the last stale window (%lld s) are forgotten: "
                "heap %.0f B, RSS %.0f B\n",
                static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::seconds>(sup_cfg.stale_window).count()),
                (heap_bytes() - heap_before) / volumes, (rss_bytes() - rss_before) / volumes);
  }
  if (memory_only) {
    self->send_exit(supervisor, caf::exit_reason::user_shutdown);
    for (auto h : {caf::actor_cast<caf::actor>(catalog), caf::actor_cast<caf::actor>(feed),
                   caf::actor_cast<caf::actor>(events), caf::actor_cast<caf::actor>(metrics)})
      self->send_exit(h, caf::exit_reason::user_shutdown);
    return 0;
  }
  {
    actors::operation_ring ring;
    for (int i = 0; i < 40; ++i)
      ring.record(actors::operation_kind::publish,
                  nodes[static_cast<size_t>(i % 2)] + ".eu-west-1.compute.internal", ec::none,
                  std::chrono::microseconds{10}, caf::make_timestamp());
    std::printf("a full ring (32 operations over two 33-character node names): %zu heap bytes + "
                "%zu inline\n",
                ring.heap_bytes(), sizeof(ring));
  }

  std::mt19937 random{42};
  auto page = [&](volume_page_request req, figures& f) {
    auto t = clock_type::now();
    volume_page p;
    self->request(supervisor, std::chrono::seconds{10}, inspect_atom_v, req)
      .receive([&](volume_page& got) { p = std::move(got); }, [](caf::error&) {});
    f.ms.push_back(ms_since(t));
    f.volumes += p.volumes.size();
    return p;
  };
  {
    figures f;
    volume_page_request req;
    req.limit = static_cast<uint32_t>(limit);
    for (int r = 0; r < rounds; ++r) {
      auto p = page(req, f);
      req.after = p.next_after; // walk on; start over at the end
    }
    f.print("page after page (continue)");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r) {
      volume_page_request req;
      req.limit = static_cast<uint32_t>(limit);
      req.after = volume_name(static_cast<int>(random() % static_cast<unsigned>(volumes)));
      page(req, f);
    }
    f.print("a page after a random volume");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r) {
      volume_page_request req;
      req.limit = static_cast<uint32_t>(limit);
      req.node_id = nodes[static_cast<size_t>(r % 4)];
      page(req, f);
    }
    f.print("node=<one of 4>");
  }
  {
    figures f;
    volume_page_request req;
    req.limit = static_cast<uint32_t>(limit);
    req.migrating_only = true;
    for (int r = 0; r < rounds; ++r) {
      auto p = page(req, f);
      req.after = p.next_after;
    }
    f.print("migrating=true (continue)");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r) {
      volume_page_request req;
      req.limit = static_cast<uint32_t>(limit);
      req.timed_out_only = true;
      page(req, f);
    }
    f.print("timed_out=true (its index)");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r) {
      volume_page_request req;
      req.limit = static_cast<uint32_t>(limit);
      req.node_id = "no-such-node";
      page(req, f);
    }
    f.print("node=<matches none> (scan budget)");
  }
  {
    figures f;
    migrations_page_request req;
    req.limit = static_cast<uint32_t>(limit);
    for (int r = 0; r < rounds; ++r) {
      auto t = clock_type::now();
      volume_page p;
      self->request(supervisor, std::chrono::seconds{10}, inspect_atom_v, req)
        .receive([&](volume_page& got) { p = std::move(got); }, [](caf::error&) {});
      f.ms.push_back(ms_since(t));
      f.volumes += p.volumes.size();
      // Walk on; start over at the end.
      req.has_after = !p.next_after.empty();
      if (req.has_after) {
        auto& last = p.volumes.back().state;
        req.after_deadline_ns = (last.migration.started_at + last.migration.timeout).count();
        req.after_id = last.volume_id;
      }
    }
    f.print("migrations, page after page (continue)");
  }
  {
    figures f;
    for (int r = 0; r < rounds; ++r) {
      auto id = volume_name(static_cast<int>(random() % static_cast<unsigned>(volumes)));
      auto t = clock_type::now();
      self->request(supervisor, std::chrono::seconds{10}, inspect_atom_v, id)
        .receive([&](outcome& o, volume_inspection&) { f.volumes += o.ok(); }, [](caf::error&) {});
      f.ms.push_back(ms_since(t));
    }
    f.print("one volume (asks its actor)");
  }
  self->send_exit(supervisor, caf::exit_reason::user_shutdown);
  for (auto h : {caf::actor_cast<caf::actor>(catalog), caf::actor_cast<caf::actor>(feed),
                 caf::actor_cast<caf::actor>(events), caf::actor_cast<caf::actor>(metrics)})
    self->send_exit(h, caf::exit_reason::user_shutdown);
  return 0;
}
