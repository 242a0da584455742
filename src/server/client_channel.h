// ClientChannel: the glue between one client transport (a JSON-lines TCP
// connection or a WebSocket; it cannot tell which) and one Session. It
// parses each line with the protocol layer, runs requests one at a time (so
// responses come back in request order, as PROTOCOL.md requires), serializes
// the outcome, and applies backpressure: while too many requests are waiting,
// it stops reading from the socket.
//
// The connection keeps it (as its LineHandler) until it has reported the
// close; work still pending on the pool keeps it too, so late results land
// safely. It registers itself with the ConnectionTracker for the shutdown
// notice and leaves it at close.
//
// Loop-thread only, except shutdown().
#pragma once

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

  // Tells the client the server is going down, then closes: the request
  // being executed, if any, finishes and is answered first; requests still
  // waiting are answered `unavailable`. Any thread.
  void shutdown(const std::string& reason);

 private:
  void processNext();
  // Tells the connection when the session logs in or out, so the pre-login
  // limits (line size, handshake deadline) apply exactly while logged out.
  void syncAuthenticated();
  void finishShutdown();

  Metrics* metrics_;
  ConnectionTracker& tracker_;
  std::weak_ptr<net::Transport> connection_;
  std::shared_ptr<Session> session_;
  VectorFifo<std::string> waiting_;  // lines received while a request runs
  bool busy_ = false;
  bool closed_ = false;
  bool authenticated_ = false;  // as last told to the connection
  bool shutting_down_ = false;  // no new request starts
  std::string shutdown_reason_;
};

}  // namespace parley::server
