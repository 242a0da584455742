// SessionSink: how the chat logic reaches one client connection without
// knowing it is a socket. The server implements it over net::Connection;
// tests implement it over a vector of lines.
//
// Thread safety: send(), post() and close() may be called from any thread;
// queuedBytes() and whenDrained() only from the session's own loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace parley {

class SessionSink {
 public:
  virtual ~SessionSink() = default;
  // Queues one line (a serialized response or event) for the client.
  virtual void send(std::string line) = 0;
  // Runs `fn` on the session's loop thread. False (and `fn` dropped) if the
  // connection is gone.
  virtual bool post(std::function<void()> fn) = 0;
  // The same, once `delay` has passed.
  virtual bool postAfter(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // Sinks with the same non-null key run on the same loop thread, so work
  // for many sessions can be posted there once (SessionRegistry::deliver).
  // nullptr: unknown, post to this sink alone.
  virtual const void* loopKey() const { return nullptr; }
  // Flushes what is queued, then closes the connection.
  virtual void close() = 0;
  // Bytes queued for the client and not yet written.
  virtual size_t queuedBytes() const = 0;
  // Runs `fn` once on the loop when the write queue is next empty.
  virtual void whenDrained(std::function<void()> fn) = 0;
  // The client's address (no port), for per-address limits; "" if unknown.
  virtual std::string peerAddress() const { return ""; }
};

using SessionSinkPtr = std::shared_ptr<SessionSink>;

}  // namespace parley
