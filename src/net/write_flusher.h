// WriteFlusher: writes a loop's connections' output once per pass over what
// the loop has queued, not once per line. A connection with something to
// send registers here; one handler, posted behind everything already queued
// on the loop, then starts each registered connection's write. Every line
// produced for a connection meanwhile — the events of a whole commit's
// group messages, the answers to a client's pipelined requests — leaves in
// one write() (Redis writes its clients' replies before the event loop
// sleeps, for the same reason: the syscall, not the copy, is the cost).
//
// An Asio service of the loop's io_context, like IdleSweeper. Loop-thread
// only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

namespace parley::net {

class Connection;

class WriteFlusher : public boost::asio::io_context::service {
 public:
  static boost::asio::io_context::id id;

  explicit WriteFlusher(boost::asio::io_context& context);

  // `c` has output to write: Connection::flushNow() runs at the end of the
  // loop's current queue.
  void schedule(std::shared_ptr<Connection> c);

 private:
  void shutdown() override;
  void flush();

  boost::asio::io_context& context_;
  std::vector<std::shared_ptr<Connection>> pending_;
  std::vector<std::shared_ptr<Connection>> flushing_;  // kept for its capacity
  bool posted_ = false;
};

}  // namespace parley::net
