// Percentiles over the recorded round trips, per RPC and per time bucket.
#include "cmd/rds-csi-migrate-load/report.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace rds::migrate_load {

namespace {

struct quantiles {
  size_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0;
};

quantiles quantiles_of(std::vector<float> us) {
  quantiles q;
  q.count = us.size();
  if (us.empty())
    return q;
  std::sort(us.begin(), us.end());
  auto at = [&](double p) {
    return us[std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())))];
  };
  q.p50 = at(0.50), q.p95 = at(0.95), q.p99 = at(0.99), q.max = us.back();
  return q;
}

quantiles rpc_quantiles(const storm_result& r, rpc which) {
  std::vector<float> us;
  for (auto& s : r.latency[static_cast<size_t>(which)])
    us.push_back(s.us);
  return quantiles_of(std::move(us));
}

/// Samples of the storm only (the set-up's calls come before it started).
quantiles storm_quantiles(const storm_result& r, rpc which) {
  std::vector<float> us;
  auto from = static_cast<float>(r.setup_seconds);
  for (auto& s : r.latency[static_cast<size_t>(which)])
    if (s.at_s >= from)
      us.push_back(s.us);
  return quantiles_of(std::move(us));
}

double rate(const storm_result& r) {
  return r.storm_seconds > 0 ? static_cast<double>(r.migration_done_at_s.size()) / r.storm_seconds
                             : 0;
}

size_t volume_count(const storm_config& c) {
  return c.volumes + c.rwo_volumes;
}

double rss_per_volume(const storm_result& r, const storm_config& c) {
  if (r.rss_start_kb < 0 || r.rss_attached_kb < 0 || volume_count(c) == 0)
    return -1;
  return static_cast<double>(r.rss_attached_kb - r.rss_start_kb) * 1024.0
         / static_cast<double>(volume_count(c));
}

/// CreateVolume answers per second over the first and the last `n` creates of the set-up, to
/// show whether the RDS slows down as the pool fills.
struct create_rates {
  size_t n = 0;
  double first = 0, last = 0;
};

create_rates create_rate(const storm_result& r) {
  std::vector<float> at;
  for (auto& s : r.latency[static_cast<size_t>(rpc::create)])
    at.push_back(s.at_s);
  std::sort(at.begin(), at.end());
  create_rates c;
  c.n = std::min<size_t>(2000, at.size() / 5);
  if (c.n < 2)
    return c;
  auto span = [&](size_t from, size_t to) { return static_cast<double>(at[to] - at[from]); };
  auto first = span(0, c.n - 1), last = span(at.size() - c.n, at.size() - 1);
  c.first = first > 0 ? static_cast<double>(c.n - 1) / first : 0;
  c.last = last > 0 ? static_cast<double>(c.n - 1) / last : 0;
  return c;
}

std::string verdict(const storm_result& r) {
  return r.breaches.empty() ? "PASS" : "FAIL";
}

} // namespace

void print_summary(const run_facts& f, const storm_result& r) {
  auto& c = f.config;
  std::printf("\nrds-csi-migrate-load: %zu RWX + %zu RWO volumes, %zu migrations, concurrency %zu, "
              "%zu nodes, seed %llu, time scale %g, timeout %d s\n",
              c.volumes, c.rwo_volumes, c.migrations, c.concurrency, c.nodes,
              static_cast<unsigned long long>(c.seed), c.time_scale, c.migration_timeout_seconds);
  std::printf("plugin: %s; RDS: %s; machine: %s\n", f.plugin.c_str(), f.rds.c_str(),
              f.machine.c_str());
  std::printf("set-up (create + attach) %.2f s; storm %.2f s: %.1f migrations/s; peak calls in "
              "flight %zu\n",
              r.setup_seconds, r.storm_seconds, rate(r), r.peak_in_flight);
  if (auto cr = create_rate(r); cr.n > 0)
    std::printf("CreateVolume rate: first %zu at %.0f/s, last %zu at %.0f/s (%.0f%% of the "
                "first)\n",
                cr.n, cr.first, cr.n, cr.last, cr.first > 0 ? 100 * cr.last / cr.first : 0);
  std::printf("scenarios:");
  for (size_t i = 0; i < scenario_count; ++i)
    std::printf(" %s %llu", scenario_name(static_cast<scenario>(i)),
                static_cast<unsigned long long>(r.by_scenario[i]));
  std::printf(
    "\noutcomes (whole run): started %llu, success %llu, failed %llu, timeout %llu, "
    "close to the timeout (either allowed) %llu; refused: third node %llu, RWO %llu; "
    "retries %llu; audits %llu\n",
    static_cast<unsigned long long>(r.started), static_cast<unsigned long long>(r.success),
    static_cast<unsigned long long>(r.failed), static_cast<unsigned long long>(r.timeout),
    static_cast<unsigned long long>(r.ambiguous), static_cast<unsigned long long>(r.refused_third),
    static_cast<unsigned long long>(r.refused_rwo), static_cast<unsigned long long>(r.retries),
    static_cast<unsigned long long>(r.audits));
  if (r.node_checked >= 0)
    std::printf("node plugins: %llu node calls (stage, publish, unpublish, unstage; retries "
                "included); %lld volumes' device nodes found on exactly their node at the end\n",
                static_cast<unsigned long long>(r.node_calls),
                static_cast<long long>(r.node_checked));
  if (r.nodes_deleted > 0)
    std::printf("source Nodes deleted mid-migration %llu: publishes to them refused (NOT_FOUND) "
                "%llu, created again and known to the plugin again %llu\n",
                static_cast<unsigned long long>(r.nodes_deleted),
                static_cast<unsigned long long>(r.refused_deleted_node),
                static_cast<unsigned long long>(r.nodes_restored));
  std::printf("\n%-28s %9s %10s %10s %10s %10s  errors\n", "RPC (during the storm)", "calls",
              "p50 us", "p95 us", "p99 us", "max us");
  auto idle = quantiles_of(r.probe_idle_us);
  std::printf("%-28s %9zu %10.0f %10.0f %10.0f %10.0f\n", "Probe, idle (bare round trip)",
              idle.count, idle.p50, idle.p95, idle.p99, idle.max);
  for (size_t i = 0; i < rpc_count; ++i) {
    auto which = static_cast<rpc>(i);
    auto q = which == rpc::create ? rpc_quantiles(r, which) : storm_quantiles(r, which);
    if (q.count == 0)
      continue;
    std::string errors;
    for (auto& [code, n] : r.errors[i])
      errors += code + "=" + std::to_string(n) + " ";
    std::string name = rpc_name(which);
    if (which == rpc::probe)
      name += ", under load";
    if (which == rpc::create)
      name += " (set-up)";
    std::printf("%-28s %9zu %10.0f %10.0f %10.0f %10.0f  %s\n", name.c_str(), q.count, q.p50, q.p95,
                q.p99, q.max, errors.c_str());
  }
  if (r.plugin_cpu_s >= 0)
    std::printf("\nCPU during the storm: plugin %.2f s, harness %.2f s (of %.2f s wall)\n",
                r.plugin_cpu_s, r.harness_cpu_s, r.storm_seconds);
  else
    std::printf("\nCPU during the storm: harness %.2f s (of %.2f s wall)\n", r.harness_cpu_s,
                r.storm_seconds);
  if (r.rss_start_kb >= 0)
    std::printf("plugin RSS: %ld kB at start, %ld kB with the volumes attached (%.0f bytes per "
                "attached volume), %ld kB at the end\n",
                r.rss_start_kb, r.rss_attached_kb, rss_per_volume(r, c), r.rss_end_kb);
  if (r.rss_start_kb >= 0 && r.rss_idle_kb >= 0 && volume_count(c) > 0)
    std::printf("plugin RSS after the attached volumes were idle %d s: %ld kB (%.0f bytes per "
                "attached volume)\n",
                c.idle_seconds, r.rss_idle_kb,
                static_cast<double>(r.rss_idle_kb - r.rss_start_kb) * 1024.0
                  / static_cast<double>(volume_count(c)));
  if (r.kills > 0 && (r.rebuilt_migrations > 0 || r.rebuilt_timeouts > 0))
    std::printf("restarts rebuilt from the VolumeAttachments: %llu migrations on two nodes (not "
                "counted as started again), %llu of them counted as timed out at once, %llu "
                "direction unsure (a VolumeAttachment without publishedAt, source not strictly "
                "first by creation second; %llu attached without publishedAt); %llu with both "
                "created in the same second (direction unsure by creation time alone)\n",
                static_cast<unsigned long long>(r.rebuilt_migrations),
                static_cast<unsigned long long>(r.rebuilt_timeouts),
                static_cast<unsigned long long>(r.rebuilt_direction_unsure),
                static_cast<unsigned long long>(r.rebuilt_unpublished),
                static_cast<unsigned long long>(r.rebuilt_same_second));
  if (r.plugin_stop_s >= 0)
    std::printf("plugin stop: exited %.2f s after SIGTERM (at most 10 s allowed)\n",
                r.plugin_stop_s);
  if (r.kills > 0) {
    double worst = 0;
    for (auto ms : r.restart_ms)
      worst = std::max(worst, ms);
    std::printf("controller killed (SIGKILL) and restarted %llu times (restart up to %.0f ms)\n",
                static_cast<unsigned long long>(r.kills), worst);
  }
  if (r.counters_checked) {
    auto& o = r.observed;
    auto& e = r.expected_last;
    std::printf("plugin counters (%s): started %.0f/%.0f, success %.0f/%.0f, failed %.0f/%.0f, "
                "timeout %.0f/%.0f, conflicts %.0f/%.0f, active %.0f/0, attached %.0f/%.0f "
                "(plugin/harness)\n",
                r.kills > 0 ? "last incarnation" : "whole run", o.started, e.started, o.success,
                e.success, o.failed, e.failed, o.timeout, e.timeout, o.conflicts, e.conflicts,
                o.active, o.attached, e.attached);
  }
  if (r.inspected >= 0)
    std::printf("inspection port: %lld volumes' states compared with the harness's attachments\n",
                static_cast<long long>(r.inspected));
  std::printf("invariant breaches: %zu\n", r.breaches.size());
  for (size_t i = 0; i < r.breaches.size() && i < 20; ++i)
    std::printf("  volume=%s step=%s: %s\n", r.breaches[i].volume.c_str(),
                r.breaches[i].step.c_str(), r.breaches[i].what.c_str());
  std::printf("verdict: %s\n", verdict(r).c_str());
}

std::string json_report(const run_facts& f, const storm_result& r) {
  auto& c = f.config;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto quantile_object = [&](const quantiles& q) {
    w.StartObject();
    w.Key("calls"), w.Uint64(q.count);
    w.Key("p50_us"), w.Double(q.p50);
    w.Key("p95_us"), w.Double(q.p95);
    w.Key("p99_us"), w.Double(q.p99);
    w.Key("max_us"), w.Double(q.max);
    w.EndObject();
  };
  w.StartObject();
  w.Key("verdict"), w.String(verdict(r).c_str());
  w.Key("config"), w.StartObject();
  w.Key("volumes"), w.Uint64(c.volumes);
  w.Key("rwo_volumes"), w.Uint64(c.rwo_volumes);
  w.Key("migrations"), w.Uint64(c.migrations);
  w.Key("concurrency"), w.Uint64(c.concurrency);
  w.Key("nodes"), w.Uint64(c.nodes);
  w.Key("seed"), w.Uint64(c.seed);
  w.Key("time_scale"), w.Double(c.time_scale);
  w.Key("migration_timeout_seconds"), w.Int(c.migration_timeout_seconds);
  w.Key("kill_controller_every"), w.Uint64(c.kill_every);
  w.Key("scenario_weights"), w.StartObject();
  for (size_t i = 0; i < scenario_count; ++i)
    w.Key(scenario_name(static_cast<scenario>(i))), w.Double(c.weights[i]);
  w.EndObject();
  w.EndObject();
  w.Key("plugin"), w.String(f.plugin.c_str());
  w.Key("rds"), w.String(f.rds.c_str());
  w.Key("machine"), w.String(f.machine.c_str());
  w.Key("setup_seconds"), w.Double(r.setup_seconds);
  w.Key("storm_seconds"), w.Double(r.storm_seconds);
  w.Key("migrations_per_second"), w.Double(rate(r));
  auto cr = create_rate(r);
  w.Key("create_rate"), w.StartObject();
  w.Key("creates_each"), w.Uint64(cr.n);
  w.Key("first_per_second"), w.Double(cr.first);
  w.Key("last_per_second"), w.Double(cr.last);
  w.EndObject();
  w.Key("migrations_finished"), w.Uint64(r.migration_done_at_s.size());
  w.Key("peak_calls_in_flight"), w.Uint64(r.peak_in_flight);
  w.Key("scenarios"), w.StartObject();
  for (size_t i = 0; i < scenario_count; ++i)
    w.Key(scenario_name(static_cast<scenario>(i))), w.Uint64(r.by_scenario[i]);
  w.EndObject();
  w.Key("outcomes"), w.StartObject();
  w.Key("started"), w.Uint64(r.started);
  w.Key("success"), w.Uint64(r.success);
  w.Key("failed"), w.Uint64(r.failed);
  w.Key("timeout"), w.Uint64(r.timeout);
  w.Key("close_to_timeout"), w.Uint64(r.ambiguous);
  w.Key("refused_third_node"), w.Uint64(r.refused_third);
  w.Key("refused_rwo"), w.Uint64(r.refused_rwo);
  w.Key("nodes_deleted"), w.Uint64(r.nodes_deleted);
  w.Key("refused_deleted_node"), w.Uint64(r.refused_deleted_node);
  w.Key("nodes_restored"), w.Uint64(r.nodes_restored);
  w.Key("node_calls"), w.Uint64(r.node_calls);
  w.Key("node_checked_volumes"), w.Int64(r.node_checked);
  w.EndObject();
  w.Key("rpcs"), w.StartObject();
  w.Key("Probe (idle)");
  quantile_object(quantiles_of(r.probe_idle_us));
  for (size_t i = 0; i < rpc_count; ++i) {
    auto which = static_cast<rpc>(i);
    w.Key(rpc_name(which));
    quantile_object(which == rpc::create ? rpc_quantiles(r, which) : storm_quantiles(r, which));
  }
  w.EndObject();
  w.Key("errors"), w.StartObject();
  for (size_t i = 0; i < rpc_count; ++i) {
    w.Key(rpc_name(static_cast<rpc>(i))), w.StartObject();
    for (auto& [code, n] : r.errors[i])
      w.Key(code.c_str()), w.Uint64(n);
    w.EndObject();
  }
  w.EndObject();
  w.Key("retries"), w.Uint64(r.retries);
  w.Key("audits"), w.Uint64(r.audits);
  w.Key("inspected_volumes"), w.Int64(r.inspected);
  w.Key("cpu_seconds"), w.StartObject();
  w.Key("harness"), w.Double(r.harness_cpu_s);
  w.Key("plugin"), w.Double(r.plugin_cpu_s);
  w.EndObject();
  w.Key("plugin_rss_kb"), w.StartObject();
  w.Key("start"), w.Int64(r.rss_start_kb);
  w.Key("attached"), w.Int64(r.rss_attached_kb);
  w.Key("end"), w.Int64(r.rss_end_kb);
  w.Key("idle"), w.Int64(r.rss_idle_kb);
  w.Key("bytes_per_attached_volume"), w.Double(rss_per_volume(r, c));
  w.EndObject();
  w.Key("plugin_stop_seconds"), w.Double(r.plugin_stop_s);
  w.Key("rebuilt_migrations"), w.Uint64(r.rebuilt_migrations);
  w.Key("rebuilt_timeouts"), w.Uint64(r.rebuilt_timeouts);
  w.Key("rebuilt_direction_unsure"), w.Uint64(r.rebuilt_direction_unsure);
  w.Key("rebuilt_same_second"), w.Uint64(r.rebuilt_same_second);
  w.Key("rebuilt_unpublished"), w.Uint64(r.rebuilt_unpublished);
  w.Key("kills"), w.Uint64(r.kills);
  w.Key("restart_ms"), w.StartArray();
  for (auto ms : r.restart_ms)
    w.Double(ms);
  w.EndArray();
  w.Key("counters"), w.StartObject();
  w.Key("checked"), w.Bool(r.counters_checked);
  w.Key("scope"), w.String(r.kills > 0 ? "last incarnation" : "whole run");
  auto counter_object = [&](const counters& k) {
    w.StartObject();
    w.Key("started"), w.Double(k.started);
    w.Key("success"), w.Double(k.success);
    w.Key("failed"), w.Double(k.failed);
    w.Key("timeout"), w.Double(k.timeout);
    w.Key("conflicts"), w.Double(k.conflicts);
    w.Key("active"), w.Double(k.active);
    w.Key("attached"), w.Double(k.attached);
    w.EndObject();
  };
  w.Key("plugin");
  counter_object(r.observed);
  w.Key("harness_min");
  counter_object(r.expected_last);
  w.Key("harness_max");
  counter_object(r.expected_last_max);
  w.EndObject();
  w.Key("breaches"), w.StartArray();
  for (auto& b : r.breaches) {
    w.StartObject();
    w.Key("volume"), w.String(b.volume.c_str());
    w.Key("step"), w.String(b.step.c_str());
    w.Key("what"), w.String(b.what.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::string write_plots(const std::string& dir, const storm_result& r) {
  std::string written;
  // Buckets of about a fiftieth of the storm, at least 100 ms.
  auto start = r.setup_seconds;
  auto length = std::max(0.1, r.storm_seconds);
  auto width = std::max(0.1, length / 50);
  auto buckets = static_cast<size_t>(std::ceil(length / width)) + 1;
  auto bucket_of = [&](float at) -> long {
    auto b = std::floor((at - start) / width);
    return b < 0 ? -1 : static_cast<long>(b);
  };
  {
    std::vector<std::vector<float>> pub(buckets), unpub(buckets), probe(buckets);
    auto fill = [&](rpc which, std::vector<std::vector<float>>& into) {
      for (auto& s : r.latency[static_cast<size_t>(which)]) {
        auto b = bucket_of(s.at_s);
        if (b >= 0 && static_cast<size_t>(b) < buckets)
          into[static_cast<size_t>(b)].push_back(s.us);
      }
    };
    fill(rpc::publish, pub);
    fill(rpc::unpublish, unpub);
    fill(rpc::probe, probe);
    std::ofstream out{dir + "/latency.dat"};
    out << "# seconds publish_p50_us publish_p99_us unpublish_p50_us unpublish_p99_us "
           "probe_p50_us probe_p99_us\n";
    for (size_t b = 0; b < buckets; ++b) {
      auto p = quantiles_of(pub[b]), u = quantiles_of(unpub[b]), q = quantiles_of(probe[b]);
      if (p.count + u.count + q.count == 0)
        continue;
      out << (static_cast<double>(b) + 0.5) * width << ' ' << p.p50 << ' ' << p.p99 << ' ' << u.p50
          << ' ' << u.p99 << ' ' << q.p50 << ' ' << q.p99 << '\n';
    }
    written += dir + "/latency.dat\n";
  }
  {
    std::vector<uint64_t> done(buckets), calls(buckets);
    for (auto at : r.migration_done_at_s) {
      auto b = bucket_of(at);
      if (b >= 0 && static_cast<size_t>(b) < buckets)
        ++done[static_cast<size_t>(b)];
    }
    for (auto& samples : r.latency)
      for (auto& s : samples) {
        auto b = bucket_of(s.at_s);
        if (b >= 0 && static_cast<size_t>(b) < buckets)
          ++calls[static_cast<size_t>(b)];
      }
    std::ofstream out{dir + "/throughput.dat"};
    out << "# seconds migrations_per_second rpcs_per_second\n";
    for (size_t b = 0; b < buckets; ++b)
      out << (static_cast<double>(b) + 0.5) * width << ' ' << static_cast<double>(done[b]) / width
          << ' ' << static_cast<double>(calls[b]) / width << '\n';
    written += dir + "/throughput.dat\n";
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0) {
    std::ofstream script{dir + "/plots.gp"};
    script << "set terminal svg size 900,450 dynamic\n"
              "set key top left\nset grid\nset xlabel 'seconds into the storm'\n"
              "set output '"
           << dir
           << "/latency.svg'\n"
              "set title 'round trip (per bucket)'\nset ylabel 'microseconds'\nset logscale y\n"
              "plot '"
           << dir
           << "/latency.dat' using 1:2 with lines title 'publish p50', "
              "'' using 1:3 with lines title 'publish p99', "
              "'' using 1:4 with lines title 'unpublish p50', "
              "'' using 1:5 with lines title 'unpublish p99', "
              "'' using 1:6 with lines title 'Probe p50'\n"
              "unset logscale y\n"
              "set output '"
           << dir
           << "/throughput.svg'\n"
              "set title 'throughput'\nset ylabel 'per second'\n"
              "plot '"
           << dir
           << "/throughput.dat' using 1:2 with lines title 'migrations/s', "
              "'' using 1:3 with lines title 'RPCs/s'\n";
    script.close();
    if (std::system(("gnuplot '" + dir + "/plots.gp' 2>/dev/null").c_str()) == 0)
      written += dir + "/latency.svg\n" + dir + "/throughput.svg\n";
  }
  return written;
}

} // namespace rds::migrate_load
