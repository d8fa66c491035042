// The worker threads of cluster_driver.
#include "cmd/rds-csi-migrate-load/cluster_driver.hpp"

#include "services/kube/kube_config.hpp"

namespace rds::migrate_load {

cluster_driver::cluster_driver(const std::string& kubeconfig, const std::string& endpoint,
                               size_t workers, client::async_csi& loop)
  : loop_(loop)
  , kubeconfig_(kubeconfig)
  , endpoint_(endpoint) {
  for (size_t i = 0; i < workers; ++i)
    threads_.emplace_back([this, kubeconfig] { serve(kubeconfig); });
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

void cluster_driver::submit(job work, done_fn done) {
  {
    std::lock_guard<std::mutex> guard{lock_};
    queue_.emplace_back(std::move(work), std::move(done));
  }
  wake_.notify_one();
}

void cluster_driver::pause() {
  std::unique_lock<std::mutex> guard{lock_};
  paused_ = true;
  idle_.wait(guard, [this] { return busy_ == 0; });
}

void cluster_driver::resume(const std::string& endpoint) {
  {
    std::lock_guard<std::mutex> guard{lock_};
    endpoint_ = endpoint;
    ++generation_;
    paused_ = false;
  }
  wake_.notify_all();
}

uint64_t cluster_driver::generation() {
  std::lock_guard<std::mutex> guard{lock_};
  return generation_;
}

services::kube::kube_response cluster_driver::get(const std::string& path) {
  if (!reader_) {
    services::kube::kube_config config;
    auto loaded = services::kube::load_kubeconfig(kubeconfig_, config);
    if (!loaded.ok())
      return {loaded, 0, {}};
    reader_ = std::make_unique<services::kube::kube_client>(config);
  }
  return client::api_call(*reader_, "GET", path, "");
}

void cluster_driver::serve(const std::string& kubeconfig) {
  services::kube::kube_config config;
  auto loaded = services::kube::load_kubeconfig(kubeconfig, config);
  std::unique_ptr<services::kube::kube_client> api;
  if (loaded.ok())
    api = std::make_unique<services::kube::kube_client>(config);
  std::string endpoint;
  std::unique_ptr<client::csi_client> csi;
  std::unique_ptr<client::external_attacher> attacher;
  for (;;) {
    std::pair<job, done_fn> next;
    uint64_t generation = 0;
    {
      std::unique_lock<std::mutex> guard{lock_};
      wake_.wait(guard, [this] { return stopping_ || (!paused_ && !queue_.empty()); });
      if (stopping_)
        return;
      next = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      generation = generation_;
      if (endpoint != endpoint_) {
        // A restarted plugin listens elsewhere: a new client (and an attacher using it).
        endpoint = endpoint_;
        attacher.reset();
        csi = std::make_unique<client::csi_client>(endpoint);
        if (api)
          attacher = std::make_unique<client::external_attacher>(*api, *csi);
      }
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
    loop_.post([done = std::move(next.second), status, generation] { done(status, generation); });
    {
      std::lock_guard<std::mutex> guard{lock_};
      --busy_;
    }
    idle_.notify_all();
  }
}

} // namespace rds::migrate_load
