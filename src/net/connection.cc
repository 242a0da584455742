#include "net/connection.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "net/idle_sweeper.h"
#include "net/line_framer.h"

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// One read buffer per loop thread, shared by all its connections: an idle
// connection then costs no buffer at all. Safe because reads happen
// synchronously inside onReadable(), never as a pending async read.
constexpr size_t kReadChunk = 64 * 1024;
thread_local std::array<char, kReadChunk> t_read_buffer;

// An output buffer bigger than this is given back once it has been written,
// so a connection that once received a burst does not keep the memory.
constexpr size_t kKeepOutputCapacity = 16 * 1024;

// How long close() waits for queued output to reach a peer before cutting.
constexpr std::chrono::seconds kCloseGrace{2};

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, const ConnectionOptions& options,
                       std::string peer_address)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      loop_(*socket_.get_executor().target<asio::io_context::executor_type>()),
      options_(options),
      last_activity_(std::chrono::steady_clock::now()) {
  error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  peer_address_ = !peer_address.empty() ? std::move(peer_address)
                  : ec                  ? ""
                                        : ep.address().to_string();
  peer_port_ = ec ? 0 : ep.port();
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
}

Connection::~Connection() {
  if (sweeper_) sweeper_->remove(this);
}

std::string Connection::peer() const {
  return peer_address_.empty() ? "?" : peer_address_ + ":" + std::to_string(peer_port_);
}

bool Connection::inLoopThread() const { return loop_.running_in_this_thread(); }

void Connection::start(std::unique_ptr<LineHandler> handler) {
  handler_ = std::move(handler);
  // An open connection owns itself until it closes: while reading is paused
  // and nothing is being written, no pending operation holds it.
  self_ = shared_from_this();
  armRead();
  asio::use_service<IdleSweeper>(loop_.context()).add(this, options_.idle_timeout);
}

void Connection::post(std::function<void()> fn) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), fn = std::move(fn)] { fn(); });
}

void Connection::send(std::string line) {
  if (inLoopThread()) {
    sendInLoop(std::move(line));
  } else {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), line = std::move(line)]() mutable {
                 self->sendInLoop(std::move(line));
               });
  }
}

void Connection::close() {
  if (inLoopThread()) {
    closeInLoop(/*flush_first=*/true);
  } else {
    asio::post(socket_.get_executor(),
               [self = shared_from_this()] { self->closeInLoop(/*flush_first=*/true); });
  }
}

void Connection::pauseReading() { paused_ = true; }

void Connection::resumeReading() {
  if (!paused_) return;
  paused_ = false;
  if (state_ != State::kOpen) return;
  // Lines that arrived while paused are still in input_; frame them first.
  // post() rather than a direct call: the caller may be inside onLine().
  post([this] {
    if (state_ != State::kOpen || paused_) return;
    processInput();
    armRead();
  });
}

void Connection::whenDrained(std::function<void()> fn) {
  if (queued_bytes_ == 0) {
    post(std::move(fn));
  } else {
    on_drained_ = std::move(fn);
  }
}

// --- reading ---------------------------------------------------------------

void Connection::armRead() {
  if (reading_ || paused_ || state_ != State::kOpen) return;
  reading_ = true;
  // Wait for readability instead of an async read into a private buffer:
  // the shared thread-local buffer is only touched inside onReadable().
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     [self = shared_from_this()](const error_code& ec) {
                       self->reading_ = false;
                       if (ec) {
                         if (ec != asio::error::operation_aborted) self->closeInLoop(false);
                         return;
                       }
                       self->onReadable();
                     });
}

void Connection::onReadable() {
  if (state_ != State::kOpen) return;
  error_code ec;
  size_t n = socket_.read_some(asio::buffer(t_read_buffer), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    armRead();
    return;
  }
  if (ec || n == 0) {  // EOF or reset: the peer is gone
    closeInLoop(/*flush_first=*/false);
    return;
  }
  last_activity_ = std::chrono::steady_clock::now();
  if (!discarding_) {
    input_.append(t_read_buffer.data(), n);
    processInput();
  }
  armRead();
}

void Connection::processInput() {
  while (!paused_ && state_ == State::kOpen) {
    Frame frame = nextLine(input_, &input_offset_, options_.max_line_bytes);
    if (frame.result == Framed::kIncomplete) break;
    if (frame.result == Framed::kTooLong) {
      discarding_ = true;
      handler_->onOversizedLine();
      closeInLoop(/*flush_first=*/true);
      return;
    }
    std::string_view line = frame.line;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;  // blank lines (e.g. from telnet) are ignored
    handler_->onLine(line);
  }
  // Paused with complete lines still waiting: nothing more is read until
  // resumeReading(), so input_ cannot grow; leave it as it is.
  if (paused_) return;
  if (input_offset_ == input_.size()) {
    // Give the buffer back once it is empty: idle connections hold none.
    std::string().swap(input_);
    input_offset_ = 0;
  } else if (input_.size() - input_offset_ > options_.max_line_bytes) {
    // An incomplete line is already over the limit: no need to wait for its
    // end to refuse it, and waiting would let a peer grow this buffer.
    discarding_ = true;
    handler_->onOversizedLine();
    closeInLoop(/*flush_first=*/true);
  } else if (input_offset_ > 0) {
    input_.erase(0, input_offset_);
    input_offset_ = 0;
  }
}

// --- writing ---------------------------------------------------------------

void Connection::sendInLoop(std::string line) {
  if (state_ == State::kClosed) return;
  // Lines are copied into one output buffer: whatever queues up while a
  // write is in flight leaves in the next single write (coalescing), and an
  // idle connection holds no queue structure at all.
  if (output_.empty() && output_.capacity() < line.size() + 1) {
    line.push_back('\n');
    output_.swap(line);  // the first line: take its buffer instead of copying
  } else {
    output_.append(line).push_back('\n');
  }
  queued_bytes_ = writing_.size() + output_.size();
  if (queued_bytes_ > options_.max_queued_bytes) {
    // The peer does not read what we send. Buffering more would let one slow
    // client consume unbounded memory, so cut it off now (Redis does the same
    // with client-output-buffer-limit).
    spdlog::warn("closing {}: {} bytes queued for a peer that does not read", peer(),
                 queued_bytes_);
    closeInLoop(/*flush_first=*/false);
    return;
  }
  if (!write_in_flight_) startWrite();
}

void Connection::startWrite() {
  if (output_.empty() || state_ == State::kClosed) return;
  writing_.swap(output_);
  write_in_flight_ = true;
  asio::async_write(
      socket_, asio::buffer(writing_),
      [self = shared_from_this()](const error_code& ec, size_t /*bytes*/) {
        self->write_in_flight_ = false;
        if (self->state_ == State::kClosed) {
          // Closed while this write was in flight: the buffer
          // was kept alive for it (see finishClose); drop it now.
          std::string().swap(self->writing_);
          std::string().swap(self->output_);
          self->queued_bytes_ = 0;
          return;
        }
        if (ec) {
          self->closeInLoop(/*flush_first=*/false);
          return;
        }
        // Keep the buffer only while more output is coming
        // (it becomes the next fill buffer); an idle
        // connection holds none.
        self->writing_.clear();
        if (self->output_.empty() || self->writing_.capacity() > kKeepOutputCapacity) {
          std::string().swap(self->writing_);
        }
        self->queued_bytes_ = self->output_.size();
        if (!self->output_.empty()) {
          self->startWrite();
          return;
        }
        if (self->state_ == State::kClosing) {
          self->finishClose();
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

void Connection::closeIfIdle(std::chrono::steady_clock::time_point now) {
  if (state_ != State::kOpen) return;
  if (now - last_activity_ >= options_.idle_timeout) {
    spdlog::info("closing {}: idle for {} s", peer(), options_.idle_timeout.count());
    closeInLoop(/*flush_first=*/false);
  }
}

void Connection::closeInLoop(bool flush_first) {
  if (state_ == State::kClosed) return;
  if (flush_first && queued_bytes_ > 0) {
    if (state_ == State::kClosing) return;
    state_ = State::kClosing;
    error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
    timer_.cancel();
    timer_.expires_after(kCloseGrace);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->finishClose();  // the peer did not take its last bytes in time
    });
    return;
  }
  finishClose();
}

void Connection::finishClose() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  if (sweeper_) sweeper_->remove(this);
  error_code ec;
  timer_.cancel();
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  // A write in flight still points into its buffer; its completion handler
  // frees it. Otherwise free both now.
  if (!write_in_flight_) {
    std::string().swap(writing_);
    std::string().swap(output_);
    queued_bytes_ = 0;
  }
  on_drained_ = nullptr;
  if (on_closed_) {
    auto fn = std::move(on_closed_);
    on_closed_ = nullptr;
    fn();
  }
  // Tell the handler once, from a fresh handler: close() may have been called
  // from inside the handler's own onLine(), which must not see itself
  // destroyed under its feet (the muduo/Redis "close asynchronously" rule).
  if (handler_) {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), h = std::move(handler_)] { h->onClose(); });
  }
  self_.reset();  // last: pending operations (and the post above) hold their own
}

}  // namespace parley::net
