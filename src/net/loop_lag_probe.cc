#include "net/loop_lag_probe.h"

#include <boost/asio/steady_timer.hpp>
#include <memory>

namespace parley::net {
namespace {

struct Probe : std::enable_shared_from_this<Probe> {
  Probe(boost::asio::io_context& loop, LatencyBuckets* lag, std::chrono::milliseconds period)
      : timer(loop), lag(lag), period(period) {}

  void arm() {
    timer.expires_after(period);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // the loop is going away
      self->lag->observe(std::chrono::steady_clock::now() - self->timer.expiry());
      self->arm();
    });
  }

  boost::asio::steady_timer timer;
  LatencyBuckets* lag;
  std::chrono::milliseconds period;
};

}  // namespace

void startLoopLagProbe(boost::asio::io_context& loop, LatencyBuckets* lag,
                       std::chrono::milliseconds period) {
  std::make_shared<Probe>(loop, lag, period)->arm();
}

}  // namespace parley::net
