// WebSocketConnection: one browser client over WebSocket (RFC 6455, Boost.Beast),
// pinned to one event loop like a TCP Connection and with the same contract
// to the layer above (Transport + LineHandler): each text message is one
// frame for the handler, each send() one text message. The same limits hold:
// a message longer than max_line_bytes gets the handler's last reply and the
// connection closes (close code 1009); a byte-bounded write queue cuts off a
// peer that does not read; no input for idle_timeout closes it; until
// setAuthenticated(true) the smaller pre-login limit and the handshake
// deadline apply.
//
// Lifetime and thread safety: as net::Connection (shared_ptr held by pending
// operations; send/post/close from any thread, the rest on the loop).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "net/connection.h"
#include "net/delayed_call.h"
#include "net/transport.h"

namespace parley::net {

class WebSocketConnection : public Transport,
                            public std::enable_shared_from_this<WebSocketConnection> {
 public:
  using UpgradeRequest = boost::beast::http::request<boost::beast::http::empty_body>;

  // `socket` is on its loop's io_context; `options` outlive the connection.
  WebSocketConnection(boost::asio::ip::tcp::socket socket, const ConnectionOptions& options);
  WebSocketConnection(const WebSocketConnection&) = delete;
  WebSocketConnection& operator=(const WebSocketConnection&) = delete;
  ~WebSocketConnection() override;

  // Answers the upgrade `request` (already read by the HTTP side), then
  // reads messages into `handler`, which the connection owns. If the
  // handshake fails the connection closes (handler->onClose()). Loop only.
  void start(UpgradeRequest request, std::shared_ptr<LineHandler> handler);
  // `fn` runs once when the connection has closed (loop thread). Set before start().
  void setCloseCallback(std::function<void()> fn) { on_closed_ = std::move(fn); }

  void send(std::string frame) override;
  void post(std::function<void()> fn) override;
  void postAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    runAfter(loop_, delay, std::move(fn));
  }
  const void* loopKey() const override { return &loop_.context(); }
  void close() override;
  void pauseReading() override;
  void resumeReading() override;
  size_t queuedBytes() const override { return queued_bytes_; }
  void whenDrained(std::function<void()> fn) override;
  std::string peerAddress() const override { return peer_address_; }
  void setAuthenticated(bool authenticated) override;
  size_t maxLineBytes() const override;

 private:
  bool inLoopThread() const { return loop_.running_in_this_thread(); }
  void armRead();
  void onRead(const boost::system::error_code& ec);
  void sendInLoop(std::string frame);
  void startWrite();
  // One timer for the idle timeout and the login deadline, woken at the
  // earlier of the two (as in Connection).
  void armTimer();
  void closeInLoop(bool flush_first);
  void startCloseHandshake();
  void finishClose();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::asio::steady_timer timer_;  // idle checks, then the close grace period
  boost::asio::io_context::executor_type loop_;
  const ConnectionOptions& options_;
  std::shared_ptr<LineHandler> handler_;
  std::string peer_address_;

  boost::beast::flat_buffer input_;  // the message being received
  bool reading_ = false;             // an async read is pending
  bool paused_ = false;              // the layer above asked to stop reading
  bool open_ = false;                // the handshake completed
  boost::beast::websocket::close_code close_code_ = boost::beast::websocket::close_code::normal;

  std::deque<std::string> write_queue_;  // one message each
  size_t queued_bytes_ = 0;
  bool writing_ = false;  // the front of write_queue_ is being written
  std::function<void()> on_drained_;
  std::function<void()> on_closed_;

  std::chrono::steady_clock::time_point last_activity_;
  bool authenticated_ = false;
  std::chrono::steady_clock::time_point handshake_deadline_;  // while not authenticated
  enum class State { kOpen, kClosing, kClosed } state_ = State::kOpen;
};

}  // namespace parley::net
