// kill -9 under load: parley-soak keeps every connection sending as fast as
// its window allows and logs each message the server acknowledged; the
// server is killed in the middle of it, restarted on the same data, and
// every acknowledged message must reach its recipient (1:1 and group) when
// the recipient logs in again. Twice, so the second crash hits a database
// that already recovered from one. With and without a WAL sync interval.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "server_process.h"

namespace parley::testing {
namespace {

using nlohmann::json;

size_t lineCount(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// The JSON summary: the last line that starts with "{".
json summary(const std::string& out) {
  size_t brace = out.rfind("\n{");
  if (brace == std::string::npos) return json::object();
  return json::parse(out.substr(brace + 1), nullptr, false);
}

std::string soak(uint16_t port, const std::string& args) {
  return std::string(PARLEY_SOAK_BIN) + " --port " + std::to_string(port) + " " + args;
}

// With a sync interval the completion thread holds many commits while it
// waits to sync them: the crash and recovery must go the same way. (A kill -9
// leaves the page cache, so it cannot tell an acknowledgement sent before
// its fsync; SqliteWriterSyncIntervalTest checks that order.)
class CrashTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashTest, Kill9UnderLoadLosesNoAcknowledgedMessage) {
  ServerProcess server(
      {"--rate-per-connection", "0", "--rate-per-user", "0", "--wal-sync-interval-us", GetParam()});
  server.start();
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string log = server.dir() + "/acked-" + std::to_string(round) + ".txt";
    std::string prefix = "r" + std::to_string(round) + "_";
    FILE* load =
        popen((soak(server.port(), "--rate 0 --window 8 --duration 120 --prefix " + prefix +
                                       " --acked-log " + log + " --until-server-dies") +
               " 2>&1")
                  .c_str(),
              "r");
    ASSERT_NE(load, nullptr);
    // Kill once a few thousand messages are acknowledged: the load is then
    // in full swing (the log is flushed every 50 ms).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (lineCount(log) < 5000 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    server.kill9();
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, load)) out.append(buf, n);
    int status = pclose(load);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
    json run = summary(out);
    EXPECT_TRUE(run.value("server_died", false)) << out;
    size_t acked = lineCount(log);
    ASSERT_GE(acked, 5000u) << "the load did not get going:\n" << out;

    server.start();  // same data directory
    FILE* check = popen((soak(server.port(), "--verify " + log) + " 2>&1").c_str(), "r");
    std::string verdict;
    while (size_t n = fread(buf, 1, sizeof buf, check)) verdict.append(buf, n);
    pclose(check);
    json v = summary(verdict);
    EXPECT_EQ(v.value("checked", 0u), acked) << verdict;
    EXPECT_EQ(v.value("lost", -1), 0) << verdict;
  }
}

INSTANTIATE_TEST_SUITE_P(WalSyncInterval, CrashTest, ::testing::Values("0", "2000"),
                         [](const auto& info) { return std::string(info.param) + "us"; });

}  // namespace
}  // namespace parley::testing
