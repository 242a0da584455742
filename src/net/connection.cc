#include "net/connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "net/idle_sweeper.h"
#include "net/post_batch.h"
#include "net/write_flusher.h"

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// An output buffer bigger than this is given back once it has been written,
// so a connection that once received a burst does not keep the memory.
constexpr size_t kKeepOutputCapacity = 16 * 1024;

// How long close() waits for queued output to reach a peer before cutting.
constexpr std::chrono::seconds kCloseGrace{2};

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, const ConnectionOptions& options)
    : Connection(makePlainStream(std::move(socket)), options) {}

Connection::Connection(ByteStreamPtr stream, const ConnectionOptions& options)
    : stream_(std::move(stream)),
      loop_(*stream_->socket().get_executor().target<asio::io_context::executor_type>()),
      options_(options),
      framer_(options.max_line_bytes_before_auth > 0
                  ? std::min(options.max_line_bytes_before_auth, options.max_line_bytes)
                  : options.max_line_bytes),
      last_activity_(std::chrono::steady_clock::now()),
      handshake_deadline_(last_activity_ + options.handshake_timeout),
      flusher_(&asio::use_service<WriteFlusher>(loop_.context())) {
  error_code ec;
  auto& socket = stream_->socket();
  auto ep = socket.remote_endpoint(ec);
  if (!ec) {
    const asio::ip::address a = ep.address();
    peer_ip_ = (a.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()) : a.to_v6())
                   .to_bytes();
    peer_port_ = ep.port();
    peer_known_ = true;
  }
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
}

Connection::~Connection() {
  if (sweeper_) sweeper_->remove(this);
}

std::string Connection::peerAddress() const {
  if (!peer_known_) return "";
  const asio::ip::address_v6 v6(peer_ip_);
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  return v6.to_string();
}

std::string Connection::peer() const {
  return peer_known_ ? peerAddress() + ":" + std::to_string(peer_port_) : "?";
}

bool Connection::inLoopThread() const { return loop_.running_in_this_thread(); }

void Connection::start(std::shared_ptr<LineHandler> handler) {
  handler_ = std::move(handler);
  // An open connection owns itself until it closes: while reading is paused
  // and nothing is being written, no pending operation holds it.
  self_ = shared_from_this();
  // Deadlines (the login deadline covers the TLS handshake too) are checked
  // by the loop's sweeper, at a quarter of the shorter one.
  std::chrono::seconds shortest = options_.idle_timeout;
  if (options_.handshake_timeout.count() > 0 &&
      (shortest.count() == 0 || options_.handshake_timeout < shortest)) {
    shortest = options_.handshake_timeout;
  }
  asio::use_service<IdleSweeper>(loop_.context()).add(this, shortest);
  stream_->handshake(asStreamUser());
}

void Connection::onHandshake(const error_code& ec) {
  if (state_ == State::kClosed) return;
  if (ec) {
    spdlog::info("closing {}: handshake failed: {}", peer(), ec.message());
    closeInLoop(/*flush_first=*/false);
    return;
  }
  handshake_done_ = true;
  armRead();
  if (!write_in_flight_) startWrite();  // anything queued meanwhile
}

void Connection::post(std::function<void()> fn) {
  PostBatch::post(loop_.context(), shared_from_this(), std::move(fn));
}

void Connection::send(std::string line) {
  if (inLoopThread()) {
    sendInLoop(std::move(line));
  } else {
    asio::post(loop_, [self = shared_from_this(), line = std::move(line)]() mutable {
      self->sendInLoop(std::move(line));
    });
  }
}

void Connection::close() {
  if (inLoopThread()) {
    closeInLoop(/*flush_first=*/true);
  } else {
    asio::post(loop_, [self = shared_from_this()] { self->closeInLoop(/*flush_first=*/true); });
  }
}

void Connection::pauseReading() { paused_ = true; }

void Connection::resumeReading() {
  if (!paused_) return;
  paused_ = false;
  if (state_ != State::kOpen) return;
  // Lines that arrived while paused are still in the framer; frame them first.
  // post() rather than a direct call: the caller may be inside onLine().
  post([this] {
    if (state_ != State::kOpen || paused_) return;
    processInput();
    armRead();
  });
}

void Connection::setAuthenticated(bool authenticated) {
  if (authenticated == authenticated_) return;
  authenticated_ = authenticated;
  if (authenticated) {
    framer_.setMaxLine(options_.max_line_bytes);
    return;
  }
  framer_.setMaxLine(options_.max_line_bytes_before_auth > 0
                         ? std::min(options_.max_line_bytes_before_auth, options_.max_line_bytes)
                         : options_.max_line_bytes);
  handshake_deadline_ = std::chrono::steady_clock::now() + options_.handshake_timeout;
}

void Connection::whenDrained(std::function<void()> fn) {
  if (queued_bytes_ == 0) {
    post(std::move(fn));
  } else {
    on_drained_ = std::make_unique<std::function<void()>>(std::move(fn));
  }
}

// --- reading ---------------------------------------------------------------

void Connection::armRead() {
  if (reading_ || paused_ || !handshake_done_ || state_ != State::kOpen) return;
  reading_ = true;
  stream_->readSome(asStreamUser());
}

void Connection::onRead(const error_code& ec, std::string_view data) {
  reading_ = false;
  if (ec) {
    // While closing, an end of input is our own doing: the flushing close
    // shut the socket for reading, which ends the read still pending. The
    // queued output is still owed to the peer; the last write (or the
    // grace timer) finishes the close. A reset fails the write too.
    if (ec == asio::error::operation_aborted || state_ == State::kClosing) return;
    closeInLoop(/*flush_first=*/false);  // EOF or reset: the peer is gone
    return;
  }
  onData(data);
}

void Connection::onData(std::string_view data) {
  if (state_ != State::kOpen) return;
  // Bytes after an oversized line are read only to be dropped, and do not
  // count as activity: the idle timeout still ends a peer that streams on
  // while the handler owes its last answers.
  if (!discarding_) {
    last_activity_ = std::chrono::steady_clock::now();
    framer_.append(data);
    processInput();
  }
  armRead();
}

void Connection::processInput() {
  while (!paused_ && state_ == State::kOpen) {
    std::string_view line;
    LineFramer::Next next = framer_.next(&line);
    if (next == LineFramer::Next::kNeedMore) break;
    if (next == LineFramer::Next::kTooLong) {
      // Refused as soon as it is certain, even before the line's end
      // arrives: waiting for it would let a peer grow the buffer. The input
      // ends here; the handler closes once it has answered (LineHandler).
      discarding_ = true;
      framer_ = LineFramer(framer_.maxLine());  // frees what it buffered
      handler_->onOversizedLine();
      return;
    }
    handler_->onLine(line);
  }
  // Paused with complete lines still waiting: nothing more is read until
  // resumeReading(), so the buffer cannot grow; leave it as it is.
  if (!paused_) framer_.compact();
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
  // The write waits for the end of the loop's current pass (WriteFlusher),
  // so every line queued for this peer meanwhile goes in the same write().
  if (!write_in_flight_ && !flush_scheduled_) {
    flush_scheduled_ = true;
    flusher_->schedule(shared_from_this());
  }
}

void Connection::flushNow() {
  flush_scheduled_ = false;
  if (!write_in_flight_) startWrite();
}

void Connection::startWrite() {
  if (output_.empty() || !handshake_done_ || state_ == State::kClosed) return;
  writing_.swap(output_);
  write_in_flight_ = true;
  stream_->write(asio::buffer(writing_), asStreamUser());
}

void Connection::onWritten(const error_code& ec) {
  write_in_flight_ = false;
  if (state_ == State::kClosed) {
    // Closed while this write was in flight: the buffer was kept alive
    // for it (see finishClose); drop it now.
    std::string().swap(writing_);
    std::string().swap(output_);
    queued_bytes_ = 0;
    return;
  }
  if (ec) {
    closeInLoop(/*flush_first=*/false);
    return;
  }
  // Keep the buffer only while more output is coming (it becomes the next
  // fill buffer); an idle connection holds none.
  writing_.clear();
  if (output_.empty() || writing_.capacity() > kKeepOutputCapacity) {
    std::string().swap(writing_);
  }
  queued_bytes_ = output_.size();
  if (!output_.empty()) {
    startWrite();
    return;
  }
  if (state_ == State::kClosing) {
    finishClose();
    return;
  }
  if (on_drained_) {
    auto fn = std::move(on_drained_);
    (*fn)();
  }
}

// --- timers and closing ----------------------------------------------------

void Connection::checkDeadlines(std::chrono::steady_clock::time_point now) {
  if (state_ != State::kOpen) return;
  if (!authenticated_ && options_.handshake_timeout.count() > 0 && now >= handshake_deadline_) {
    spdlog::info("closing {}: not logged in within {} s", peer(),
                 options_.handshake_timeout.count());
    closeInLoop(/*flush_first=*/false);
    return;
  }
  if (options_.idle_timeout.count() > 0 && now - last_activity_ >= options_.idle_timeout) {
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
    stream_->socket().shutdown(asio::ip::tcp::socket::shutdown_receive, ec);
    // A timer only for this rare moment: an idle connection holds none.
    close_timer_ = std::make_unique<asio::steady_timer>(loop_);
    close_timer_->expires_after(kCloseGrace);
    close_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
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
  if (close_timer_) close_timer_->cancel();
  stream_->close();
  // A write in flight still points into the queue; its completion handler
  // frees it. Otherwise free it now.
  if (!write_in_flight_) {
    std::string().swap(writing_);
    std::string().swap(output_);
    queued_bytes_ = 0;
  }
  on_drained_ = nullptr;
  admission_.release();
  // Tell the handler once, from a fresh handler: close() may have been called
  // from inside the handler's own onLine(), which must not see itself
  // destroyed under its feet (the muduo/Redis "close asynchronously" rule).
  if (handler_) {
    asio::post(loop_, [self = shared_from_this(), h = std::move(handler_)] { h->onClose(); });
  }
  self_.reset();  // last: pending operations (and the post above) hold their own
}

}  // namespace parley::net
