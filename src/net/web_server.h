// WebServer: the listener for browsers. Its Listener hands each connection
// to the next worker loop (as TcpServer's does); there an
// HttpSession reads HTTP requests and either serves the static web client
// (GET /, /app.js, ...) from memory or, for an upgrade on /ws, hands the
// socket to a WebSocketConnection whose frames go to a LineHandler from the
// same kind of factory as TCP clients — the layers above cannot tell the two
// transports apart.
//
// Limits: ConnectionOptions as for TCP (frame size, write queue, idle
// timeout, open connections in all and per address — counted for this
// listener on its own).
//
// Thread safety: listen/start/stopAccepting from one controlling thread;
// the counters from any thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "net/connection.h"
#include "net/event_loop_pool.h"
#include "net/listener.h"
#include "net/static_files.h"
#include "net/transport.h"
#include "net/websocket_connection.h"

namespace parley::net {

class WebServer {
 public:
  using HandlerFactory = std::function<std::shared_ptr<LineHandler>(const TransportPtr&)>;

  // `files` may be null: then only /ws is served (and / says why not).
  WebServer(EventLoopPool& loops, ConnectionOptions options, StaticFilesPtr files,
            HandlerFactory factory);
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;
  ~WebServer();

  // Binds and listens (port 0 picks a free port). Unavailable if it cannot.
  Status listen(const std::string& host, uint16_t port) { return listener_.listen(host, port); }
  void start() { listener_.start(); }
  // Stops accepting new connections; existing ones are untouched.
  void stopAccepting() { listener_.stopAccepting(); }

  uint16_t port() const { return listener_.port(); }
  size_t accepted() const { return listener_.accepted(); }
  size_t open() const { return listener_.open(); }
  size_t websockets() const { return websockets_->load(); }

  // For HttpSession (loop thread): the web client's files, or null.
  const StaticFiles* files() const { return files_.get(); }
  // Turns an HTTP connection into a WebSocket client. `slot` holds the
  // connection's place under the limits until the WebSocket closes.
  void upgrade(boost::asio::ip::tcp::socket socket, WebSocketConnection::UpgradeRequest request,
               AdmissionSlot slot);

 private:
  void onRejected(boost::asio::ip::tcp::socket& socket);

  const ConnectionOptions options_;  // connections refer to it
  StaticFilesPtr files_;
  HandlerFactory factory_;
  // Shared with every WebSocket's close callback, which may run after the
  // server is gone (connections parked on stopped loops are destroyed later).
  std::shared_ptr<std::atomic<size_t>> websockets_ = std::make_shared<std::atomic<size_t>>(0);
  Listener listener_;  // last: its thread calls into the members above
};

}  // namespace parley::net
