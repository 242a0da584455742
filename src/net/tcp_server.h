// TcpServer: one acceptor (on its own thread) handing each new connection to
// the next worker loop, round-robin. The layer above supplies a factory that
// builds the LineHandler of each connection.
//
// Thread safety: start()/stop() from one controlling thread; the factory is
// called on the new connection's loop.
//
// Lifetime: destroy it only after its loops have stopped — connections and
// accepts posted to the loops refer to its options and factories.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "net/connection.h"
#include "net/event_loop_pool.h"
#include "net/listener.h"

namespace parley::net {

class TcpServer {
 public:
  using HandlerFactory = std::function<std::shared_ptr<LineHandler>(const ConnectionPtr&)>;
  // Wraps an accepted socket into the stream its connection runs over.
  using StreamFactory = std::function<ByteStreamPtr(boost::asio::ip::tcp::socket)>;

  TcpServer(EventLoopPool& loops, ConnectionOptions options, HandlerFactory factory);
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;
  ~TcpServer();

  // Binds and listens (port 0 picks a free port; see port()). Unavailable if
  // the address cannot be bound.
  Status listen(const std::string& host, uint16_t port) { return listener_.listen(host, port); }
  // Connections run over what `factory` makes (TLS) instead of plain TCP.
  // Call before start().
  void setStreamFactory(StreamFactory factory) { stream_factory_ = std::move(factory); }
  // Starts accepting on a dedicated thread.
  void start() { listener_.start(); }
  // Stops accepting new connections; existing ones are untouched.
  void stopAccepting() { listener_.stopAccepting(); }

  uint16_t port() const { return listener_.port(); }
  size_t accepted() const { return listener_.accepted(); }
  size_t open() const { return listener_.open(); }

 private:
  void onAccepted(boost::asio::ip::tcp::socket socket, AdmissionSlot slot);
  void onRejected(boost::asio::ip::tcp::socket& socket);

  const ConnectionOptions options_;  // connections refer to it: lives as long as the server
  HandlerFactory factory_;
  StreamFactory stream_factory_;  // empty: plain TCP
  Listener listener_;             // last: its thread calls into the members above
};

}  // namespace parley::net
