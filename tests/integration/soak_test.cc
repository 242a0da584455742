// The short soak (the long one is scripts/soak): 40 s of 1:1 and group chat
// while connections die in the middle of writing requests and reconnect, and
// reconnect storms drop half of them at once. Nothing acknowledged may be
// lost or duplicated, the server's memory must stop growing, and the server
// must still stop cleanly (in the ASan build that also means no leak).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "server_process.h"

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;  // ASan's quarantine holds freed memory: RSS says nothing
#else
constexpr bool kSanitized = false;
#endif

namespace parley::testing {
namespace {

using nlohmann::json;

TEST(SoakTest, FaultsForFortySecondsLoseNothingAndMemoryLevelsOff) {
  // Default limits: the soak is what a real deployment sees, not a benchmark.
  ServerProcess server;
  server.start();
  std::string cmd = std::string(PARLEY_SOAK_BIN) + " --port " + std::to_string(server.port()) +
                    " --pairs 20 --groups 2 --group-size 10 --rate 400 --duration 40"
                    " --drop-every-ms 100 --storm-every 8 --storm-share 0.5"
                    " --rss-every 2 --server-pid " +
                    std::to_string(server.pid()) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  std::printf("%s", out.c_str());  // the figures, for the test log
  EXPECT_EQ(status, 0) << out;
  size_t brace = out.rfind("\n{");
  ASSERT_NE(brace, std::string::npos) << out;
  json s = json::parse(out.substr(brace + 1));

  EXPECT_EQ(s["lost"], 0) << out;
  EXPECT_EQ(s["duplicated"], 0) << out;
  EXPECT_EQ(s["errors"], 0) << "no connection broke except those the soak cut:\n" << out;
  EXPECT_GT(s["acked"].get<int>(), 1000) << out;
  EXPECT_GT(s["drops"].get<int>(), 100) << out;
  EXPECT_GE(s["storms"].get<int>(), 3) << out;
  EXPECT_GE(s["reconnects"].get<int>(), s["drops"].get<int>()) << out;

  // Memory levels off: whatever the caches took in the first half, the
  // second half adds little. A leak per message or per reconnect (thousands
  // of each here) keeps growing instead.
  auto rss = s["rss_kib"].get<std::vector<long>>();
  ASSERT_GE(rss.size(), 10u) << out;
  long mid = *std::max_element(rss.begin(), rss.begin() + static_cast<long>(rss.size() / 2));
  long end = *std::max_element(rss.begin() + static_cast<long>(rss.size() / 2), rss.end());
  if (!kSanitized) {
    EXPECT_LE(end, mid + mid / 4 + 8 * 1024) << "server RSS kept growing (KiB): " << out;
  }
  EXPECT_EQ(server.stop(), 0) << server.logTail();
}

}  // namespace
}  // namespace parley::testing
