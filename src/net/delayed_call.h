// runAfter: `fn` on `executor` once `delay` has passed. The timer exists
// only for this one call (it keeps itself alive until it fires), so nothing
// holds a timer while no delayed call is pending: idle connections stay small.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace parley::net {

inline void runAfter(const boost::asio::any_io_executor& executor, std::chrono::milliseconds delay,
                     std::function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(executor, delay);
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

}  // namespace parley::net
