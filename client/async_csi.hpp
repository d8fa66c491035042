// An asynchronous CSI client on one gRPC completion queue: calls and timers complete as
// callbacks on the one thread that runs the loop, so a load generator keeps thousands of calls
// in flight without a thread per call and without locks.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "csi.grpc.pb.h"

namespace rds::client {

/// Something the completion queue hands back: a finished call or a fired timer.
class completion {
 public:
  virtual ~completion() = default;
  virtual void complete(bool ok) = 0;
};

class async_csi {
 public:
  /// `endpoint` as gRPC names it (unix:///path or host:port).
  explicit async_csi(const std::string& endpoint);
  ~async_csi();
  async_csi(const async_csi&) = delete;
  async_csi& operator=(const async_csi&) = delete;

  /// Points later calls at another channel (a restarted plugin); calls in flight finish on the
  /// old one.
  void reconnect(const std::string& endpoint);

  template <class Response> using done = std::function<void(const grpc::Status&, Response&)>;

  void publish(const ::csi::v1::ControllerPublishVolumeRequest& req,
               std::chrono::milliseconds deadline,
               done<::csi::v1::ControllerPublishVolumeResponse> cb);
  void unpublish(const ::csi::v1::ControllerUnpublishVolumeRequest& req,
                 std::chrono::milliseconds deadline,
                 done<::csi::v1::ControllerUnpublishVolumeResponse> cb);
  void get_volume(const ::csi::v1::ControllerGetVolumeRequest& req,
                  std::chrono::milliseconds deadline,
                  done<::csi::v1::ControllerGetVolumeResponse> cb);
  void create_volume(const ::csi::v1::CreateVolumeRequest& req, std::chrono::milliseconds deadline,
                     done<::csi::v1::CreateVolumeResponse> cb);
  void probe(std::chrono::milliseconds deadline, done<::csi::v1::ProbeResponse> cb);
  /// A node plugin's endpoint; the node calls below name it by the index returned.
  size_t add_node(const std::string& endpoint);
  void node_stage(size_t node, const ::csi::v1::NodeStageVolumeRequest& req,
                  std::chrono::milliseconds deadline, done<::csi::v1::NodeStageVolumeResponse> cb);
  void node_publish(size_t node, const ::csi::v1::NodePublishVolumeRequest& req,
                    std::chrono::milliseconds deadline,
                    done<::csi::v1::NodePublishVolumeResponse> cb);
  void node_unpublish(size_t node, const ::csi::v1::NodeUnpublishVolumeRequest& req,
                      std::chrono::milliseconds deadline,
                      done<::csi::v1::NodeUnpublishVolumeResponse> cb);
  void node_unstage(size_t node, const ::csi::v1::NodeUnstageVolumeRequest& req,
                    std::chrono::milliseconds deadline,
                    done<::csi::v1::NodeUnstageVolumeResponse> cb);

  /// Calls `cb` on the loop's thread after `delay` (0: at the next turn of the loop).
  void after(std::chrono::microseconds delay, std::function<void()> cb);

  /// Calls `cb` on the loop's thread as soon as it can; callable from any thread.
  void post(std::function<void()> cb);

  /// Runs completions until stop() is called from a callback; returns then.
  void run();
  void stop() { stopping_ = true; }

  /// Calls started and not yet finished (timers not included).
  size_t in_flight() const { return in_flight_; }

  grpc::CompletionQueue& queue() { return cq_; }

 private:
  template <class Response, class Start>
  void start(std::chrono::milliseconds deadline, done<Response> cb, Start&& prepare);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<::csi::v1::Identity::Stub> identity_;
  std::unique_ptr<::csi::v1::Controller::Stub> controller_;
  std::unique_ptr<::csi::v1::Node::Stub> node_;
  std::vector<std::shared_ptr<grpc::Channel>> node_channels_;
  std::vector<std::unique_ptr<::csi::v1::Node::Stub>> nodes_;
  grpc::CompletionQueue cq_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
};

} // namespace rds::client
