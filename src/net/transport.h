// Transport: what the layers above need from one client connection, whatever
// carries it — a JSON-lines TCP Connection or a WebSocketConnection. The chat
// glue (server/ClientChannel) talks only to this, so the service never knows
// which transport a client uses.
//
// Each transport delivers complete frames (a line, or a WebSocket text
// message) to a LineHandler on its loop, and sends one frame per send().
//
// Thread safety: send(), post(), close() from any thread; the rest from the
// transport's loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace parley::net {

class Transport {
 public:
  virtual ~Transport() = default;

  // Queues one frame (without its framing: no "\n"). Dropped if closing.
  virtual void send(std::string frame) = 0;
  // Runs `fn` on the transport's loop.
  virtual void post(std::function<void()> fn) = 0;
  // Runs `fn` on the transport's loop once `delay` has passed (even if the
  // transport has closed meanwhile: `fn` holds what it needs).
  virtual void postAfter(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // Identifies that loop: transports with the same key share its thread.
  virtual const void* loopKey() const = 0;
  // Flushes what is queued (bounded by a short grace period), then closes.
  // Idempotent.
  virtual void close() = 0;

  // Flow control: stop/start handing frames to the handler.
  virtual void pauseReading() = 0;
  virtual void resumeReading() = 0;
  // Bytes queued for the peer and not yet written.
  virtual size_t queuedBytes() const = 0;
  // `fn` runs once, the next time the write queue becomes empty.
  virtual void whenDrained(std::function<void()> fn) = 0;
  // The client's IP address (for per-address limits), or "".
  virtual std::string peerAddress() const = 0;
  // The peer logged in (true) or out (false): the pre-login limits (a
  // smaller frame limit, a deadline to log in) apply exactly while logged out.
  virtual void setAuthenticated(bool authenticated) = 0;
  // The frame-size limit in force now, in bytes.
  virtual size_t maxLineBytes() const = 0;
};

using TransportPtr = std::shared_ptr<Transport>;

}  // namespace parley::net
