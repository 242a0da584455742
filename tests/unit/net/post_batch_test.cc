#include "net/post_batch.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

namespace parley::net {
namespace {

TEST(PostBatchTest, WithoutABatchAPostIsAnOrdinaryHandler) {
  boost::asio::io_context loop;
  int ran = 0;
  PostBatch::post(loop, nullptr, [&] { ran++; });
  EXPECT_EQ(loop.poll(), 1u);
  EXPECT_EQ(ran, 1);
}

TEST(PostBatchTest, ABatchReachesEachLoopAsOneHandlerInOrder) {
  boost::asio::io_context a, b;
  std::vector<std::string> ran;
  {
    PostBatch batch;
    PostBatch::post(a, nullptr, [&] { ran.push_back("a1"); });
    PostBatch::post(b, nullptr, [&] { ran.push_back("b1"); });
    PostBatch::post(a, nullptr, [&] { ran.push_back("a2"); });
    PostBatch::post(a, nullptr, [&] { ran.push_back("a3"); });
    EXPECT_EQ(a.poll(), 0u) << "nothing is posted while the batch is open";
    EXPECT_TRUE(ran.empty());
    a.restart();  // poll() found no work, which stops an io_context
  }
  EXPECT_EQ(a.poll(), 1u) << "three posts, one handler";
  EXPECT_EQ(ran, (std::vector<std::string>{"a1", "a2", "a3"}));
  EXPECT_EQ(b.poll(), 1u);
  EXPECT_EQ(ran.back(), "b1");
}

TEST(PostBatchTest, NestedBatchesFlushWithTheOutermost) {
  boost::asio::io_context loop;
  int ran = 0;
  {
    PostBatch outer;
    {
      PostBatch inner;
      PostBatch::post(loop, nullptr, [&] { ran++; });
    }
    EXPECT_EQ(loop.poll(), 0u) << "the inner batch does not flush";
    loop.restart();
    PostBatch::post(loop, nullptr, [&] { ran++; });
  }
  EXPECT_EQ(loop.poll(), 1u);
  EXPECT_EQ(ran, 2);
}

TEST(PostBatchTest, WhatAPostKeepsAliveLivesUntilItRan) {
  boost::asio::io_context loop;
  auto kept = std::make_shared<int>(7);
  std::weak_ptr<int> watch = kept;
  {
    PostBatch batch;
    PostBatch::post(loop, std::move(kept), [] {});
  }
  EXPECT_FALSE(watch.expired()) << "held by the pending handler";
  loop.poll();
  EXPECT_TRUE(watch.expired());
}

}  // namespace
}  // namespace parley::net
