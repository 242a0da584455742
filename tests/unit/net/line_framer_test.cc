// LineFramer on its own: every way bytes can be split, the limits, and the
// buffer bookkeeping the connection relies on.
#include "net/line_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::net {
namespace {

// Frames everything buffered; "!" marks kTooLong.
std::vector<std::string> drain(LineFramer& f) {
  std::vector<std::string> out;
  for (;;) {
    std::string_view line;
    LineFramer::Next n = f.next(&line);
    if (n == LineFramer::Next::kNeedMore) break;
    if (n == LineFramer::Next::kTooLong) {
      out.push_back("!");
      break;
    }
    out.emplace_back(line);
  }
  f.compact();
  return out;
}

TEST(LineFramerTest, SplitsStripsCarriageReturnAndSkipsBlankLines) {
  LineFramer f(100);
  f.append("one\r\ntwo\n\n\r\nthree");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(f.buffered(), 5u);  // "three" waits for its end
  f.append("\nfour\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"three", "four"}));
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(LineFramerTest, ByteByByteGivesTheSameLines) {
  const std::string input = "alpha\nbe\rta\r\n\ngamma\n";
  LineFramer f(100);
  std::vector<std::string> got;
  for (char c : input) {
    f.append(std::string_view(&c, 1));
    for (auto& l : drain(f)) got.push_back(l);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"alpha", "be\rta", "gamma"}));
}

TEST(LineFramerTest, ExactlyTheLimitIsAcceptedOneMoreIsNot) {
  LineFramer f(8);
  f.append("12345678\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"12345678"}));
  f.append("123456789\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"!"}));
}

TEST(LineFramerTest, UnfinishedLineOverTheLimitIsRefusedBeforeItsEnd) {
  LineFramer f(8);
  f.append("12345678");
  EXPECT_EQ(drain(f), std::vector<std::string>{}) << "at the limit it may still end";
  f.append("9");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"!"}));
}

TEST(LineFramerTest, LinesBeforeAnOverlongOneAreStillDelivered) {
  LineFramer f(4);
  f.append("ok\nfine\ntoo long\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"ok", "fine", "!"}));
}

TEST(LineFramerTest, LoweringAndRaisingTheLimitAppliesToLinesFramedAfter) {
  LineFramer f(4);
  f.append("abcdefgh\n");
  f.setMaxLine(16);  // e.g. the client logged in before this line was framed
  EXPECT_EQ(drain(f), (std::vector<std::string>{"abcdefgh"}));
  f.setMaxLine(4);
  f.append("abcdefgh\n");
  EXPECT_EQ(drain(f), (std::vector<std::string>{"!"}));
}

TEST(LineFramerTest, CompactKeepsTheUnfinishedLine) {
  LineFramer f(100);
  f.append("first\nsec");
  std::string_view line;
  ASSERT_EQ(f.next(&line), LineFramer::Next::kLine);
  EXPECT_EQ(line, "first");
  EXPECT_EQ(f.next(&line), LineFramer::Next::kNeedMore);
  f.compact();
  EXPECT_EQ(f.buffered(), 3u);
  f.append("ond\n");
  ASSERT_EQ(f.next(&line), LineFramer::Next::kLine);
  EXPECT_EQ(line, "second");
}

}  // namespace
}  // namespace parley::net
