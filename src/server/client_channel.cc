#include "server/client_channel.h"

#include "protocol/reply.h"
#include "protocol/request.h"
#include "server/connection_sink.h"
#include "server/connection_tracker.h"

namespace parley::server {
namespace {

// Requests a client may have waiting behind the one running. Past this the
// socket is no longer read until the queue drains: a flooding client slows
// itself down instead of growing server memory.
constexpr size_t kMaxWaitingLines = 64;
constexpr size_t kResumeReadingBelow = 16;

}  // namespace

std::shared_ptr<ClientChannel> ClientChannel::create(ChatService& service,
                                                     const net::TransportPtr& connection,
                                                     ConnectionTracker& tracker) {
  auto channel = std::make_shared<ClientChannel>(service, connection, tracker);
  tracker.add(channel);
  return channel;
}

ClientChannel::ClientChannel(ChatService& service, const net::TransportPtr& connection,
                             ConnectionTracker& tracker)
    : metrics_(service.metrics()),
      tracker_(tracker),
      connection_(connection),
      session_(std::make_shared<Session>(service, std::make_shared<ConnectionSink>(connection))) {}

void ClientChannel::onLine(std::string_view line) {
  if (closed_) return;
  waiting_.push(std::string(line));
  if (metrics_) metrics_->requests_waiting.fetch_add(1, std::memory_order_relaxed);
  if (waiting_.size() >= kMaxWaitingLines) {
    if (auto c = connection_.lock()) c->pauseReading();
  }
  processNext();
}

void ClientChannel::processNext() {
  while (!busy_ && !closed_ && !shutting_down_ && !waiting_.empty()) {
    std::string line = std::move(waiting_.front());
    waiting_.pop();
    if (metrics_) metrics_->requests_waiting.fetch_sub(1, std::memory_order_relaxed);
    if (waiting_.size() == kResumeReadingBelow) {
      if (auto c = connection_.lock()) c->resumeReading();
    }
    protocol::Parsed parsed = protocol::parseRequest(line);
    if (!parsed.request) {
      // Bad input gets its error and the connection stays open.
      count(parsed.error);
      session_->sink().send(protocol::serializeError(parsed.rid, parsed.error));
      continue;
    }
    busy_ = true;
    auto self = shared_from_this();
    nlohmann::json rid = parsed.request->rid;
    session_->handle(*parsed.request, [self, rid](Result<protocol::Reply> result) {
      if (self->closed_) return;
      self->count(result.ok() ? Status::Ok() : result.status());
      self->session_->sink().send(result.ok() ? protocol::serializeOk(rid, result.value())
                                              : protocol::serializeError(rid, result.status()));
      self->busy_ = false;
      self->syncAuthenticated();
      if (self->shutting_down_) {
        self->finishShutdown();
      } else {
        self->processNext();
      }
    });
  }
}

void ClientChannel::syncAuthenticated() {
  bool now = session_->user().has_value();
  if (now == authenticated_) return;
  authenticated_ = now;
  if (auto c = connection_.lock()) c->setAuthenticated(now);
}

void ClientChannel::count(const Status& status) {
  if (!metrics_) return;
  metrics_->requests.fetch_add(1, std::memory_order_relaxed);
  if (!status.ok()) metrics_->countError(status.code());
}

void ClientChannel::onOversizedLine() {
  if (metrics_) metrics_->countError(Code::kTooLarge);
  auto c = connection_.lock();
  if (!c) return;
  std::string limit = std::to_string(c->maxLineBytes()) + " bytes";
  session_->sink().send(protocol::serializeError(
      nullptr, Status::TooLarge("line longer than " + limit +
                                (authenticated_ ? std::string() : " before login"))));
}

void ClientChannel::onClose() {
  if (closed_) return;
  closed_ = true;
  if (metrics_) {
    metrics_->requests_waiting.fetch_sub(static_cast<int64_t>(waiting_.size()),
                                         std::memory_order_relaxed);
  }
  waiting_.clear();
  session_->closed();
  tracker_.remove(this);
}

void ClientChannel::shutdown(const std::string& reason) {
  if (auto c = connection_.lock()) {
    c->post([self = shared_from_this(), reason] {
      if (self->closed_ || self->shutting_down_) return;
      self->shutting_down_ = true;
      self->shutdown_reason_ = reason;
      // A request being executed finishes and gets its reply first.
      if (!self->busy_) self->finishShutdown();
    });
  }
}

void ClientChannel::finishShutdown() {
  // Requests not started will not be, but each still gets its one answer,
  // in order; then the goodbye, then the connection closes once its output
  // is written.
  if (metrics_) {
    metrics_->requests_waiting.fetch_sub(static_cast<int64_t>(waiting_.size()),
                                         std::memory_order_relaxed);
  }
  for (; !waiting_.empty(); waiting_.pop()) {
    protocol::Parsed parsed = protocol::parseRequest(waiting_.front());
    Status why = parsed.request ? Status::Unavailable("server shutting down; reconnect later")
                                : parsed.error;
    count(why);
    session_->sink().send(protocol::serializeError(parsed.rid, why));
  }
  session_->sink().send(protocol::shutdownEvent(shutdown_reason_));
  session_->sink().close();
}

}  // namespace parley::server
