// Listener: one acceptor, on its own thread, handing each new socket to the
// next worker loop, round-robin (the boss/worker reactor). It applies the
// connection limits (Admission) and leaves the rest to its owner: what to
// build on an admitted socket (TcpServer: a line Connection; WebServer: an
// HTTP session) and how to refuse one over a limit.
//
// Thread safety: listen/start/stopAccepting from one controlling thread;
// OnRejected runs on the acceptor thread, OnAccepted on the chosen loop.
// Lifetime: destroy it only after its loops have stopped (accepted sockets
// are posted to them with a pointer back here).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "net/admission.h"
#include "net/event_loop_pool.h"

namespace parley::net {

class Listener {
 public:
  // The socket was accepted onto the loop this runs on. `slot` holds the
  // connection's place under the limits; the place is given back when the
  // slot is destroyed (keep it until the connection closes).
  using OnAccepted = std::function<void(boost::asio::ip::tcp::socket socket, AdmissionSlot slot)>;
  // The socket is over a limit: say why if the protocol allows (a small
  // non-blocking write); the listener closes it afterwards.
  using OnRejected = std::function<void(boost::asio::ip::tcp::socket& socket)>;

  // `name` ("tcp", "web") appears in errors, logs and the acceptor thread's
  // name ("<name>-acceptor").
  Listener(EventLoopPool& loops, std::string name, size_t max_connections,
           size_t max_connections_per_address, OnAccepted on_accepted, OnRejected on_rejected);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // Binds and listens (port 0 picks a free port; see port()). BadRequest for
  // a malformed address, Unavailable if it cannot be bound.
  Status listen(const std::string& host, uint16_t port);
  // Starts accepting on the acceptor thread.
  void start();
  // Stops accepting new connections; existing ones are untouched. Idempotent.
  void stopAccepting();

  uint16_t port() const { return port_; }
  size_t accepted() const { return accepted_.load(std::memory_order_relaxed); }
  size_t open() const { return admission_->open(); }

 private:
  void accept();

  EventLoopPool& loops_;
  const std::string name_;
  OnAccepted on_accepted_;
  OnRejected on_rejected_;
  // Shared with every slot, which may outlive the listener (connections
  // parked on stopped loops are destroyed after it).
  AdmissionPtr admission_;
  boost::asio::io_context accept_context_{1};
  boost::asio::ip::tcp::acceptor acceptor_{accept_context_};
  boost::asio::steady_timer retry_timer_{accept_context_};
  std::thread accept_thread_;
  uint16_t port_ = 0;
  std::atomic<size_t> accepted_{0};
};

}  // namespace parley::net
