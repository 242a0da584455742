#include "common/vector_fifo.h"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

TEST(VectorFifoTest, FirstInFirstOutAcrossCompactions) {
  VectorFifo<std::string> q;
  EXPECT_TRUE(q.empty());
  int next_in = 0, next_out = 0;
  // Interleave pushes and pops so the dead prefix is compacted many times.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 70; ++i) q.push(std::to_string(next_in++));
    for (int i = 0; i < 60; ++i) {
      ASSERT_FALSE(q.empty());
      EXPECT_EQ(q.front(), std::to_string(next_out++));
      q.pop();
    }
    EXPECT_EQ(q.size(), static_cast<size_t>(next_in - next_out));
  }
  while (!q.empty()) {
    EXPECT_EQ(q.front(), std::to_string(next_out++));
    q.pop();
  }
  EXPECT_EQ(next_out, next_in);
  q.push("again");
  EXPECT_EQ(q.front(), "again");
  q.clear();
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace parley
