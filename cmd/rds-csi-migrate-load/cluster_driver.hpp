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

  /// Runs `work` on a worker; `done` gets its status on the loop's thread. An exception (an API
  /// write that failed for good) becomes INTERNAL with its message.
  void submit(job work, std::function<void(const grpc::Status&)> done);

 private:
  void serve(const std::string& kubeconfig, const std::string& endpoint);

  client::async_csi& loop_;
  std::mutex lock_;
  std::condition_variable wake_;
  std::deque<std::pair<job, std::function<void(const grpc::Status&)>>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace rds::migrate_load
