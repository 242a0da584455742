// SQLite on a full disk. The server's file size limit (RLIMIT_FSIZE, set
// from outside with prlimit(2): no root, no mount) is lowered to just above
// what its files hold, so the database can no longer grow — to SQLite this
// is a write that fails, as on a full disk. Writes must answer
// `unavailable`, everything else keeps working, nothing acknowledged is lost,
// and once the limit is lifted ("space is back") writes succeed again.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <filesystem>
#include <set>
#include <string>

#include "line_client.h"
#include "server_process.h"

namespace parley::testing {
namespace {

uintmax_t largestFile(const std::string& dir) {
  uintmax_t largest = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("parley.db", 0) == 0) {
      largest = std::max(largest, e.file_size());
    }
  }
  return largest;
}

void setFileSizeLimit(pid_t pid, rlim_t bytes) {
  rlimit limit{bytes, RLIM_INFINITY};
  ASSERT_EQ(prlimit(pid, RLIMIT_FSIZE, &limit, nullptr), 0) << strerror(errno);
}

std::string code(const json& r) {
  return r.contains("error") ? r["error"].value("code", "") : "(ok)";
}

TEST(DiskFullTest, WritesAnswerUnavailableTheServerStaysUpAndRecovers) {
  ServerProcess server({"--rate-per-connection", "0", "--rate-per-user", "0"});
  server.start();
  LineClient alice(server.port());
  alice.registerUser("alice");
  alice.login("alice");
  {
    LineClient bob(server.port());
    bob.registerUser("bob");
    alice.request({{"op", "add_friend"}, {"user", "bob"}});
  }  // bob is offline: what alice sends waits in his inbox
  std::set<int64_t> acked;
  const std::string text(4000, 'm');
  auto send = [&]() {
    json r = alice.request({{"op", "send"}, {"to", "bob"}, {"text", text}});
    if (r.value("ok", false)) acked.insert(r["message"]["id"].get<int64_t>());
    return r;
  };
  ASSERT_TRUE(send().value("ok", false));

  // The disk fills up.
  setFileSizeLimit(server.pid(), largestFile(server.dir()) + 64 * 1024);
  json failed;
  for (int i = 0; i < 2000; ++i) {
    failed = send();
    if (!failed.value("ok", false)) break;
  }
  ASSERT_EQ(code(failed), "unavailable") << failed.dump();
  // Other writes hit the same wall. Not necessarily the very next one: a
  // smaller write can still fit, and when the checkpointer has copied the
  // WAL into the database SQLite starts the WAL over and reuses its space,
  // as it would on a real full disk (this made the test flaky under load
  // when it expected the very next create_group to fail). So groups are
  // created until one is refused, and that refusal must be `unavailable`.
  json group_failed;
  for (int i = 0; i < 500; ++i) {
    group_failed = alice.request({{"op", "create_group"}, {"name", "g" + std::to_string(i)}});
    if (!group_failed.value("ok", false)) break;
  }
  EXPECT_EQ(code(group_failed), "unavailable") << group_failed.dump();

  // The server stays up: reads and requests that need no disk still work,
  // on this connection and on new ones.
  EXPECT_TRUE(alice.request({{"op", "ping"}}).value("ok", false));
  json friends = alice.request({{"op", "friends"}});
  ASSERT_TRUE(friends.value("ok", false)) << friends.dump();
  EXPECT_EQ(friends["friends"][0]["name"], "bob");
  json history = alice.request({{"op", "history"}, {"with", "bob"}, {"limit", 1}});
  EXPECT_TRUE(history.value("ok", false)) << history.dump();
  LineClient carol(server.port());
  EXPECT_TRUE(carol.request({{"op", "ping"}}).value("ok", false));

  // Space comes back: writes work again without a restart.
  setFileSizeLimit(server.pid(), RLIM_INFINITY);
  json again = send();
  ASSERT_TRUE(again.value("ok", false)) << again.dump();
  carol.registerUser("carol");
  EXPECT_TRUE(carol.login("carol").value("ok", false));

  // Nothing acknowledged was lost, before or after, even across a crash.
  server.kill9();
  server.start();
  LineClient bob(server.port());
  bob.login("bob");
  std::set<int64_t> got;
  while (got.size() < acked.size()) {
    auto m = bob.nextEventOf("message", 5s);
    if (!m) break;
    got.insert((*m)["id"].get<int64_t>());
  }
  EXPECT_EQ(got, acked);
  EXPECT_GT(acked.size(), 1u);
}

}  // namespace
}  // namespace parley::testing
