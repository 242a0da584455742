// ConnectionSink: SessionSink over a net::Transport (TCP or WebSocket). Holds a weak reference,
// so a session kept alive by pending work never keeps a socket open.
#pragma once

#include <memory>

#include "net/transport.h"
#include "service/session_sink.h"

namespace parley::server {

class ConnectionSink final : public SessionSink {
 public:
  explicit ConnectionSink(const net::TransportPtr& connection)
      : connection_(connection), loop_key_(connection->loopKey()) {}

  void send(std::string line) override {
    if (auto c = connection_.lock()) c->send(std::move(line));
  }
  bool post(std::function<void()> fn) override {
    auto c = connection_.lock();
    if (c) c->post(std::move(fn));
    return c != nullptr;
  }
  bool postAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    auto c = connection_.lock();
    if (c) c->postAfter(delay, std::move(fn));
    return c != nullptr;
  }
  const void* loopKey() const override { return loop_key_; }
  void close() override {
    if (auto c = connection_.lock()) c->close();
  }
  size_t queuedBytes() const override {
    auto c = connection_.lock();
    return c ? c->queuedBytes() : 0;
  }
  void whenDrained(std::function<void()> fn) override {
    if (auto c = connection_.lock()) c->whenDrained(std::move(fn));
  }
  std::string peerAddress() const override {
    auto c = connection_.lock();
    return c ? c->peerAddress() : "";
  }

 private:
  std::weak_ptr<net::Transport> connection_;
  const void* loop_key_;  // the transport's event loop, fixed for its life
};

}  // namespace parley::server
