// Session: one client connection's view of the chat — who is logged in on it
// and which of that user's inbox messages it has delivered. It turns typed
// requests into ChatService calls on the blocking pool and brings the results
// back to its own loop, and it keeps the delivery order of PROTOCOL.md:
// events reach the client in strictly increasing `seq`, each exactly once
// per session, whether they arrive live from the bus or from a replay.
//
// Thread safety: handle(), onEnvelope() and closed() run on the session's
// loop only (the sink's post() brings other threads there).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bus/bus.h"
#include "common/status.h"
#include "protocol/reply.h"
#include "protocol/request.h"
#include "service/chat_service.h"
#include "service/rate_limiter.h"
#include "service/session_sink.h"
#include "service/tokens.h"

namespace parley {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // Called exactly once per request, on the loop, with the outcome.
  using Done = std::function<void(Result<protocol::Reply>)>;

  Session(ChatService& service, SessionSinkPtr sink);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts `request`. Returns true when the requests after it may start
  // before its reply arrives: it is answered already, or its effects are
  // queued in order ahead of whatever a later request does (a send queued
  // for the store's writer, see ChatService::sendAsync). False: the caller
  // waits for `done` before starting the next one.
  bool handle(const protocol::Request& request, Done done);
  // An event for this session's user from the bus (via the registry).
  void onEnvelope(const Envelope& envelope);
  // The connection is gone: end the login, if any.
  void closed();
  // Events for this user may have been lost (Bus::MissedFn): read the inbox
  // again, unless a read is under way already. Any thread.
  void catchUp();

  SessionSink& sink() { return *sink_; }
  const ChatService& service() const { return service_; }
  const std::optional<User>& user() const { return user_; }

 private:
  using Blocking = std::function<Result<protocol::Reply>()>;
  // Runs `work` on the pool and `done` with its result back on the loop;
  // answers unavailable at once if the pool is saturated.
  void runBlocking(Blocking work, Done done);
  // Wraps `done` so that it runs on this session's loop, whatever thread
  // the service answers on.
  ChatService::ReplyDone backOnLoop(Done done);
  void startLogin(std::function<Result<LoginResult>()> work, Done done);
  void endLogin();

  // Replay: pulls inbox pages after delivered_ until caught up.
  // Reads the next page of the inbox (after delivered_) on the pool.
  // `failures`: reads in a row that failed before this one (for the delay
  // before the next retry).
  void fetchInbox(int failures = 0);
  void onInboxPage(uint64_t epoch, int failures, Result<std::vector<Delivery>> page);
  void flushParked();
  // Counts one message event written to the client (live or replayed).
  void countDelivery(bool replay);

  ChatService& service_;
  SessionSinkPtr sink_;
  std::optional<User> user_;
  // The login's token hash, for logout. Packed and inline, where a
  // std::string of 64 digits was one more allocation per logged-in connection.
  PackedTokenHash token_hash_{};
  bool closed_ = false;         // the connection is gone; late results are undone
  TokenBucket message_bucket_;  // send + group_send on this connection
  // Bumped at every login/logout so results of work started for an earlier
  // login are recognised and dropped.
  uint64_t epoch_ = 0;

  Seq delivered_ = 0;      // highest seq sent to this client
  bool fetching_ = false;  // a replay page is being read
  // Live events that arrived ahead of a gap, waiting for the replay to fill
  // it; bounded (a long gap is read from the store instead).
  struct Parked {
    Seq prev;
    SharedLine line;
  };
  std::map<Seq, Parked> parked_;
  // The replay in flight may miss what the store has: an event did not fit
  // in parked_, or the bus asked for a resync (catchUp) after the read began.
  // Read again when it ends.
  bool read_again_ = false;
  static constexpr size_t kMaxParked = 512;
};

}  // namespace parley
