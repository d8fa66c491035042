// The worker threads of cluster_driver.
#include "cmd/rds-csi-migrate-load/cluster_driver.hpp"

#include "services/kube/kube_config.hpp"

namespace rds::migrate_load {

cluster_driver::cluster_driver(const std::string& kubeconfig, const std::string& endpoint,
                               size_t workers, client::async_csi& loop)
  : loop_(loop) {
  for (size_t i = 0; i < workers; ++i)
    threads_.emplace_back([this, kubeconfig, endpoint] { serve(kubeconfig, endpoint); });
}

cluster_driver::~cluster_driver() {
  {
    std::lock_guard<std::mutex> guard{lock_};
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    t.join();
}

void cluster_driver::submit(job work, std::function<void(const grpc::Status&)> done) {
  {
    std::lock_guard<std::mutex> guard{lock_};
    queue_.emplace_back(std::move(work), std::move(done));
  }
  wake_.notify_one();
}

void cluster_driver::serve(const std::string& kubeconfig, const std::string& endpoint) {
  services::kube::kube_config config;
  auto loaded = services::kube::load_kubeconfig(kubeconfig, config);
  std::unique_ptr<services::kube::kube_client> api;
  if (loaded.ok())
    api = std::make_unique<services::kube::kube_client>(config);
  client::csi_client csi{endpoint};
  std::unique_ptr<client::external_attacher> attacher;
  if (api)
    attacher = std::make_unique<client::external_attacher>(*api, csi);
  for (;;) {
    std::pair<job, std::function<void(const grpc::Status&)>> next;
    {
      std::unique_lock<std::mutex> guard{lock_};
      wake_.wait(guard, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_)
        return;
      next = std::move(queue_.front());
      queue_.pop_front();
    }
    grpc::Status status;
    if (!attacher) {
      status = grpc::Status{grpc::INTERNAL, "cannot read the kubeconfig " + kubeconfig};
    } else {
      try {
        status = next.first(*attacher, *api);
      } catch (const std::exception& e) {
        status = grpc::Status{grpc::INTERNAL, e.what()};
      }
    }
    loop_.post([done = std::move(next.second), status] { done(status); });
  }
}

} // namespace rds::migrate_load
