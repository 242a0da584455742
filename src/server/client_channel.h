// ClientChannel: the glue between one client transport (a JSON-lines TCP
// connection or a WebSocket; it cannot tell which) and one Session. It
// parses each line with the protocol layer, runs requests one at a time (so
// responses come back in request order, as PROTOCOL.md requires), serializes
// the outcome, and applies backpressure: while too many requests are waiting,
// it stops reading from the socket.
//
// Loop-thread only.
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

class ClientChannel : public std::enable_shared_from_this<ClientChannel> {
 public:
  ClientChannel(ChatService& service, const net::TransportPtr& connection);
  // Counts one answered request (and its error code, if any).
  void count(const Status& status);

  void onLine(std::string_view line);
  void onOversizedLine();
  void onClose();

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
  std::weak_ptr<net::Transport> connection_;
  std::shared_ptr<Session> session_;
  VectorFifo<std::string> waiting_;  // lines received while a request runs
  bool busy_ = false;
  bool closed_ = false;
  bool authenticated_ = false;  // as last told to the connection
  bool shutting_down_ = false;  // no new request starts
  std::string shutdown_reason_;
};

// The LineHandler the connection owns; forwards to a shared ClientChannel so
// that callbacks still pending on the pool can outlive the handler safely.
class ClientLineHandler : public net::LineHandler {
 public:
  ClientLineHandler(std::shared_ptr<ClientChannel> channel, ConnectionTracker& tracker);
  void onLine(std::string_view line) override { channel_->onLine(line); }
  void onOversizedLine() override { channel_->onOversizedLine(); }
  void onClose() override;

 private:
  std::shared_ptr<ClientChannel> channel_;
  ConnectionTracker& tracker_;
};

}  // namespace parley::server
