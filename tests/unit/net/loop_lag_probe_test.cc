// The loop-lag probe sees a handler that holds its loop.
#include "net/loop_lag_probe.h"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <string>
#include <thread>

namespace parley::net {
namespace {

// The cumulative count of bucket `le` in LatencyBuckets' rendering.
uint64_t bucket(const LatencyBuckets& h, const std::string& le) {
  std::string text;
  h.render("lag", "help", &text);
  std::string key = "lag_bucket{le=\"" + le + "\"} ";
  auto at = text.find(key);
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + key.size()));
}

TEST(LoopLagProbeTest, AHandlerThatHoldsTheLoopShowsAsLag) {
  boost::asio::io_context loop;
  LatencyBuckets lag;
  startLoopLagProbe(loop, &lag, std::chrono::milliseconds(5));
  // 50 ms of the loop's time in one handler, after the probe's first wait.
  boost::asio::steady_timer hold(loop, std::chrono::milliseconds(2));
  hold.async_wait([](auto) { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
  loop.run_for(std::chrono::milliseconds(150));
  // The held tick ran >= 48 ms late; the probe keeps going after it.
  ASSERT_GE(lag.count(), 2u) << "the probe did not keep running";
  EXPECT_LT(bucket(lag, "0.025"), lag.count()) << "no observation above 25 ms";
}

}  // namespace
}  // namespace parley::net
