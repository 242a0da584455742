#include "net/websocket_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket.hpp>

#include "net/post_batch.h"

namespace parley::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;

namespace {

// Bytes asked of Beast per read: a message longer than the limit is caught
// after at most this much more than the limit has been buffered.
constexpr size_t kWsReadChunk = 16 * 1024;

// How long close() waits for queued output and the closing handshake.
constexpr std::chrono::seconds kWsCloseGrace{2};

// A browser that connects but never completes the upgrade is cut off.
constexpr std::chrono::seconds kHandshakeTimeout{10};

}  // namespace

WebSocketConnection::WebSocketConnection(asio::ip::tcp::socket socket,
                                         const ConnectionOptions& options)
    : ws_(std::move(socket)),
      timer_(ws_.get_executor()),
      loop_(*ws_.get_executor().target<asio::io_context::executor_type>()),
      options_(options),
      last_activity_(std::chrono::steady_clock::now()),
      handshake_deadline_(last_activity_ + options.handshake_timeout) {
  error_code ec;
  auto& socket_ref = beast::get_lowest_layer(ws_).socket();
  auto ep = socket_ref.remote_endpoint(ec);
  peer_address_ = ec ? "" : ep.address().to_string();
  socket_ref.set_option(asio::ip::tcp::no_delay(true), ec);
}

WebSocketConnection::~WebSocketConnection() = default;

void WebSocketConnection::start(UpgradeRequest request, std::shared_ptr<LineHandler> handler) {
  handler_ = std::move(handler);
  // Beast's own timers replace the TCP stream's; the idle rule is ours (the
  // same as for TCP clients: the `ping` op keeps a connection alive), so
  // Beast's idle timeout and keep-alive pings stay off.
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = kHandshakeTimeout;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "parley"); }));
  // Our own check (onRead) enforces max_line_bytes with a proper reply;
  // Beast's limit is only a backstop just above it.
  ws_.read_message_max(options_.max_line_bytes + kWsReadChunk + 1);
  // Control frames (a client's pings) count as activity too.
  ws_.control_callback([this](websocket::frame_type, beast::string_view) {
    last_activity_ = std::chrono::steady_clock::now();
  });
  ws_.async_accept(request, [self = shared_from_this()](const error_code& ec) {
    if (ec) {
      self->closeInLoop(/*flush_first=*/false);
      return;
    }
    if (self->state_ == State::kClosed) return;
    self->open_ = true;
    self->ws_.text(true);
    self->armRead();
    self->armTimer();
    self->startWrite();
  });
}

void WebSocketConnection::post(std::function<void()> fn) {
  PostBatch::post(loop_.context(), shared_from_this(), std::move(fn));
}

void WebSocketConnection::send(std::string frame) {
  if (inLoopThread()) {
    sendInLoop(std::move(frame));
  } else {
    asio::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
      self->sendInLoop(std::move(frame));
    });
  }
}

void WebSocketConnection::close() {
  if (inLoopThread()) {
    closeInLoop(/*flush_first=*/true);
  } else {
    asio::post(ws_.get_executor(),
               [self = shared_from_this()] { self->closeInLoop(/*flush_first=*/true); });
  }
}

void WebSocketConnection::pauseReading() { paused_ = true; }

void WebSocketConnection::resumeReading() {
  if (!paused_) return;
  paused_ = false;
  // post(): the caller may be inside the handler's onLine().
  post([this] { armRead(); });
}

void WebSocketConnection::setAuthenticated(bool authenticated) {
  if (authenticated == authenticated_) return;
  authenticated_ = authenticated;
  if (authenticated) return;  // the pending timer finds no deadline and re-arms for idle
  handshake_deadline_ = std::chrono::steady_clock::now() + options_.handshake_timeout;
  armTimer();  // the deadline may come before the wake-up already set
}

size_t WebSocketConnection::maxLineBytes() const {
  if (authenticated_ || options_.max_line_bytes_before_auth == 0) return options_.max_line_bytes;
  return std::min(options_.max_line_bytes_before_auth, options_.max_line_bytes);
}

void WebSocketConnection::whenDrained(std::function<void()> fn) {
  if (write_queue_.empty()) {
    post(std::move(fn));
  } else {
    on_drained_ = std::move(fn);
  }
}

// --- reading ---------------------------------------------------------------

void WebSocketConnection::armRead() {
  if (reading_ || paused_ || !open_ || state_ != State::kOpen) return;
  reading_ = true;
  ws_.async_read_some(input_, kWsReadChunk,
                      [self = shared_from_this()](const error_code& ec, size_t /*bytes*/) {
                        self->reading_ = false;
                        self->onRead(ec);
                      });
}

void WebSocketConnection::onRead(const error_code& ec) {
  if (ec) {
    // websocket::error::closed: the peer closed (Beast has answered its
    // close frame); anything else: reset, timeout, protocol violation.
    if (state_ != State::kClosed) closeInLoop(/*flush_first=*/false);
    return;
  }
  if (state_ != State::kOpen) return;
  last_activity_ = std::chrono::steady_clock::now();
  if (input_.size() > maxLineBytes()) {
    // Same rule as an over-long line: the input ends here (nothing more is
    // read); the handler answers, then closes — with 1009 "too big".
    input_.clear();
    input_.shrink_to_fit();
    close_code_ = websocket::close_code::too_big;
    handler_->onOversizedLine();
    return;
  }
  if (!ws_.is_message_done()) {
    armRead();
    return;
  }
  // A whole message: one frame for the handler (which copies what it keeps).
  std::string_view frame(static_cast<const char*>(input_.data().data()), input_.size());
  if (!frame.empty()) handler_->onLine(frame);
  input_.clear();
  // Give back a big buffer: idle connections stay small.
  if (input_.capacity() > 4096) input_.shrink_to_fit();
  armRead();
}

// --- writing ---------------------------------------------------------------

void WebSocketConnection::sendInLoop(std::string frame) {
  if (state_ == State::kClosed) return;
  queued_bytes_ += frame.size();
  write_queue_.push_back(std::move(frame));
  if (queued_bytes_ > options_.max_queued_bytes) {
    // A peer that does not read must not hold unbounded memory (as for TCP).
    spdlog::warn("closing WebSocket client {}: {} bytes queued for a peer that does not read",
                 peer_address_, queued_bytes_);
    closeInLoop(/*flush_first=*/false);
    return;
  }
  startWrite();
}

void WebSocketConnection::startWrite() {
  // One message in flight at a time (a WebSocket stream allows no more); each
  // send() is its own text message, as the protocol wants.
  if (writing_ || write_queue_.empty() || !open_ || state_ == State::kClosed) return;
  writing_ = true;
  ws_.async_write(asio::buffer(write_queue_.front()),
                  [self = shared_from_this()](const error_code& ec, size_t /*bytes*/) {
                    self->writing_ = false;
                    if (self->state_ == State::kClosed) {
                      // Closed while the write was in flight: the queue was
                      // kept for it (see finishClose); drop it now.
                      self->write_queue_.clear();
                      self->queued_bytes_ = 0;
                      return;
                    }
                    if (ec) {
                      self->closeInLoop(/*flush_first=*/false);
                      return;
                    }
                    self->queued_bytes_ -= self->write_queue_.front().size();
                    self->write_queue_.pop_front();
                    if (!self->write_queue_.empty()) {
                      self->startWrite();
                      return;
                    }
                    if (self->state_ == State::kClosing) {
                      self->startCloseHandshake();
                      return;
                    }
                    if (self->on_drained_) {
                      auto fn = std::move(self->on_drained_);
                      self->on_drained_ = nullptr;
                      fn();
                    }
                  });
}

// --- timers and closing ----------------------------------------------------

void WebSocketConnection::armTimer() {
  if (state_ != State::kOpen) return;
  using Clock = std::chrono::steady_clock;
  bool idle_check = options_.idle_timeout.count() > 0;
  bool handshake_check = !authenticated_ && options_.handshake_timeout.count() > 0;
  if (!idle_check && !handshake_check) return;
  Clock::time_point wake = Clock::time_point::max();
  if (idle_check) wake = last_activity_ + options_.idle_timeout;
  if (handshake_check) wake = std::min(wake, handshake_deadline_);
  timer_.expires_at(wake);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec || self->state_ != State::kOpen) return;
    const ConnectionOptions& o = self->options_;
    auto now = Clock::now();
    if (!self->authenticated_ && o.handshake_timeout.count() > 0 &&
        now >= self->handshake_deadline_) {
      spdlog::info("closing WebSocket client {}: not logged in within {} s", self->peer_address_,
                   o.handshake_timeout.count());
      self->close_code_ = websocket::close_code::policy_error;
      self->closeInLoop(/*flush_first=*/true);
      return;
    }
    if (o.idle_timeout.count() > 0 && now - self->last_activity_ >= o.idle_timeout) {
      spdlog::info("closing WebSocket client {}: idle for {} s", self->peer_address_,
                   o.idle_timeout.count());
      self->close_code_ = websocket::close_code::going_away;
      self->closeInLoop(/*flush_first=*/true);
      return;
    }
    self->armTimer();
  });
}

void WebSocketConnection::closeInLoop(bool flush_first) {
  if (state_ == State::kClosed) return;
  if (!flush_first || !open_) {
    finishClose();
    return;
  }
  if (state_ == State::kClosing) return;
  state_ = State::kClosing;
  // Bounded: a peer that takes neither its last messages nor the closing
  // handshake is cut off after the grace period.
  timer_.cancel();
  timer_.expires_after(kWsCloseGrace);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->finishClose();
  });
  if (!writing_ && write_queue_.empty()) startCloseHandshake();
  // Otherwise the last write's completion starts it.
}

void WebSocketConnection::startCloseHandshake() {
  ws_.async_close(close_code_,
                  [self = shared_from_this()](const error_code&) { self->finishClose(); });
}

void WebSocketConnection::finishClose() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  error_code ec;
  timer_.cancel();
  auto& socket = beast::get_lowest_layer(ws_).socket();
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket.close(ec);
  if (!writing_) {
    write_queue_.clear();
    queued_bytes_ = 0;
  }
  on_drained_ = nullptr;
  if (on_closed_) {
    auto fn = std::move(on_closed_);
    on_closed_ = nullptr;
    fn();
  }
  // From a fresh handler, as in Connection: close() may have been called
  // from inside the handler's own onLine().
  if (handler_) {
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), h = std::move(handler_)] { h->onClose(); });
  }
}

}  // namespace parley::net
