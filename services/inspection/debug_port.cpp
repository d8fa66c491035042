// The inspection port's HTTP edge on civetweb threads: each request asks the inspector with a
// blocking request of its own (a scoped actor), bounded by the inspector's deadline.
#include "services/inspection/debug_port.hpp"

#include <caf/scoped_actor.hpp>

#include "services/inspection/html.hpp"
#include "services/inspection/query.hpp"
#include "services/inspection/render.hpp"
#include "services/inspection/token.hpp"

namespace rds::services::inspection {

debug_port::debug_port(caf::actor_system& sys, debug_port_config config, inspector_actor inspector,
                       state_feed_actor feed, metrics_actor metrics)
  : sys_(sys)
  , config_(std::move(config))
  , inspector_(std::move(inspector))
  , feed_(std::move(feed))
  , metrics_(std::move(metrics)) {
  http::server_limits limits;
  limits.max_connections = config_.max_clients;
  // A client that trickles its request in does not hold one of the few connections for long.
  limits.io_timeout_ms = 10000;
  server_ = std::make_unique<http::server>(
    config_.address, [this](const http::request& req) { return handle(req); }, limits);
  if (!server_->error().empty())
    error_ = "cannot serve the inspection port: " + server_->error()
             + " (in use? --debug-address= disables it)";
}

debug_port::~debug_port() {
  stop();
}

const std::string& debug_port::error() const {
  return error_;
}

int debug_port::port() const {
  return server_->port();
}

void debug_port::stop() {
  server_->stop();
}

http::response debug_port::handle(const http::request& req) {
  std::string label = "other";
  auto resp = answer(req, label);
  if (metrics_)
    caf::anon_send(metrics_, debug_request_recorded{label, static_cast<uint16_t>(resp.status)});
  return resp;
}

http::response debug_port::answer(const http::request& req, std::string& label) {
  http::response resp;
  auto html = wants_html(req.accept);
  auto fail = [&](int status, const std::string& why) {
    resp.status = status;
    resp.body = error_json(why);
    resp.content_type = "application/json";
    if (html) {
      resp.body = html_page(std::to_string(status) + " " + http::reason_phrase(status), resp.body);
      resp.content_type = "text/html; charset=utf-8";
    }
    return resp;
  };
  auto r = parse_route(req.method, req.path, req.query);
  label = r.label;
  // The token first: without it, not even whether a path exists is told.
  if (!authorized(req.authorization, config_.token)) {
    resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"rds-csi inspection\"");
    return fail(401, "a bearer token is required (Authorization: Bearer <token>)");
  }
  if (r.status == 405)
    resp.headers.emplace_back("Allow", "GET");
  if (r.status != 200)
    return fail(r.status, r.error);
  if (r.kind == route_kind::index) {
    resp.content_type = "text/html; charset=utf-8";
    resp.body = index_page(config_.controller, config_.node);
    return resp;
  }
  if (r.kind == route_kind::stream) {
    if (!config_.controller)
      return fail(404, "/debug/stream: this plugin runs no controller (--mode=node)");
    resp.content_type = "text/event-stream";
    auto replay = r.replay;
    auto after = r.after;
    resp.stream = [this, replay, after](http::stream_sink& sink) { stream(sink, replay, after); };
    return resp;
  }
  debug_answer got{503, ""};
  caf::scoped_actor self{sys_};
  // The inspector answers within its deadline per actor; the margin covers its own queue.
  self->request(inspector_, config_.timeout + std::chrono::seconds{2}, inspect_atom_v, r.request)
    .receive([&](const debug_answer& a) { got = a; },
             [&](const caf::error& e) {
               got.json = error_json("inspector: no answer (" + to_string(e) + ")");
             });
  resp.status = got.status;
  resp.body = std::move(got.json);
  if (html) {
    resp.body = html_page(req.path, resp.body);
    resp.content_type = "text/html; charset=utf-8";
  }
  return resp;
}

void debug_port::stream(http::stream_sink& sink, bool replay, uint64_t after) {
  caf::scoped_actor self{sys_};
  auto ask = [&](caf::timespan wait, state_changes& out) {
    bool ok = false;
    self->request(feed_, wait + std::chrono::seconds{2}, feed_atom_v, after, wait)
      .receive(
        [&](const state_changes& c) {
          out = c;
          ok = true;
        },
        [&](const caf::error&) {});
    return ok;
  };
  state_changes changes;
  if (!replay) {
    // Only what happens from now on: start after the feed's latest change.
    if (!ask(caf::timespan{0}, changes))
      return;
    after = changes.last_sequence;
  }
  // The first line says where the stream starts: a reader knows from then on nothing is missed.
  if (!sink.write(": rds-csi state changes after " + std::to_string(after) + "\n\n"))
    return;
  auto quiet_since = std::chrono::steady_clock::now();
  while (sink.open()) {
    if (!ask(config_.stream_poll, changes)) {
      sink.write("event: error\ndata: {\"error\":\"the state feed does not answer\"}\n\n");
      return;
    }
    if (changes.changes.empty() && changes.dropped == 0) {
      if (std::chrono::steady_clock::now() - quiet_since >= config_.heartbeat) {
        if (!sink.write(": heartbeat\n\n"))
          return;
        quiet_since = std::chrono::steady_clock::now();
      }
      continue;
    }
    if (!sink.write(server_sent_events(changes)))
      return;
    after = changes.last_sequence;
    quiet_since = std::chrono::steady_clock::now();
  }
}

} // namespace rds::services::inspection
