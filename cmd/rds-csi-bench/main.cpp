// rds-csi-bench: starts the real plugin and measures, over its unix socket, ControllerPublish
// and ControllerUnpublish latency and throughput with many volumes published concurrently, and
// in the same run a bare gRPC server (one unary method that answers at once, callback API, unix
// socket, a process of its own as the plugin is) driven by the same clients, so the plugin's
// cost is printed as a ratio of gRPC's own.
// Prints figures; asserts nothing.
#include <absl/synchronization/mutex.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <CLI/CLI.hpp>

#include "client/csi_client.hpp"
#include "client/plugin_process.hpp"

#include <curl/curl.h>

using namespace rds::client;
using clock_type = std::chrono::steady_clock;

namespace {

struct figures {
  double p50_us = 0, p99_us = 0, max_us = 0;
};

figures summarize(std::vector<double> samples_us) {
  figures f;
  if (samples_us.empty())
    return f;
  std::sort(samples_us.begin(), samples_us.end());
  auto at = [&](double q) {
    return samples_us[std::min(samples_us.size() - 1, static_cast<size_t>(q * samples_us.size()))];
  };
  f.p50_us = at(0.50);
  f.p99_us = at(0.99);
  f.max_us = samples_us.back();
  return f;
}

double micros_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t).count();
}

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

void print(const char* what, const figures& f) {
  std::printf("  %-28s p50 %8.1f us   p99 %8.1f us   max %8.1f us\n", what, f.p50_us, f.p99_us,
              f.max_us);
}

struct run_result {
  figures publish, unpublish;
  double seconds = 0;
  int failures = 0;
};

/// Each of `concurrency` client threads takes the next volume, publishes it to a node and
/// unpublishes it again, until every volume is done.
run_result publish_unpublish(const std::string& endpoint, const std::vector<std::string>& ids,
                             int concurrency) {
  int volumes = static_cast<int>(ids.size());
  std::atomic<int> next{0}, failures{0};
  std::vector<std::vector<double>> pub(concurrency), unpub(concurrency);
  auto begin = clock_type::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < concurrency; ++t)
    workers.emplace_back([&, t] {
      csi_client client{endpoint};
      for (int i = next++; i < volumes; i = next++) {
        auto& volume = ids[static_cast<size_t>(i)];
        auto t0 = clock_type::now();
        if (!client.publish(volume, "node-" + std::to_string(t % 8), volume_access::rwx_block).ok())
          ++failures;
        pub[t].push_back(micros_since(t0));
        auto t1 = clock_type::now();
        if (!client.unpublish(volume, "node-" + std::to_string(t % 8)).ok())
          ++failures;
        unpub[t].push_back(micros_since(t1));
      }
    });
  for (auto& w : workers)
    w.join();
  run_result r;
  r.seconds = micros_since(begin) / 1e6;
  std::vector<double> all_pub, all_unpub;
  for (int t = 0; t < concurrency; ++t) {
    all_pub.insert(all_pub.end(), pub[t].begin(), pub[t].end());
    all_unpub.insert(all_unpub.end(), unpub[t].begin(), unpub[t].end());
  }
  r.publish = summarize(all_pub);
  r.unpublish = summarize(all_unpub);
  r.failures = failures;
  return r;
}

/// The floor the plugin is compared with: a gRPC server whose only method,
/// ControllerPublishVolume, answers OK at once from the gRPC thread (no actor, no rule).
class bare_controller final : public ::csi::v1::Controller::CallbackService {
  grpc::ServerUnaryReactor*
  ControllerPublishVolume(grpc::CallbackServerContext* ctx,
                          const ::csi::v1::ControllerPublishVolumeRequest*,
                          ::csi::v1::ControllerPublishVolumeResponse*) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

/// Serves bare_controller on `endpoint` until standard input closes (the bench that started
/// this process ended); prints "ready" once it listens. The bench's hidden --bare-server mode.
int serve_bare(const std::string& endpoint) {
  // As the plugin's server does (services/csi/server.cpp): the floor is gRPC without Abseil's
  // deadlock detection, which Debian's Abseil (built without NDEBUG) runs by default.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  bare_controller service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(endpoint, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::fprintf(stderr, "rds-csi-bench: cannot listen on %s\n", endpoint.c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  char byte;
  while (::read(STDIN_FILENO, &byte, 1) > 0) {
  }
  server->Shutdown(std::chrono::system_clock::now());
  server->Wait();
  return 0;
}

/// The bare server in a process of its own, as the plugin is: in the bench's own process its
/// thread hand-overs stayed within one address space, cheaper than any separate server's (the
/// plugin's), and the bench's clients shared its CPU figures.
class bare_server {
 public:
  bare_server()
    : endpoint_("unix://" + dir_.path() + "/bare.sock") {
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0)
      throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(to_child[0], STDIN_FILENO);
      ::dup2(from_child[1], STDOUT_FILENO);
      ::close(to_child[1]);
      ::close(from_child[0]);
      ::execl("/proc/self/exe", "rds-csi-bench", "--bare-server", endpoint_.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    stop_fd_ = to_child[1];
    char line[16] = {};
    auto got = ::read(from_child[0], line, sizeof line - 1);
    ::close(from_child[0]);
    if (got <= 0 || std::string{line}.rfind("ready", 0) != 0)
      throw std::runtime_error("the bare server did not start on " + endpoint_);
  }
  ~bare_server() {
    ::close(stop_fd_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  bare_server(const bare_server&) = delete;
  bare_server& operator=(const bare_server&) = delete;
  const std::string& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }

 private:
  temp_dir dir_;
  std::string endpoint_;
  pid_t pid_ = -1;
  int stop_fd_ = -1;
};

/// `calls` ControllerPublishVolume calls spread over `concurrency` client threads, each with
/// its own channel, as publish_unpublish does.
run_result bare_publish(const std::string& endpoint, const std::vector<std::string>& ids, int calls,
                        int concurrency) {
  std::atomic<int> next{0}, failures{0};
  std::vector<std::vector<double>> samples(concurrency);
  auto begin = clock_type::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < concurrency; ++t)
    workers.emplace_back([&, t] {
      csi_client client{endpoint};
      for (int i = next++; i < calls; i = next++) {
        auto& volume = ids[static_cast<size_t>(i) % ids.size()];
        auto t0 = clock_type::now();
        if (!client.publish(volume, "node-" + std::to_string(t % 8), volume_access::rwx_block).ok())
          ++failures;
        samples[t].push_back(micros_since(t0));
      }
    });
  for (auto& w : workers)
    w.join();
  run_result r;
  r.seconds = micros_since(begin) / 1e6;
  std::vector<double> all;
  for (auto& s : samples)
    all.insert(all.end(), s.begin(), s.end());
  r.publish = summarize(all);
  r.failures = failures;
  return r;
}

/// CPU time a process has used so far, in microseconds: in user space and in the kernel.
struct cpu_time {
  double user = 0;
  double system = 0;
  double total() const { return user + system; }
};

/// The CPU time the process `pid` has used so far; zero if unknown.
cpu_time cpu_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  // Fields after the command name, which is in parentheses and may contain spaces.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return {};
  std::istringstream fields{text.substr(close + 2)};
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14)
      utime = std::stod(field);
    if (i == 15) {
      stime = std::stod(field);
      break;
    }
  }
  auto tick = 1e6 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return {utime * tick, stime * tick};
}

/// CPU time (user + system) this process (the clients) has used so far, in microseconds.
double own_cpu_micros() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto micros = [](const timeval& t) { return t.tv_sec * 1e6 + static_cast<double>(t.tv_usec); };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

/// Context switches (voluntary and not) of every thread of the process `pid` so far; 0 if
/// unknown. Per RPC, they count the thread hand-overs a call costs, a figure that the machine's
/// load disturbs much less than latency.
double context_switches(pid_t pid) {
  double total = 0;
  std::error_code ec;
  for (auto& task :
       std::filesystem::directory_iterator{"/proc/" + std::to_string(pid) + "/task", ec}) {
    std::ifstream in{task.path() / "status"};
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0
          || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        total += std::stod(line.substr(line.find(':') + 1));
  }
  return total;
}

/// One round of the comparison at `concurrency` clients: the bare server, then the plugin, with
/// the same number of calls, back to back so both meet the same machine load.
bool compare_with_bare(const plugin_process& plugin, const bare_server& bare_process,
                       const std::vector<std::string>& ids, int concurrency) {
  int volumes = static_cast<int>(ids.size());
  auto bare_cpu_before = cpu_of(bare_process.pid());
  auto bare_switches_before = context_switches(bare_process.pid());
  auto bare_clients_before = own_cpu_micros();
  auto bare = bare_publish(bare_process.endpoint(), ids, 2 * volumes, concurrency);
  auto bare_clients_per_call = (own_cpu_micros() - bare_clients_before) / (2 * volumes);
  auto bare_cpu = cpu_of(bare_process.pid());
  auto bare_cpu_per_call = (bare_cpu.total() - bare_cpu_before.total()) / (2 * volumes);
  auto bare_kernel_per_call = (bare_cpu.system - bare_cpu_before.system) / (2 * volumes);
  auto bare_switches_per_call =
    (context_switches(bare_process.pid()) - bare_switches_before) / (2 * volumes);
  auto cpu_before = cpu_of(plugin.pid());
  auto switches_before = context_switches(plugin.pid());
  auto clients_before = own_cpu_micros();
  auto r = publish_unpublish(plugin.endpoint(), ids, concurrency);
  auto clients_per_rpc = (own_cpu_micros() - clients_before) / (2 * volumes);
  auto cpu = cpu_of(plugin.pid());
  auto cpu_per_rpc = (cpu.total() - cpu_before.total()) / (2 * volumes);
  auto kernel_per_rpc = (cpu.system - cpu_before.system) / (2 * volumes);
  auto switches_per_rpc = (context_switches(plugin.pid()) - switches_before) / (2 * volumes);
  double bare_rate = 2 * volumes / bare.seconds, plugin_rate = 2 * volumes / r.seconds;
  std::printf("%d concurrent clients, %d calls each side:\n", concurrency, 2 * volumes);
  std::printf("  bare gRPC server:  %.0f calls/s (%d failed), %.0f us of its CPU per call (%.0f in "
              "the kernel), %.1f context switches per call; clients %.0f us of CPU per call\n",
              bare_rate, bare.failures, bare_cpu_per_call, bare_kernel_per_call,
              bare_switches_per_call, bare_clients_per_call);
  print("bare ControllerPublishVolume", bare.publish);
  std::printf(
    "  plugin: %.0f RPC/s (%d publish + %d unpublish in %.2f s, %d failed), "
    "%.0f us of plugin CPU per RPC (%.0f in the kernel), %.1f context switches per RPC; clients "
    "%.0f us of CPU per RPC\n",
    plugin_rate, volumes, volumes, r.seconds, r.failures, cpu_per_rpc, kernel_per_rpc,
    switches_per_rpc, clients_per_rpc);
  print("ControllerPublishVolume", r.publish);
  print("ControllerUnpublishVolume", r.unpublish);
  std::printf("  => publish p50 %.2fx bare, plugin throughput %.0f%% of bare\n",
              r.publish.p50_us / bare.publish.p50_us, 100 * plugin_rate / bare_rate);
  return bare.failures == 0 && r.failures == 0;
}

size_t discard(char*, size_t size, size_t count, void*) {
  return size * count;
}

/// Requests per second rds-sim answers for a plain GET from `threads` keep-alive clients.
double raw_rate(const std::string& url, int threads, int requests) {
  std::atomic<int> next{0};
  auto begin = clock_type::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      CURL* curl = curl_easy_init();
      curl_easy_setopt(curl, CURLOPT_URL, (url + "/system/resource").c_str());
      curl_easy_setopt(curl, CURLOPT_USERPWD, "rds-csi:sim-secret");
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
      while (next++ < requests)
        curl_easy_perform(curl);
      curl_easy_cleanup(curl);
    });
  for (auto& w : workers)
    w.join();
  return requests / (micros_since(begin) / 1e6);
}

/// CreateVolume + DeleteVolume through the plugin against rds-sim as its own process, beside
/// the simulator's raw request rate.
bool volume_lifecycle(int concurrency) {
  constexpr int volumes = 500;
  temp_dir dir;
  pid_t sim_pid = -1;
  auto url = start_rds_sim(dir, {}, sim_pid);
  if (url.empty())
    return false;
  std::printf("rds-sim raw: %.0f requests/s (GET, 8 keep-alive clients)\n", raw_rate(url, 8, 4000));
  plugin_process plugin{rds_sim_flags(dir, url)};
  std::atomic<int> next{0}, failures{0};
  std::vector<std::vector<double>> create_us(concurrency), delete_us(concurrency);
  auto begin = clock_type::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < concurrency; ++t)
    workers.emplace_back([&, t] {
      csi_client client{plugin.endpoint()};
      for (int i = next++; i < volumes; i = next++) {
        ::csi::v1::Volume v;
        auto t0 = clock_type::now();
        if (!client
               .create_volume("pvc-bench-" + std::to_string(i), 1 << 30, volume_access::rwo, {}, v)
               .ok())
          ++failures;
        create_us[t].push_back(micros_since(t0));
        auto t1 = clock_type::now();
        if (!client.delete_volume(v.volume_id()).ok())
          ++failures;
        delete_us[t].push_back(micros_since(t1));
      }
    });
  for (auto& w : workers)
    w.join();
  auto seconds = micros_since(begin) / 1e6;
  std::vector<double> all_create, all_delete;
  for (int t = 0; t < concurrency; ++t) {
    all_create.insert(all_create.end(), create_us[t].begin(), create_us[t].end());
    all_delete.insert(all_delete.end(), delete_us[t].begin(), delete_us[t].end());
  }
  std::printf("%d volumes created and deleted by %d clients through the plugin: %.0f "
              "volumes/s (%.2f s, %d failed)\n",
              volumes, concurrency, volumes / seconds, seconds, failures.load());
  print("CreateVolume", summarize(all_create));
  print("DeleteVolume", summarize(all_delete));
  plugin.terminate();
  stop_process(sim_pid, std::chrono::seconds{5});
  return failures == 0;
}

/// The node path, as root, on loop devices over the embedded simulator's files: NodeStage (with
/// and without mkfs.ext4), NodePublish, NodeUnpublish and NodeUnstage, one volume at a time.
bool node_path(int volumes) {
  if (::geteuid() != 0) {
    std::printf("node path: skipped (needs root for loop devices and mounts)\n");
    return true;
  }
  temp_dir dir;
  auto kubelet = dir.path() + "/kubelet";
  std::filesystem::create_directories(kubelet + "/staging");
  std::filesystem::create_directories(kubelet + "/pods");
  plugin_process plugin{{"--mode=all", "--node-id=bench", "--kubelet-dir=" + kubelet,
                         "--rds-sim-data-dir=" + dir.path() + "/sim"}};
  csi_client client{plugin.endpoint()};
  ::csi::v1::VolumeCapability cap;
  cap.mutable_access_mode()->set_mode(::csi::v1::VolumeCapability::AccessMode::SINGLE_NODE_WRITER);
  cap.mutable_mount()->set_fs_type("ext4");
  std::vector<double> format_us, stage_us, publish_us, unpublish_us, unstage_us;
  int failures = 0;
  auto timed = [&](std::vector<double>& into, auto&& rpc) {
    grpc::ClientContext ctx;
    set_deadline(ctx);
    auto t0 = clock_type::now();
    if (!rpc(ctx).ok())
      ++failures;
    into.push_back(micros_since(t0));
  };
  for (int i = 0; i < volumes; ++i) {
    ::csi::v1::Volume v;
    if (!client.create_volume("pvc-node-" + std::to_string(i), 64 << 20, volume_access::rwo, {}, v)
           .ok()
        || !client.publish(v.volume_id(), "bench", volume_access::rwo).ok())
      return false;
    ::csi::v1::NodeStageVolumeRequest stage;
    stage.set_volume_id(v.volume_id());
    stage.set_staging_target_path(kubelet + "/staging/" + v.volume_id());
    std::filesystem::create_directories(stage.staging_target_path());
    *stage.mutable_volume_capability() = cap;
    *stage.mutable_volume_context() = v.volume_context();
    ::csi::v1::NodeUnstageVolumeRequest unstage;
    unstage.set_volume_id(v.volume_id());
    unstage.set_staging_target_path(stage.staging_target_path());
    ::csi::v1::NodePublishVolumeRequest publish;
    publish.set_volume_id(v.volume_id());
    publish.set_staging_target_path(stage.staging_target_path());
    publish.set_target_path(kubelet + "/pods/" + v.volume_id());
    *publish.mutable_volume_capability() = cap;
    ::csi::v1::NodeUnpublishVolumeRequest unpublish;
    unpublish.set_volume_id(v.volume_id());
    unpublish.set_target_path(publish.target_path());
    ::csi::v1::NodeStageVolumeResponse staged;
    ::csi::v1::NodeUnstageVolumeResponse unstaged;
    ::csi::v1::NodePublishVolumeResponse published;
    ::csi::v1::NodeUnpublishVolumeResponse unpublished;
    auto& node = client.node();
    timed(format_us,
          [&](grpc::ClientContext& c) { return node.NodeStageVolume(&c, stage, &staged); });
    timed(publish_us,
          [&](grpc::ClientContext& c) { return node.NodePublishVolume(&c, publish, &published); });
    timed(unpublish_us, [&](grpc::ClientContext& c) {
      return node.NodeUnpublishVolume(&c, unpublish, &unpublished);
    });
    timed(unstage_us,
          [&](grpc::ClientContext& c) { return node.NodeUnstageVolume(&c, unstage, &unstaged); });
    timed(stage_us,
          [&](grpc::ClientContext& c) { return node.NodeStageVolume(&c, stage, &staged); });
    timed(unstage_us,
          [&](grpc::ClientContext& c) { return node.NodeUnstageVolume(&c, unstage, &unstaged); });
  }
  std::printf("node path, %d ext4 volumes of 64 MiB on loop devices (%d failed):\n", volumes,
              failures);
  print("NodeStage (connect+mkfs)", summarize(format_us));
  print("NodeStage (connect+mount)", summarize(stage_us));
  print("NodePublish (bind)", summarize(publish_us));
  print("NodeUnpublish", summarize(unpublish_us));
  print("NodeUnstage (disconnect)", summarize(unstage_us));
  plugin.terminate();
  return failures == 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Starts the real plugin ($RDS_CSI_PLUGIN, else next to this program) and measures "
               "its CSI calls over the unix socket: Probe, ControllerPublish/Unpublish beside a "
               "bare gRPC server in the same run, CreateVolume/DeleteVolume against rds-sim, and "
               "(as root) the node path on loop devices. Prints figures; asserts nothing."};
  int volumes = 5000, concurrency = 32, probes = 2000, rounds = 1;
  bool publish_only = false;
  std::string bare_server_endpoint;
  app.add_option("--volumes", volumes, "volumes published and unpublished per round")
    ->check(CLI::Range(1, 10000000))
    ->capture_default_str();
  app.add_option("--concurrency", concurrency, "concurrent clients (each its own channel)")
    ->check(CLI::Range(1, 10000000))
    ->capture_default_str();
  app.add_option("--probes", probes, "sequential Probe calls")
    ->check(CLI::Range(1, 10000000))
    ->capture_default_str();
  app.add_option("--rounds", rounds, "rounds of the bare-server comparison (1 and N clients)")
    ->check(CLI::Range(1, 10000000))
    ->capture_default_str();
  app.add_flag("--publish-only", publish_only,
               "only Probe and the publish comparison: no rds-sim lifecycle, no node path");
  // The bare server's own process (see bare_server); not for users, so not in --help.
  app.add_option("--bare-server", bare_server_endpoint)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; a bad flag or value exits 2, as the plugin's flags do.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (!bare_server_endpoint.empty())
    return serve_bare(bare_server_endpoint);

  plugin_process plugin;
  csi_client client{plugin.endpoint()};
  std::printf("rds-csi-bench: %u cores, %s\n", std::thread::hardware_concurrency(),
              cpu_model().c_str());

  std::vector<double> probe_us;
  bool ready = false;
  for (int i = 0; i < probes; ++i) {
    auto t0 = clock_type::now();
    client.probe(ready);
    probe_us.push_back(micros_since(t0));
  }
  std::printf("Probe, sequential, %d calls:\n", probes);
  print("Probe round trip", summarize(probe_us));

  // Only volumes that exist on the RDS are published: create them first (not timed).
  std::vector<std::string> ids(static_cast<size_t>(volumes));
  {
    std::atomic<int> next{0};
    std::vector<std::thread> creators;
    for (int t = 0; t < 8; ++t)
      creators.emplace_back([&] {
        csi_client creator{plugin.endpoint()};
        for (int i = next++; i < volumes; i = next++)
          ids[static_cast<size_t>(i)] = creator.provision("pvc-bench-" + std::to_string(i));
      });
    for (auto& t : creators)
      t.join();
    if (std::count(ids.begin(), ids.end(), std::string{}) != 0) {
      std::fprintf(stderr, "rds-csi-bench: CreateVolume failed\n");
      return 1;
    }
  }
  bool publish_ok = true;
  {
    bare_server bare;
    for (int round = 1; round <= rounds; ++round) {
      std::printf("round %d of %d\n", round, rounds);
      for (int c : {1, concurrency})
        publish_ok = compare_with_bare(plugin, bare, ids, c) && publish_ok;
    }
  }
  if (plugin.terminate() != 0)
    return 1;
  if (publish_only)
    return publish_ok ? 0 : 1;
  bool lifecycle_ok = volume_lifecycle(concurrency);
  return node_path(16) && lifecycle_ok && publish_ok ? 0 : 1;
}
