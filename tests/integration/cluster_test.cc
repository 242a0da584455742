// Cluster mode for real: a throwaway MariaDB and Redis, three parley-server
// nodes sharing them, and nginx (configured from deploy/nginx.conf) in front.
// Users on different nodes chat, nodes crash, Redis and the database go away
// and come back.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "child_process.h"
#include "line_client.h"
#include "server_process.h"
#include "service_instance.h"

namespace parley::testing {
namespace {

// Short, so a dead node is noticed within the test; not so short that a
// live node stalled by a loaded CI machine misses its heartbeats (a third of it).
constexpr int kPresenceTtlSeconds = 3;

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new MariaDbInstance();
    db_->start();
    redis_ = new RedisInstance();
    redis_->start();
  }
  static void TearDownTestSuite() {
    delete redis_;
    delete db_;
  }

  void SetUp() override {
    static int run = 0;
    prefix_ = "c" + std::to_string(run++) + "_";
    std::vector<uint16_t> ports;
    for (int i = 0; i < 3; ++i) {
      uint16_t port = freePort();
      ports.push_back(port);
      nodes_.push_back(std::make_unique<ServerProcess>(
          std::vector<std::string>{"--store", db_->url(), "--bus", redis_->url(), "--node-id",
                                   prefix_ + "node" + std::to_string(i + 1), "--presence-ttl",
                                   std::to_string(kPresenceTtlSeconds)},
          port));
      nodes_.back()->start();
    }
    nginx_ = std::make_unique<NginxInstance>(ports);
    nginx_->start();
  }
  void TearDown() override {
    nginx_.reset();
    nodes_.clear();
  }

  std::string n(const std::string& base) { return prefix_ + base; }
  // A logged-in user on node `i` (0-based), or through nginx when i < 0.
  std::unique_ptr<LineClient> user(const std::string& base, int node, bool register_first = true) {
    auto c = std::make_unique<LineClient>(node < 0 ? nginx_->port() : nodes_[node]->port());
    if (register_first) c->registerUser(n(base));
    c->login(n(base));
    return c;
  }
  static bool ok(const json& r) { return r.value("ok", false); }

  static inline MariaDbInstance* db_ = nullptr;
  static inline RedisInstance* redis_ = nullptr;
  std::string prefix_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::unique_ptr<NginxInstance> nginx_;
};

TEST_F(ClusterTest, UsersOnDifferentNodesChatDirectAndThroughNginx) {
  auto alice = user("alice", 0);
  auto bob = user("bob", 1);
  auto carol = user("carol", -1);  // wherever nginx puts her
  ASSERT_TRUE(ok(alice->request({{"op", "add_friend"}, {"user", n("bob")}})));
  ASSERT_TRUE(ok(carol->request({{"op", "add_friend"}, {"user", n("alice")}})));
  EXPECT_TRUE(bob->nextEventOf("friend_added"));
  EXPECT_TRUE(alice->nextEventOf("friend_added"));

  json sent = alice->request({{"op", "send"}, {"to", n("bob")}, {"text", "across nodes"}});
  ASSERT_TRUE(ok(sent));
  auto m = bob->nextEventOf("message");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["text"], "across nodes");
  EXPECT_EQ((*m)["id"], sent["message"]["id"]);
  ASSERT_TRUE(ok(bob->request({{"op", "send"}, {"to", n("alice")}, {"text", "and back"}})));
  auto back = alice->nextEventOf("message");
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)["text"], "and back");
  ASSERT_TRUE(ok(carol->request({{"op", "send"}, {"to", n("alice")}, {"text", "via nginx"}})));
  auto via = alice->nextEventOf("message");
  ASSERT_TRUE(via);
  EXPECT_EQ((*via)["text"], "via nginx");
  // Presence is cluster-wide: alice sees bob (another node) online.
  json friends = alice->request({{"op", "friends"}});
  for (const auto& f : friends["friends"]) EXPECT_EQ(f["online"], true) << f;
}

TEST_F(ClusterTest, GroupChatAcrossThreeNodes) {
  auto a = user("a", 0);
  auto b = user("b", 1);
  auto c = user("c", 2);
  ASSERT_TRUE(ok(a->request({{"op", "create_group"}, {"name", n("team")}})));
  ASSERT_TRUE(ok(b->request({{"op", "join_group"}, {"group", n("team")}})));
  ASSERT_TRUE(ok(c->request({{"op", "join_group"}, {"group", n("team")}})));
  ASSERT_TRUE(ok(b->request({{"op", "group_send"}, {"group", n("team")}, {"text", "hi all"}})));
  for (auto* x : {a.get(), c.get()}) {
    auto m = x->nextEventOf("group_message");
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["from"], n("b"));
    EXPECT_EQ((*m)["text"], "hi all");
  }
  EXPECT_FALSE(b->nextEventOf("group_message", 300ms));
}

TEST_F(ClusterTest, OfflineDeliveryAcrossNodes) {
  auto alice = user("alice", 0);
  {
    auto bob = user("bob", 1);
    alice->request({{"op", "add_friend"}, {"user", n("bob")}});
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        ok(alice->request({{"op", "send"}, {"to", n("bob")}, {"text", std::to_string(i)}})));
  }
  auto bob = user("bob", 2, /*register_first=*/false);
  for (int i = 0; i < 20; ++i) {
    auto m = bob->nextEventOf("message");
    ASSERT_TRUE(m) << i;
    EXPECT_EQ((*m)["text"], std::to_string(i));
    EXPECT_EQ((*m)["seq"], i + 1);
  }
}

TEST_F(ClusterTest, SameUserOnTwoNodesGetsEveryMessageOnBoth) {
  auto alice = user("alice", 0);
  auto bob1 = user("bob", 1);
  auto bob2 = user("bob", 2, /*register_first=*/false);
  alice->request({{"op", "add_friend"}, {"user", n("bob")}});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        ok(alice->request({{"op", "send"}, {"to", n("bob")}, {"text", std::to_string(i)}})));
  }
  for (auto* b : {bob1.get(), bob2.get()}) {
    for (int i = 0; i < 5; ++i) {
      auto m = b->nextEventOf("message");
      ASSERT_TRUE(m);
      EXPECT_EQ((*m)["text"], std::to_string(i));
    }
  }
}

TEST_F(ClusterTest, PresenceIsAnnouncedOncePerUserNotPerSession) {
  auto alice = user("alice", 0);
  auto bob = user("bob", 1);
  alice->request({{"op", "add_friend"}, {"user", n("bob")}});
  // Bob opens a second session on the same node: he was online already.
  auto bob2 = user("bob", 1, /*register_first=*/false);
  EXPECT_FALSE(alice->nextEventOf("presence", 1s).has_value())
      << "a second session announced bob online again";
  // Both end: now he is offline, announced once.
  bob.reset();
  bob2.reset();
  auto off = alice->nextEventOf("presence", 10s);
  ASSERT_TRUE(off);
  EXPECT_EQ((*off)["online"], false);
  auto bob3 = user("bob", 1, /*register_first=*/false);
  auto on = alice->nextEventOf("presence", 10s);
  ASSERT_TRUE(on);
  EXPECT_EQ((*on)["online"], true);
}

TEST_F(ClusterTest, NodeKilledUsersReconnectThroughNginxAndLoseNothing) {
  auto alice = user("alice", 0);
  auto bob = user("bob", 1);
  auto bob_login = std::make_unique<LineClient>(nodes_[1]->port());
  std::string bob_token = bob_login->login(n("bob"))["token"];
  alice->request({{"op", "add_friend"}, {"user", n("bob")}});
  std::set<int64_t> acked;
  for (int i = 0; i < 10; ++i) {
    json r =
        alice->request({{"op", "send"}, {"to", n("bob")}, {"text", "before " + std::to_string(i)}});
    ASSERT_TRUE(ok(r));
    acked.insert(r["message"]["id"].get<int64_t>());
  }
  nodes_[1]->kill9();  // bob's node dies without a goodbye
  bob.reset();
  bob_login.reset();
  for (int i = 0; i < 10; ++i) {
    json r =
        alice->request({{"op", "send"}, {"to", n("bob")}, {"text", "during " + std::to_string(i)}});
    ASSERT_TRUE(ok(r));
    acked.insert(r["message"]["id"].get<int64_t>());
  }
  // Alice sees bob go offline within the presence expiry (plus a heartbeat).
  auto off = alice->nextEventOf("presence", std::chrono::seconds(kPresenceTtlSeconds * 4));
  ASSERT_TRUE(off) << "bob stayed online after his node died";
  EXPECT_EQ((*off)["user"], n("bob"));
  EXPECT_EQ((*off)["online"], false);

  // Bob reconnects through nginx, which skips the dead node, and resumes.
  auto again = std::make_unique<LineClient>(nginx_->port());
  json resumed = again->request({{"op", "resume"}, {"token", bob_token}});
  ASSERT_TRUE(ok(resumed)) << resumed;
  std::set<int64_t> got;
  while (got.size() < acked.size()) {
    auto m = again->nextEventOf("message", 5s);
    if (!m) break;
    got.insert((*m)["id"].get<int64_t>());
  }
  EXPECT_EQ(got, acked) << "every acknowledged message reaches bob after the crash";
}

// The crash above, under load and from every side: parley-soak's pairs and a
// group (senders and recipients spread over the nodes by nginx) chat with
// pipelined sends while one node is killed and restarted and then another
// is killed for good. Connections on a dead node lose their in-flight sends'
// answers and the events Redis was carrying to them; they reconnect through
// nginx and log in again. Every acknowledged message must still reach each
// of its recipients exactly once per login, in seq order.
TEST_F(ClusterTest, NodesKilledUnderLoadLoseNothing) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kLoad = std::chrono::seconds(24);
  const std::string log = nodes_[0]->dir() + "/soak.log";
  ChildProcess soak;  // killed with the test, whatever happens to it
  soak.spawn({PARLEY_SOAK_BIN, "--port", std::to_string(nginx_->port()), "--prefix", n("soak_"),
              "--pairs", "12", "--groups", "1", "--group-size", "12", "--rate", "0", "--window",
              "8", "--duration", std::to_string(kLoad.count())},
             log);
  auto output = [&] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  // Connections that broke, so far (the soak says so for each).
  auto broken = [&] {
    std::string out = output();
    size_t count = 0;
    for (size_t at = 0; (at = out.find("; reconnecting", at)) != std::string::npos; ++at) ++count;
    return count;
  };
  auto deadline = Clock::now() + std::chrono::seconds(60);
  bool started = false;
  while (!started && Clock::now() < deadline && !soak.exited()) {
    started = output().find("load started") != std::string::npos;
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(started) << "the load never started:\n" << output();

  // The faults are timed from the start of the load, so a slow restart
  // delays the second kill but never moves it past the load's end unseen.
  const auto load_start = Clock::now();
  std::this_thread::sleep_until(load_start + std::chrono::seconds(3));
  nodes_[1]->kill9();
  std::this_thread::sleep_until(load_start + std::chrono::seconds(6));
  nodes_[1]->start();  // same port: nginx sends connections to it again
  std::this_thread::sleep_until(load_start + std::chrono::seconds(9));
  const size_t broken_by_first = broken();
  const auto second_kill = Clock::now() - load_start;
  nodes_[2]->kill9();  // and this one stays dead

  deadline = Clock::now() + kLoad + std::chrono::seconds(60);
  while (!soak.exited() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const bool finished = !soak.running();
  if (!finished) soak.kill9();
  const std::string out = output();
  std::printf("%s", out.c_str());  // the figures, for the test log
  ASSERT_TRUE(finished) << "parley-soak did not finish:\n" << out;
  EXPECT_LT(second_kill, kLoad - std::chrono::seconds(3)) << "the second kill missed the load";
  EXPECT_GT(broken_by_first, 0u) << "no connection was on the first node killed:\n" << out;
  EXPECT_GT(broken(), broken_by_first) << "none on the second:\n" << out;
  EXPECT_EQ(soak.exitStatus(), 0) << out;
  // The summary is the last line that starts with "{" (whatever follows it,
  // such as a sanitizer's report, is not part of it).
  size_t brace = out.rfind("\n{");
  ASSERT_NE(brace, std::string::npos) << out;
  json s =
      json::parse(out.substr(brace + 1, out.find('\n', brace + 1) - brace - 1), nullptr, false);
  ASSERT_TRUE(s.is_object()) << out;
  EXPECT_EQ(s.value("lost", -1), 0) << out;
  EXPECT_EQ(s.value("duplicated", -1), 0) << out;
  EXPECT_GT(s.value("acked", 0), 500) << "the load hardly ran:\n" << out;
}

TEST_F(ClusterTest, RedisStoppedAndRestarted) {
  auto alice = user("alice", 0);
  auto carol = user("carol", 0);  // same node as alice
  auto bob = user("bob", 1);
  alice->request({{"op", "add_friend"}, {"user", n("bob")}});
  alice->request({{"op", "add_friend"}, {"user", n("carol")}});
  redis_->stop();
  // Same-node delivery keeps working without Redis.
  ASSERT_TRUE(ok(alice->request({{"op", "send"}, {"to", n("carol")}, {"text", "local"}})));
  auto local = carol->nextEventOf("message");
  ASSERT_TRUE(local);
  EXPECT_EQ((*local)["text"], "local");
  // Cross-node messages are still stored and acknowledged...
  ASSERT_TRUE(ok(alice->request({{"op", "send"}, {"to", n("bob")}, {"text", "stored"}})));
  redis_->start();
  // ...and reach bob, still connected, once his node is back on Redis: it
  // tells its sessions to read their inboxes again (no login needed).
  auto m = bob->nextEventOf("message", 20s);
  ASSERT_TRUE(m) << "the message stored during the outage never reached bob";
  EXPECT_EQ((*m)["text"], "stored");
  bob->request({{"op", "ack"}, {"up_to", (*m)["seq"]}});
  // Live cross-node delivery resumes once the nodes have reconnected.
  bool delivered = false;
  for (int attempt = 0; attempt < 20 && !delivered; ++attempt) {
    ASSERT_TRUE(ok(alice->request({{"op", "send"}, {"to", n("bob")}, {"text", "live again"}})));
    delivered = bob->nextEventOf("message", 500ms).has_value();
  }
  EXPECT_TRUE(delivered) << "cross-node delivery did not recover after Redis came back";
}

TEST_F(ClusterTest, DatabaseStoppedAndRestarted) {
  auto alice = user("alice", 0);
  auto bob = user("bob", 1);
  alice->request({{"op", "add_friend"}, {"user", n("bob")}});
  db_->stop();
  json down = alice->request({{"op", "send"}, {"to", n("bob")}, {"text", "x"}}, 30s);
  EXPECT_EQ(down["error"]["code"], "unavailable") << down;
  EXPECT_TRUE(ok(alice->request({{"op", "ping"}}))) << "the node stays up";
  db_->start();
  json up = alice->request({{"op", "send"}, {"to", n("bob")}, {"text", "after restart"}});
  ASSERT_TRUE(ok(up)) << up;
  auto m = bob->nextEventOf("message");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["text"], "after restart");
}

}  // namespace
}  // namespace parley::testing
