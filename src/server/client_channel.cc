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
// Pipelined requests started and not yet answered, at most. A connection
// carries at most kMaxInFlight / (store latency) sends per second, so this
// must cover the disk's slow moments: with 32, a WAL fsync of ~2 ms capped
// a connection at ~12,000 msg/s and a sender above that backed up for
// seconds (docs/performance.md, ninth round). But while the store is
// backlogged (overload: 2,000 connections x 128 would overflow its bounded
// queue into `unavailable` errors) a connection keeps only
// kInFlightWhenBacklogged, and the rest of a flood waits in its socket.
// Either way the channel's own answers wake it: it never waits on the
// store's state with nothing in flight.
constexpr size_t kMaxInFlight = 128;
constexpr size_t kInFlightWhenBacklogged = 32;

// Requests whose order against later ones can be settled when they start
// (see Session::handle); anything else waits for an empty pipeline.
bool pipelines(protocol::Op op) {
  switch (op) {
    case protocol::Op::kSend:
    case protocol::Op::kGroupSend:
    case protocol::Op::kAck:
    case protocol::Op::kPing:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::shared_ptr<ClientChannel> ClientChannel::create(ChatService& service,
                                                     const net::TransportPtr& connection,
                                                     ConnectionTracker& tracker) {
  auto channel = std::make_shared<ClientChannel>(service, connection, tracker);
  tracker.add(channel);
  return channel;
}

// One per connection, made by make_shared: with its 16 bytes of control block
// it fits jemalloc's 160-byte size class (the next is 192).
static_assert(sizeof(void*) != 8 || sizeof(ClientChannel) + 16 <= 160,
              "ClientChannel outgrew its allocation size class");

ClientChannel::ClientChannel(ChatService& service, const net::TransportPtr& connection,
                             ConnectionTracker& tracker)
    : tracker_(tracker),
      connection_(connection),
      session_(std::make_shared<Session>(service, std::make_shared<ConnectionSink>(connection))) {}

void ClientChannel::onLine(std::string_view line) {
  if (closed_) return;
  waiting_.push(std::string(line));
  if (Metrics* m = metrics()) m->requests_waiting.fetch_add(1, std::memory_order_relaxed);
  if (waiting_.size() >= kMaxWaitingLines) {
    if (auto c = connection_.lock()) c->pauseReading();
  }
  processNext();
}

bool ClientChannel::roomInFlight() const {
  if (answers_.size() < kInFlightWhenBacklogged) return true;
  return answers_.size() < kMaxInFlight && !session_->service().storeBacklogged();
}

bool ClientChannel::settled() {
  if (answers_.empty()) return true;
  const Answer& last = answers_.back();
  return last.ready || last.ordered;
}

void ClientChannel::processNext() {
  // A reply that arrives inline (a refusal) calls back in here; the loop
  // below picks up where it is instead of recursing once per request.
  if (processing_) return;
  processing_ = true;
  while (!closed_ && !shutting_down_ && !waiting_.empty() && settled() && roomInFlight()) {
    // The front line was seen to need an empty pipeline: no need to parse
    // it again at every answer until then.
    if (front_waits_ && !answers_.empty()) break;
    protocol::Parsed parsed = protocol::parseRequest(waiting_.front());
    // Parsed twice when it has to wait (only at the end of a run of sends);
    // that keeps no parsed request per idle connection.
    front_waits_ = parsed.request && !answers_.empty() && !pipelines(parsed.request->op);
    if (front_waits_) break;
    waiting_.pop();
    if (Metrics* m = metrics()) m->requests_waiting.fetch_sub(1, std::memory_order_relaxed);
    if (waiting_.size() == kResumeReadingBelow) {
      if (auto c = connection_.lock()) c->resumeReading();
    }
    const uint32_t slot = answered_ + static_cast<uint32_t>(answers_.size());
    answers_.push(Answer{});
    if (!parsed.request) {
      // Bad input gets its error and the connection stays open.
      count(parsed.error);
      answer(slot, protocol::serializeError(parsed.rid, parsed.error));
      continue;
    }
    auto self = shared_from_this();
    nlohmann::json rid = parsed.request->rid;
    const bool ordered =
        session_->handle(*parsed.request, [self, rid, slot](Result<protocol::Reply> result) {
          if (self->closed_) return;
          self->count(result.ok() ? Status::Ok() : result.status());
          self->answer(slot, result.ok() ? protocol::serializeOk(rid, result.value())
                                         : protocol::serializeError(rid, result.status()));
          self->syncAuthenticated();
          if (self->shutting_down_) {
            if (self->answers_.empty()) self->finishShutdown();
          } else {
            self->processNext();
          }
        });
    // The reply may have been written already (an inline refusal).
    const uint32_t index = slot - answered_;
    if (index < answers_.size()) answers_.at(index).ordered = ordered;
  }
  processing_ = false;
  answerOversizedIfDue();
}

void ClientChannel::answer(uint32_t slot, std::string line) {
  Answer& a = answers_.at(slot - answered_);
  a.line = std::move(line);
  a.ready = true;
  while (!answers_.empty() && answers_.front().ready) {
    session_->sink().send(std::move(answers_.front().line));
    answers_.pop();
    ++answered_;
  }
}

void ClientChannel::syncAuthenticated() {
  bool now = session_->user().has_value();
  if (now == authenticated_) return;
  authenticated_ = now;
  if (auto c = connection_.lock()) c->setAuthenticated(now);
}

void ClientChannel::count(const Status& status) {
  Metrics* m = metrics();
  if (m == nullptr) return;
  m->requests.fetch_add(1, std::memory_order_relaxed);
  if (!status.ok()) m->countError(status.code());
}

void ClientChannel::onOversizedLine() {
  if (closed_ || oversized_limit_ != 0) return;
  auto c = connection_.lock();
  if (!c) return;
  // PROTOCOL.md: one answer per request, in request order. The lines before
  // this one are still answered first, and the connection closes after.
  oversized_limit_ = static_cast<uint32_t>(c->maxLineBytes());
  oversized_before_login_ = !authenticated_;
  processNext();
}

void ClientChannel::answerOversizedIfDue() {
  if (oversized_limit_ == 0 || oversized_answered_ || closed_ || shutting_down_ ||
      !waiting_.empty() || !answers_.empty()) {
    return;
  }
  sendOversized();
  session_->sink().close();
}

void ClientChannel::sendOversized() {
  oversized_answered_ = true;
  if (Metrics* m = metrics()) m->countError(Code::kTooLarge);
  session_->sink().send(protocol::serializeError(
      nullptr, Status::TooLarge("line longer than " + std::to_string(oversized_limit_) + " bytes" +
                                (oversized_before_login_ ? " before login" : ""))));
}

void ClientChannel::onClose() {
  if (closed_) return;
  closed_ = true;
  if (Metrics* m = metrics()) {
    m->requests_waiting.fetch_sub(static_cast<int64_t>(waiting_.size()), std::memory_order_relaxed);
  }
  waiting_.clear();
  answers_.clear();
  session_->closed();
  tracker_.remove(this);
}

void ClientChannel::shutdown() {
  if (auto c = connection_.lock()) {
    c->post([self = shared_from_this()] {
      if (self->closed_ || self->shutting_down_) return;
      self->shutting_down_ = true;
      // Requests being executed finish and get their replies first.
      if (self->answers_.empty()) self->finishShutdown();
    });
  }
}

void ClientChannel::finishShutdown() {
  // Requests not started will not be, but each still gets its one answer,
  // in order; then the goodbye, then the connection closes once its output
  // is written.
  if (Metrics* m = metrics()) {
    m->requests_waiting.fetch_sub(static_cast<int64_t>(waiting_.size()), std::memory_order_relaxed);
  }
  for (; !waiting_.empty(); waiting_.pop()) {
    protocol::Parsed parsed = protocol::parseRequest(waiting_.front());
    Status why = parsed.request ? Status::Unavailable("server shutting down; reconnect later")
                                : parsed.error;
    count(why);
    session_->sink().send(protocol::serializeError(parsed.rid, why));
  }
  if (oversized_limit_ != 0 && !oversized_answered_) sendOversized();
  session_->sink().send(protocol::shutdownEvent("server shutting down"));
  session_->sink().close();
}

}  // namespace parley::server
