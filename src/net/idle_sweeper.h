// IdleSweeper: the open connections of one event loop. It closes those past
// their idle timeout or login deadline with ONE timer per loop, instead of a
// pending timer wait per connection (an Asio operation of about 150 bytes
// each, for every idle connection held). It is an Asio service of
// the loop's io_context, so it lives and dies with the loop; connections
// link themselves into its intrusive list (no allocation per connection).
//
// Loop-thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

namespace parley::net {

class Connection;

class IdleSweeper : public boost::asio::io_context::service {
 public:
  static boost::asio::io_context::id id;

  explicit IdleSweeper(boost::asio::io_context& context);

  // Links `c` (open); the sweep calls Connection::checkDeadlines(). `timeout`
  // (the shortest of the connection's) sets how often the loop looks: a
  // quarter of it, so a deadline is enforced within 1.25 times itself. 0 =
  // the connection has no deadline (it is linked all the same, so that
  // shutdown() finds it).
  void add(Connection* c, std::chrono::seconds timeout);
  void remove(Connection* c);

 private:
  void shutdown() override;
  void arm();
  void sweep();

  boost::asio::steady_timer timer_;
  Connection* head_ = nullptr;
  std::chrono::milliseconds interval_{0};
  bool armed_ = false;
  bool shut_down_ = false;
};

}  // namespace parley::net
