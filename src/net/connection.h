// Connection: one TCP client, pinned to one event loop. It frames the input
// into lines (with a maximum size, smaller until the peer has logged in),
// keeps a byte-bounded write queue with coalesced writes, and closes idle
// peers and peers that take too long to log in. It knows nothing of JSON or
// users: complete lines go to a LineHandler, and the layer above says when
// the peer is authenticated.
//
// Lifetime: owned by shared_ptr; every pending async operation holds one, so
// the connection lives until its socket is closed and no handler is pending.
// Others keep a weak_ptr (registries) and reach it through send()/post().
//
// Thread safety: send(), post(), close() may be called from any thread (they
// post to the loop when needed). Everything else is loop-thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "net/admission.h"
#include "net/byte_stream.h"
#include "net/delayed_call.h"
#include "net/line_framer.h"
#include "net/transport.h"

namespace parley::net {

class Connection;
class IdleSweeper;
class WriteFlusher;
using ConnectionPtr = std::shared_ptr<Connection>;

// Implemented by the layer above. Every callback runs on the connection's loop.
class LineHandler {
 public:
  virtual ~LineHandler() = default;
  // One complete line, without "\n" or a trailing "\r".
  virtual void onLine(std::string_view line) = 0;
  // A line longer than the limit arrived: the input ends there (nothing
  // after it reaches the handler). The handler answers the lines before it,
  // then this one, and closes the connection (close() flushes first).
  virtual void onOversizedLine() = 0;
  // The connection is closed (peer gone, error, idle, or close()). Called once.
  virtual void onClose() = 0;
};

struct ConnectionOptions {
  // Longest accepted line in bytes (PROTOCOL.md default 64 KiB).
  size_t max_line_bytes = 64 * 1024;
  // Longest accepted line before setAuthenticated(true) (0 = max_line_bytes).
  // Before login a client has no business sending big lines, and a stranger
  // should not make the server buffer 64 KiB per connection; Redis caps the
  // query buffer of unauthenticated clients the same way.
  size_t max_line_bytes_before_auth = 0;
  // A connection not authenticated this long after it was accepted (or after
  // it logged out) is closed, whatever it sends: unlike the idle timeout,
  // activity does not extend it, so a slowloris peer trickling bytes cannot
  // hold a connection open. Zero disables.
  std::chrono::seconds handshake_timeout{0};
  // Bytes waiting to be written before the peer is judged too slow and cut
  // off; bounds server memory per connection whatever the peer does.
  size_t max_queued_bytes = 4 * 1024 * 1024;
  // A connection that sends nothing for this long is closed (ping keeps it
  // alive). Zero disables.
  std::chrono::seconds idle_timeout{300};
  // Open connections allowed in all and from one address (0 = unlimited).
  // Past them a new connection gets `reject_line` and is closed at once.
  size_t max_connections = 0;
  size_t max_connections_per_address = 0;
  std::string reject_line;
};

class Connection : public Transport,
                   private ByteStream::User,
                   public std::enable_shared_from_this<Connection> {
 public:
  // Plain TCP over `socket`, which is on its loop's io_context.
  Connection(boost::asio::ip::tcp::socket socket, const ConnectionOptions& options);
  // Any byte stream (TLS); its socket is on its loop's io_context.
  Connection(ByteStreamPtr stream, const ConnectionOptions& options);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() override;

  // Starts reading; lines go to `handler`, which the connection keeps until
  // it has told it onClose(). Loop only.
  void start(std::shared_ptr<LineHandler> handler);

  // Queues `line` plus "\n". Drops it if the connection is closing. Any thread.
  void send(std::string line) override;
  // Keeps the connection's place under the listener's limits until it closes.
  void holdAdmission(AdmissionSlot slot) { admission_ = std::move(slot); }
  // Runs `fn` on this connection's loop. Any thread.
  void post(std::function<void()> fn) override;
  void postAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    runAfter(loop_, delay, std::move(fn));
  }
  const void* loopKey() const override { return &loop_.context(); }
  // Flushes what is queued (bounded by a short grace period), then closes.
  // Idempotent. Any thread.
  void close() override;

  // Loop-thread only: flow control used by the layer above.
  void pauseReading() override;
  void resumeReading() override;
  size_t queuedBytes() const override { return queued_bytes_; }
  // `fn` runs once, the next time the write queue becomes empty.
  void whenDrained(std::function<void()> fn) override;
  // The peer has logged in (true): the full line limit applies and the
  // handshake deadline is lifted. Logged out (false): back to the pre-login
  // limit, with a new deadline counted from now.
  void setAuthenticated(bool authenticated) override;
  // The line limit in force now.
  size_t maxLineBytes() const override { return framer_.maxLine(); }

  std::string peer() const;  // "address:port", for logs
  std::string peerAddress() const override;
  boost::asio::any_io_executor executor() { return loop_; }
  bool inLoopThread() const;

 private:
  void armRead();
  // ByteStream::User: the stream's completions.
  void onHandshake(const boost::system::error_code& ec) override;
  void onRead(const boost::system::error_code& ec, std::string_view data) override;
  void onWritten(const boost::system::error_code& ec) override;
  // The base is private, so the conversion is spelled out (aliasing).
  ByteStream::UserPtr asStreamUser() {
    return ByteStream::UserPtr(shared_from_this(), static_cast<ByteStream::User*>(this));
  }
  void onData(std::string_view data);
  void processInput();
  void sendInLoop(std::string line);
  void startWrite();
  // Called by this loop's IdleSweeper: closes the connection past its login
  // deadline or idle timeout.
  void checkDeadlines(std::chrono::steady_clock::time_point now);
  friend class IdleSweeper;
  // Called by this loop's WriteFlusher: starts the write of what is queued.
  void flushNow();
  friend class WriteFlusher;
  void closeInLoop(bool flush_first);
  void finishClose();

  // Field order packs the flags together: an idle server holds one of these
  // per connection.
  ByteStreamPtr stream_;
  // The close grace period, made when needed (deadlines: IdleSweeper).
  std::unique_ptr<boost::asio::steady_timer> close_timer_;
  // The socket was created on an io_context (TcpServer accepts onto a loop),
  // so its executor is that context's; kept to test "am I on the loop?".
  boost::asio::io_context::executor_type loop_;
  const ConnectionOptions& options_;
  std::shared_ptr<LineHandler> handler_;
  // The peer, for logs and per-address limits: its address as IPv6 bytes
  // (IPv4 mapped), 16 bytes where a std::string took 32.
  boost::asio::ip::address_v6::bytes_type peer_ip_{};
  AdmissionSlot admission_;  // released when the connection closes

  LineFramer framer_;  // bytes received and not yet handed up as lines

  // Output: lines (each ending in "\n") collect in output_ while writing_ is
  // on its way to the peer; then the two swap. Empty strings cost nothing.
  std::string output_;
  std::string writing_;
  size_t queued_bytes_ = 0;  // output_ + writing_
  // Rarely set (replay backpressure): held out of line.
  std::unique_ptr<std::function<void()>> on_drained_;

  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point handshake_deadline_;  // while !authenticated_
  ConnectionPtr self_;  // set while open: nothing else may hold an idle, paused connection
  // This loop's sweeper and its intrusive list of open connections.
  IdleSweeper* sweeper_ = nullptr;
  WriteFlusher* flusher_;  // this loop's
  Connection* idle_prev_ = nullptr;
  Connection* idle_next_ = nullptr;

  uint16_t peer_port_ = 0;
  enum class State : uint8_t { kOpen, kClosing, kClosed } state_ = State::kOpen;
  bool reading_ = false;          // a read is pending
  bool handshake_done_ = false;   // reads and writes wait for the stream's handshake
  bool paused_ = false;           // the layer above asked to stop reading
  bool discarding_ = false;       // an oversized line was seen; input is ignored
  bool write_in_flight_ = false;  // a write of writing_ is pending
  bool flush_scheduled_ = false;  // registered with flusher_ for this pass
  bool authenticated_ = false;
  bool peer_known_ = false;  // peer_ip_ and peer_port_ are set
};

}  // namespace parley::net
