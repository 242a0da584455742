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

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/status.h"
#include "net/admission.h"
#include "net/connection.h"
#include "net/event_loop_pool.h"

namespace parley::net {

class TcpServer {
 public:
  using HandlerFactory = std::function<std::unique_ptr<LineHandler>(const ConnectionPtr&)>;
  // Wraps an accepted socket into the stream its connection runs over.
  using StreamFactory = std::function<ByteStreamPtr(boost::asio::ip::tcp::socket)>;

  TcpServer(EventLoopPool& loops, ConnectionOptions options, HandlerFactory factory);
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;
  ~TcpServer();

  // Binds and listens (port 0 picks a free port; see port()). Unavailable if
  // the address cannot be bound.
  Status listen(const std::string& host, uint16_t port);
  // Connections run over what `factory` makes (TLS) instead of plain TCP.
  // Call before start().
  void setStreamFactory(StreamFactory factory) { stream_factory_ = std::move(factory); }
  // Starts accepting on a dedicated thread.
  void start();
  // Stops accepting new connections; existing ones are untouched.
  void stopAccepting();

  uint16_t port() const { return port_; }
  size_t accepted() const { return accepted_.load(); }
  size_t open() const { return admission_->open(); }

 private:
  void accept();

  EventLoopPool& loops_;
  const ConnectionOptions options_;  // connections refer to it: lives as long as the server
  HandlerFactory factory_;
  StreamFactory stream_factory_;  // empty: plain TCP
  boost::asio::io_context accept_context_{1};
  boost::asio::ip::tcp::acceptor acceptor_{accept_context_};
  boost::asio::steady_timer retry_timer_{accept_context_};
  std::thread accept_thread_;
  uint16_t port_ = 0;
  std::atomic<size_t> accepted_{0};
  AdmissionPtr admission_;  // shared with every connection's close callback
};

}  // namespace parley::net
