// parley-bench against the real server for a few seconds, so the load tool
// never rots and the server's close-under-load paths run in every build
// (this is how a double free on close-with-a-write-in-flight was found).
// parley-stall-probe too, briefly, with its I/O.
// Only correctness is asserted: 0 lost, 0 duplicated (nor out of order, nor
// mismatched). Timings never are.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "http_get.h"
#include "server_process.h"

namespace parley::testing {
namespace {

// Runs `cmd` through the shell; returns what it printed and sets `status`
// (pclose's).
std::string capture(const std::string& cmd, int* status) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return "popen failed: " + cmd;
  }
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  *status = pclose(p);
  return out;
}

// Runs parley-bench (for at most a minute) and returns its JSON summary.
nlohmann::json runBench(const ServerProcess& server, const std::string& args,
                        int expected_exit = 0) {
  // Resume tokens are kept beside this server's data, not shared with other
  // test runs.
  std::string cmd = "timeout 60 " + std::string(PARLEY_BENCH_BIN) + " --port " +
                    std::to_string(server.port()) + " --token-dir " + server.dir() +
                    "/tokens --progress 0 " + args + " 2>/dev/null";
  int status = 0;
  std::string out = capture(cmd, &status);
  EXPECT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), expected_exit) << out;
  size_t brace = out.rfind("\n{");
  if (brace == std::string::npos) {
    ADD_FAILURE() << "no JSON summary in: " << out;
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(out.substr(brace + 1));
}

// parley-bench's own verification, per recipient and message id, all clean.
void expectVerified(const nlohmann::json& run) {
  for (const char* count : {"lost", "duplicated", "out_of_order", "mismatched"}) {
    EXPECT_EQ(run.value(count, -1), 0) << count << " in " << run.dump();
  }
}

// The server's count of messages taken in so far (direct ones), from its
// admin endpoint; 0 when it cannot be read.
double messagesIn(uint16_t admin_port) {
  HttpResponse r = httpGet(admin_port, "/metrics");
  const std::string name = "parley_messages_in_total{kind=\"direct\"} ";
  size_t at = r.body.find(name);
  return at == std::string::npos ? 0 : std::strtod(r.body.c_str() + at + name.size(), nullptr);
}

TEST(BenchSmokeTest, EveryScenarioRunsAndLosesNothing) {
  ServerProcess server({"--rate-per-connection", "0", "--rate-per-user", "0"});
  server.start();
  auto direct = runBench(server, "--scenario direct --pairs 10 --duration 2 --procs 2");
  EXPECT_GT(direct.value("acked", 0), 0);
  expectVerified(direct);
  EXPECT_EQ(direct.value("delivered", 0), direct.value("acked", -1));
  auto group = runBench(server, "--scenario group --groups 2 --group-size 20 --duration 2");
  EXPECT_GT(group.value("acked", 0), 0);
  expectVerified(group);
  auto connect = runBench(server, "--scenario connect --users 200 --duration 1");
  EXPECT_EQ(connect.value("connections", 0), 200);
  EXPECT_EQ(connect.value("logins", 0), 200);
  // The second time the same users log in by resume token, not password.
  auto resumed = runBench(server, "--scenario connect --users 200 --duration 1");
  EXPECT_EQ(resumed.value("connections", 0), 200);
  EXPECT_EQ(resumed.value("resumes", 0), 200);
  auto mixed = runBench(server,
                        "--scenario mixed --pairs 5 --groups 1 --group-size 10 --users 20 "
                        "--rate 500 --duration 2 --procs 2");
  EXPECT_GT(mixed.value("acked", 0), 0);
  expectVerified(mixed);
  for (const char* mode : {"resume", "password"}) {
    auto storm =
        runBench(server, std::string("--scenario login --users 5 --duration 1 --login ") + mode);
    EXPECT_GT(storm.value("logins", 0), 0) << mode;
    EXPECT_EQ(storm.value("errors", -1), 0) << mode;
    if (std::string(mode) == "resume") {
      EXPECT_GT(storm.value("resumes", 0), 0);
    }
  }
  // A second run reuses the accounts (register answers conflict) and must
  // find no stale backlog.
  auto again = runBench(server, "--scenario direct --pairs 10 --duration 1");
  expectVerified(again);
}

// Connections that hang up mid-run (here the bench's own fault injection)
// are reported as dropped and fail the run; what they were owed is not
// counted as lost, and what their unanswered sends delivered to the others
// is not counted as duplicated.
TEST(BenchSmokeTest, ConnectionsDroppedMidRunAreReportedNotCountedAsLossesOrDuplicates) {
  ServerProcess server({"--rate-per-connection", "0", "--rate-per-user", "0"});
  server.start();
  for (const char* args : {"--scenario direct --pairs 10 --window 32 --duration 2 --fault-drop 4",
                           "--scenario direct --pairs 10 --rate 2000 --duration 2 --fault-drop 4",
                           "--scenario group --groups 2 --group-size 20 --senders 4 --window 8 "
                           "--duration 2 --fault-drop 4"}) {
    auto run = runBench(server, args, /*expected_exit=*/1);
    EXPECT_GT(run.value("acked", 0), 0) << args;
    EXPECT_EQ(run.value("dropped_connections", 0), 4) << args << ": " << run.dump();
    expectVerified(run);
  }
}

// A server that dies mid-run drops every connection: parley-bench says so
// and ends at once instead of waiting out the run for answers that cannot
// come.
TEST(BenchSmokeTest, AServerThatDiesMidRunEndsTheRunPromptly) {
  ServerProcess server({"--rate-per-connection", "0", "--rate-per-user", "0", "--admin-port-file",
                        "{dir}/admin_port"});
  for (const char* args : {"--scenario direct --pairs 10 --duration 30",
                           "--scenario direct --pairs 10 --rate 2000 --duration 30"}) {
    std::filesystem::remove(server.dir() + "/admin_port");  // the last start's
    server.start();
    uint16_t admin = server.portFromFile(server.dir() + "/admin_port");
    // Killed once messages flow, not at a fixed time: a slow (sanitized,
    // loaded) bench may still be registering and logging in after seconds.
    bool flowing = false;
    std::thread killer([&] {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!(flowing = messagesIn(admin) >= 100) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      server.kill9();
    });
    auto started = std::chrono::steady_clock::now();
    auto run = runBench(server, args, /*expected_exit=*/1);
    killer.join();
    EXPECT_TRUE(flowing) << "killed after 20 s without messages, not mid-run";
    // 30 s of load asked for; the server died early in it.
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(28)) << args;
    EXPECT_GT(run.value("acked", 0), 0) << args;
    EXPECT_EQ(run.value("dropped_connections", 0), 20) << args << ": " << run.dump();
  }
}

// parley-stall-probe reports every CPU and its I/O; what it measures is the
// machine's, so only the report's consistency is checked. One fsync every
// 2 ms: back to back, on the development VMs, they stop the whole machine
// (and the tests beside this one) a sixth of the time.
TEST(StallProbeSmokeTest, ReportsEachCpuAndTheFsyncLoop) {
  std::string dir = std::filesystem::temp_directory_path().string();
  int status = 0;
  std::string out =
      capture("timeout 60 " + std::string(PARLEY_STALL_PROBE_BIN) +
                  " --seconds 0.3 --io fsync --io-gap-us 2000 --dir '" + dir + "' 2>&1",
              &status);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  size_t brace = out.rfind("\n{");
  ASSERT_NE(brace, std::string::npos) << out;
  auto report = nlohmann::json::parse(out.substr(brace + 1));
  ASSERT_TRUE(report.contains("realtime")) << out;
  ASSERT_FALSE(report["cpus"].empty()) << out;
  for (const auto& cpu : report["cpus"]) {
    EXPECT_GT(cpu.value("sleeps", 0), 0) << out;
    EXPECT_LE(cpu.value("over_5ms", -1), cpu.value("over_2ms", -1)) << out;
    EXPECT_LE(cpu.value("over_2ms", -1), cpu.value("over_1ms", -1)) << out;
    EXPECT_LE(cpu.value("over_1ms", -1), cpu.value("sleeps", -1)) << out;
  }
  EXPECT_LE(report.value("stops_seen_by_all", -1), report["cpus"][0].value("over_5ms", -1));
  EXPECT_GT(report.value("writes", 0), 0) << out;
  EXPECT_LE(report.value("write_p50_ms", -1.0), report.value("write_p99_ms", -1.0)) << out;
  EXPECT_LE(report.value("write_p99_ms", -1.0), report.value("write_p999_ms", -1.0)) << out;
  EXPECT_LE(report.value("write_p999_ms", -1.0), report.value("write_max_ms", -1.0)) << out;

  // A directory it cannot write to fails at once, with the reason.
  out = capture(std::string(PARLEY_STALL_PROBE_BIN) +
                    " --seconds 30 --io fsync --dir /nonexistent-parley-dir 2>&1",
                &status);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_NE(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("/nonexistent-parley-dir"), std::string::npos) << out;
}

}  // namespace
}  // namespace parley::testing
