#include "common/blocking_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace parley {
namespace {

TEST(BlockingPoolTest, RunsEveryTask) {
  std::atomic<int> n{0};
  {
    BlockingPool pool("t", 4, 1000);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(pool.trySubmit([&] { n++; }));
  }  // destructor drains the queue
  EXPECT_EQ(n.load(), 500);
}

TEST(BlockingPoolTest, RefusesPastTheBound) {
  BlockingPool pool("t", 1, 2);
  std::promise<void> gate, started;
  auto opened = gate.get_future().share();
  ASSERT_TRUE(pool.trySubmit([opened, &started] {
    started.set_value();
    opened.wait();
  }));
  // Once the single thread holds the first task, the queue stays as filled
  // below: nothing is taken from it while the counts are read.
  started.get_future().wait();
  int accepted = 0;
  while (pool.trySubmit([opened] { opened.wait(); })) {
    ASSERT_LT(++accepted, 10);
  }
  EXPECT_EQ(accepted, 2);
  EXPECT_EQ(pool.queued(), 2u);
  pool.submit([] {});  // the unbounded path still queues
  EXPECT_EQ(pool.queued(), 3u);
  gate.set_value();
}

TEST(BlockingPoolTest, NoTasksAfterShutdown) {
  BlockingPool pool("t", 2, 10);
  pool.shutdown();
  EXPECT_FALSE(pool.trySubmit([] {}));
}

}  // namespace
}  // namespace parley
