// With an apiserver: the attach/detach controller's and external-attacher's writes for each step,
// done by a pool of threads (each with its own Kubernetes client, CSI client and attacher, since
// those calls block), their results handed back to the storm's loop thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/async_csi.hpp"
#include "client/external_attacher.hpp"

namespace rds::migrate_load {

class cluster_driver {
 public:
  using job = std::function<grpc::Status(client::external_attacher&, services::kube::kube_client&)>;

  /// `workers` threads, each with a client of `kubeconfig` and of the CSI `endpoint`.
  cluster_driver(const std::string& kubeconfig, const std::string& endpoint, size_t workers,
                 client::async_csi& loop);
  ~cluster_driver();
  cluster_driver(const cluster_driver&) = delete;
  cluster_driver& operator=(const cluster_driver&) = delete;

  /// `done` gets the job's status and the generation it ran in (see resume()).
  using done_fn = std::function<void(const grpc::Status&, uint64_t generation)>;

  /// Runs `work` on a worker; `done` gets its status on the loop's thread. An exception (an API
  /// write that failed for good) becomes INTERNAL with its message.
  void submit(job work, done_fn done);

  /// Around a plugin restart: the workers take no new job, and this returns once the jobs
  /// running have ended (their results are posted to the loop).
  void pause();
  /// The plugin listens at `endpoint` now: the workers connect there, a new generation begins,
  /// and they take jobs again.
  void resume(const std::string& endpoint);
  /// The generation jobs run in now (0 before the first resume()); loop thread only.
  uint64_t generation();
  /// A GET on the calling thread (its own client; the loop thread only, e.g. while paused).
  services::kube::kube_response get(const std::string& path);

 private:
  void serve(const std::string& kubeconfig);

  client::async_csi& loop_;
  std::string kubeconfig_;
  std::unique_ptr<services::kube::kube_client> reader_;
  std::mutex lock_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::pair<job, done_fn>> queue_;
  bool stopping_ = false;
  bool paused_ = false;
  size_t busy_ = 0;
  uint64_t generation_ = 0;
  std::string endpoint_;
  std::vector<std::thread> threads_;
};

} // namespace rds::migrate_load
