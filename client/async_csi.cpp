// The completion-queue loop of async_csi: each call and timer is a heap object whose address is
// its tag; the loop completes it and deletes it.
#include "client/async_csi.hpp"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <mutex>
#include <set>

namespace rds::client {

namespace {

template <class Response> class call final : public completion {
 public:
  call(async_csi::done<Response> cb, size_t& in_flight)
    : cb_(std::move(cb))
    , in_flight_(in_flight) {
    ++in_flight_;
  }
  void complete(bool) override {
    --in_flight_;
    cb_(status, response);
  }

  grpc::ClientContext context;
  Response response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;

 private:
  async_csi::done<Response> cb_;
  size_t& in_flight_;
};

/// Timers not yet fired, so the destructor can cancel them instead of waiting for them.
/// post() makes timers from other threads, hence the lock.
class timer;
std::set<timer*>& live_timers() {
  static std::set<timer*> timers;
  return timers;
}
std::mutex& live_timers_lock() {
  static std::mutex lock;
  return lock;
}

class timer final : public completion {
 public:
  explicit timer(std::function<void()> cb)
    : cb_(std::move(cb)) {
    std::lock_guard<std::mutex> guard{live_timers_lock()};
    live_timers().insert(this);
  }
  ~timer() override {
    std::lock_guard<std::mutex> guard{live_timers_lock()};
    live_timers().erase(this);
  }
  void complete(bool ok) override {
    if (ok)
      cb_();
  }
  void cancel() { alarm.Cancel(); }
  grpc::Alarm alarm;

 private:
  std::function<void()> cb_;
};

} // namespace

async_csi::async_csi(const std::string& endpoint) {
  reconnect(endpoint);
}

async_csi::~async_csi() {
  {
    std::lock_guard<std::mutex> guard{live_timers_lock()};
    for (auto* t : live_timers())
      t->cancel();
  }
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok))
    delete static_cast<completion*>(tag);
}

void async_csi::reconnect(const std::string& endpoint) {
  grpc::ChannelArguments args;
  // Reconnect at once after a restarted plugin, not after gRPC's default backoff of up to 2 min.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  channel_ = grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
  identity_ = ::csi::v1::Identity::NewStub(channel_);
  controller_ = ::csi::v1::Controller::NewStub(channel_);
  node_ = ::csi::v1::Node::NewStub(channel_);
}

template <class Response, class Start>
void async_csi::start(std::chrono::milliseconds deadline, done<Response> cb, Start&& prepare) {
  auto* c = new call<Response>(std::move(cb), in_flight_);
  c->context.set_deadline(std::chrono::system_clock::now() + deadline);
  c->reader = prepare(&c->context);
  c->reader->StartCall();
  c->reader->Finish(&c->response, &c->status, static_cast<completion*>(c));
}

void async_csi::publish(const ::csi::v1::ControllerPublishVolumeRequest& req,
                        std::chrono::milliseconds deadline,
                        done<::csi::v1::ControllerPublishVolumeResponse> cb) {
  start<::csi::v1::ControllerPublishVolumeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return controller_->PrepareAsyncControllerPublishVolume(ctx, req, &cq_);
  });
}

void async_csi::unpublish(const ::csi::v1::ControllerUnpublishVolumeRequest& req,
                          std::chrono::milliseconds deadline,
                          done<::csi::v1::ControllerUnpublishVolumeResponse> cb) {
  start<::csi::v1::ControllerUnpublishVolumeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return controller_->PrepareAsyncControllerUnpublishVolume(ctx, req, &cq_);
  });
}

void async_csi::get_volume(const ::csi::v1::ControllerGetVolumeRequest& req,
                           std::chrono::milliseconds deadline,
                           done<::csi::v1::ControllerGetVolumeResponse> cb) {
  start<::csi::v1::ControllerGetVolumeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return controller_->PrepareAsyncControllerGetVolume(ctx, req, &cq_);
  });
}

void async_csi::create_volume(const ::csi::v1::CreateVolumeRequest& req,
                              std::chrono::milliseconds deadline,
                              done<::csi::v1::CreateVolumeResponse> cb) {
  start<::csi::v1::CreateVolumeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return controller_->PrepareAsyncCreateVolume(ctx, req, &cq_);
  });
}

void async_csi::probe(std::chrono::milliseconds deadline, done<::csi::v1::ProbeResponse> cb) {
  ::csi::v1::ProbeRequest req;
  start<::csi::v1::ProbeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return identity_->PrepareAsyncProbe(ctx, req, &cq_);
  });
}

size_t async_csi::add_node(const std::string& endpoint) {
  grpc::ChannelArguments args;
  node_channels_.push_back(
    grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args));
  nodes_.push_back(::csi::v1::Node::NewStub(node_channels_.back()));
  return nodes_.size() - 1;
}

void async_csi::node_stage(size_t node, const ::csi::v1::NodeStageVolumeRequest& req,
                           std::chrono::milliseconds deadline,
                           done<::csi::v1::NodeStageVolumeResponse> cb) {
  start<::csi::v1::NodeStageVolumeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return nodes_.at(node)->PrepareAsyncNodeStageVolume(ctx, req, &cq_);
  });
}

void async_csi::node_publish(size_t node, const ::csi::v1::NodePublishVolumeRequest& req,
                             std::chrono::milliseconds deadline,
                             done<::csi::v1::NodePublishVolumeResponse> cb) {
  start<::csi::v1::NodePublishVolumeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return nodes_.at(node)->PrepareAsyncNodePublishVolume(ctx, req, &cq_);
  });
}

void async_csi::node_unpublish(size_t node, const ::csi::v1::NodeUnpublishVolumeRequest& req,
                               std::chrono::milliseconds deadline,
                               done<::csi::v1::NodeUnpublishVolumeResponse> cb) {
  start<::csi::v1::NodeUnpublishVolumeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return nodes_.at(node)->PrepareAsyncNodeUnpublishVolume(ctx, req, &cq_);
  });
}

void async_csi::node_unstage(size_t node, const ::csi::v1::NodeUnstageVolumeRequest& req,
                             std::chrono::milliseconds deadline,
                             done<::csi::v1::NodeUnstageVolumeResponse> cb) {
  start<::csi::v1::NodeUnstageVolumeResponse>(deadline, std::move(cb), [&](auto* ctx) {
    return nodes_.at(node)->PrepareAsyncNodeUnstageVolume(ctx, req, &cq_);
  });
}

void async_csi::after(std::chrono::microseconds delay, std::function<void()> cb) {
  auto* t = new timer(std::move(cb));
  t->alarm.Set(&cq_, std::chrono::system_clock::now() + delay, static_cast<completion*>(t));
}

void async_csi::post(std::function<void()> cb) {
  after(std::chrono::microseconds{0}, std::move(cb));
}

void async_csi::run() {
  stopping_ = false;
  void* tag = nullptr;
  bool ok = false;
  while (!stopping_ && cq_.Next(&tag, &ok)) {
    auto* c = static_cast<completion*>(tag);
    c->complete(ok);
    delete c;
  }
}

} // namespace rds::client
