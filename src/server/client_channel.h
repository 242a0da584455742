// ClientChannel: the glue between one client transport (a JSON-lines TCP
// connection or a WebSocket; it cannot tell which) and one Session. It
// parses each line with the protocol layer, runs the requests in order,
// serializes the outcomes and answers in request order, as PROTOCOL.md
// requires; and it applies backpressure: while too many requests are
// waiting, it stops reading from the socket.
//
// Requests are pipelined where that cannot change their meaning: a run of
// send, group_send, ack and ping may have up to kMaxInFlight requests
// started at once, as long as each one was *ordered* when it started (see
// Session::handle: queued for the store's single writer, whose queue keeps
// their order). Anything else (login, history, add_friend, ...) starts only
// when every request before it has been answered, and nothing starts after
// it until it is answered; so each request still sees the effects of all
// the requests before it. Without this a client's sends waited for each
// other's commit (one fsync'd batch each), however many it had sent.
//
// The connection keeps it (as its LineHandler) until it has reported the
// close; work still pending on the pool keeps it too, so late results land
// safely. It registers itself with the ConnectionTracker for the shutdown
// notice and leaves it at close.
//
// Loop-thread only, except shutdown().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/vector_fifo.h"
#include "net/connection.h"
#include "net/transport.h"
#include "service/chat_service.h"
#include "service/session.h"

namespace parley::server {

class ConnectionTracker;

class ClientChannel final : public net::LineHandler,
                            public std::enable_shared_from_this<ClientChannel> {
 public:
  // A channel for `connection`, registered with `tracker`.
  static std::shared_ptr<ClientChannel> create(ChatService& service,
                                               const net::TransportPtr& connection,
                                               ConnectionTracker& tracker);
  ClientChannel(ChatService& service, const net::TransportPtr& connection,
                ConnectionTracker& tracker);
  // Counts one answered request (and its error code, if any).
  void count(const Status& status);

  void onLine(std::string_view line) override;
  void onOversizedLine() override;
  void onClose() override;

  // Tells the client the server is going down, then closes: requests being
  // executed finish and are answered first; requests still waiting are
  // answered `unavailable`. Any thread.
  void shutdown();

 private:
  // Starts waiting requests while the rules above allow.
  void processNext();
  // Stores the reply of request number `slot` and writes every reply that
  // is now next in request order.
  void answer(uint32_t slot, std::string line);
  // True if no started request may still be reordered with a later one.
  bool settled();
  // True if one more request may start: the window (kMaxInFlight, or less
  // while the store is backlogged) has room.
  bool roomInFlight() const;
  // Tells the connection when the session logs in or out, so the pre-login
  // limits (line size, handshake deadline) apply exactly while logged out.
  void syncAuthenticated();
  // After an oversized line, once everything before it is answered: its
  // too_large, then the close.
  void answerOversizedIfDue();
  void sendOversized();
  void finishShutdown();

  // The service's, through the session: a member of its own would take the
  // channel (with its control block) past jemalloc's 160-byte size class.
  Metrics* metrics() const { return session_->service().metrics(); }

  ConnectionTracker& tracker_;
  std::weak_ptr<net::Transport> connection_;
  std::shared_ptr<Session> session_;
  VectorFifo<std::string> waiting_;  // lines received, not started yet
  // One per started request not yet written back, in request order: a
  // reply that is ready early waits here for the ones before it.
  struct Answer {
    std::string line;
    bool ready = false;    // `line` is the reply
    bool ordered = false;  // later requests may start (Session::handle)
  };
  VectorFifo<Answer> answers_;
  uint32_t answered_ = 0;  // requests answered so far: answers_.front()'s number
  // Nonzero once an oversized line ended the input: the limit it passed,
  // for its too_large, owed after the answers to the lines before it.
  uint32_t oversized_limit_ = 0;
  bool processing_ = false;   // processNext() is on the stack
  bool front_waits_ = false;  // waiting_.front() starts only on an empty pipeline
  bool closed_ = false;
  bool authenticated_ = false;           // as last told to the connection
  bool shutting_down_ = false;           // no new request starts
  bool oversized_before_login_ = false;  // the limit passed was the pre-login one
  bool oversized_answered_ = false;
};

}  // namespace parley::server
