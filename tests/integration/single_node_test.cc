// The real parley-server binary, driven over TCP on loopback.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <set>
#include <thread>

#include "line_client.h"
#include "server_process.h"

namespace parley::testing {
namespace {

class SingleNodeTest : public ::testing::Test {
 protected:
  // Most tests pipeline far more messages than a person could type: they
  // run without message rate limits (RateLimitTest covers those).
  void SetUp() override { start(kUnlimited); }
  static inline const std::vector<std::string> kUnlimited = {"--rate-per-connection", "0",
                                                             "--rate-per-user", "0"};
  void start(std::vector<std::string> args) {
    server_ = std::make_unique<ServerProcess>(std::move(args));
    server_->start();
  }
  std::unique_ptr<LineClient> client() { return std::make_unique<LineClient>(server_->port()); }
  std::unique_ptr<LineClient> user(const std::string& name) {
    auto c = client();
    c->registerUser(name);
    c->login(name);
    return c;
  }
  static std::string code(const json& r) {
    return r.contains("error") ? r["error"].value("code", "") : "(ok)";
  }
  // Two fresh users can still become friends and chat: the server is fine.
  void expectServerStillServes() {
    static int n = 0;
    std::string a = "check_a" + std::to_string(n), b = "check_b" + std::to_string(n++);
    auto ca = user(a);
    auto cb = user(b);
    EXPECT_TRUE(ca->request({{"op", "add_friend"}, {"user", b}})["ok"].get<bool>());
    EXPECT_TRUE(ca->request({{"op", "send"}, {"to", b}, {"text", "still up"}})["ok"].get<bool>());
    auto m = cb->nextEventOf("message");
    ASSERT_TRUE(m) << "server stopped delivering";
    EXPECT_EQ((*m)["text"], "still up");
  }
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(SingleNodeTest, ProtocolExampleFromTheContract) {
  auto c = client();
  c->sendLine(R"({"op":"register","name":"alice","password":"correct horse"})");
  auto r = c->readLine();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, json::parse(R"({"ok":true,"user":{"id":1,"name":"alice"}})"));
  c->sendLine(R"({"op":"login","name":"alice","password":"correct horse","rid":1})");
  r = c->readLine();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["rid"], 1);
  EXPECT_EQ((*r)["user"], json::parse(R"({"id":1,"name":"alice"})"));
  EXPECT_EQ((*r)["friends"], json::array());
  EXPECT_EQ((*r)["groups"], json::array());
  c->registerUser("bob");
  c->sendLine(R"({"op":"send","to":"bob","text":"hi"})");
  r = c->readLine();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r,
            json::parse(
                R"({"ok":false,"error":{"code":"forbidden","message":"bob is not your friend"}})"));
}

TEST_F(SingleNodeTest, FriendsChatBothWays) {
  auto alice = user("alice");
  auto bob = user("bob");
  json added = alice->request({{"op", "add_friend"}, {"user", "bob"}});
  ASSERT_TRUE(added["ok"].get<bool>()) << added;
  EXPECT_EQ(added["friend"]["online"], true);
  auto fa = bob->nextEventOf("friend_added");
  ASSERT_TRUE(fa);
  EXPECT_EQ((*fa)["friend"]["name"], "alice");

  json sent = alice->request({{"op", "send"}, {"to", "bob"}, {"text", "hello bob"}});
  ASSERT_TRUE(sent["ok"].get<bool>());
  auto m = bob->nextEventOf("message");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["id"], sent["message"]["id"]);
  EXPECT_EQ((*m)["ts"], sent["message"]["ts"]);
  EXPECT_EQ((*m)["from"], "alice");
  EXPECT_EQ((*m)["to"], "bob");
  EXPECT_EQ((*m)["text"], "hello bob");
  EXPECT_EQ((*m)["seq"], 1);

  ASSERT_TRUE(
      bob->request({{"op", "send"}, {"to", "alice"}, {"text", "hi alice"}})["ok"].get<bool>());
  auto back = alice->nextEventOf("message");
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)["text"], "hi alice");
  // No echo of bob's own message to bob.
  EXPECT_FALSE(bob->nextEventOf("message", 300ms));
}

TEST_F(SingleNodeTest, OfflineDeliveryAfterReloginInOrderAndAckSemantics) {
  auto alice = user("alice");
  {
    auto bob = user("bob");
    alice->request({{"op", "add_friend"}, {"user", "bob"}});
  }  // bob disconnects
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(
        alice->request({{"op", "send"}, {"to", "bob"}, {"text", "m" + std::to_string(i)}})["ok"]
            .get<bool>());
  }
  int64_t last_seq = 0;
  {
    auto bob = client();
    bob->sendLine(R"({"op":"login","name":"bob","password":"password1","rid":"L"})");
    auto first = bob->readLine();
    ASSERT_TRUE(first);
    EXPECT_EQ((*first)["rid"], "L") << "the login response comes before the backlog";
    for (int i = 1; i <= 5; ++i) {
      auto m = bob->nextEventOf("message");
      ASSERT_TRUE(m) << i;
      EXPECT_EQ((*m)["text"], "m" + std::to_string(i));
      EXPECT_GT((*m)["seq"].get<int64_t>(), last_seq);
      last_seq = (*m)["seq"];
    }
  }  // no ack: they come again
  {
    auto bob = client();
    bob->login("bob");
    // Waits for each as long as a loaded machine may need, then briefly
    // for one too many.
    std::vector<std::string> texts;
    while (texts.size() < 5) {
      auto m = bob->nextEventOf("message", 5s);
      if (!m) break;
      texts.push_back((*m)["text"]);
    }
    EXPECT_EQ(texts.size(), 5u);
    EXPECT_FALSE(bob->nextEventOf("message", 300ms)) << "five, not more";
    bob->request({{"op", "ack"}, {"up_to", last_seq}});
  }
  auto bob = client();
  bob->login("bob");
  EXPECT_FALSE(bob->nextEventOf("message", 500ms)) << "acked messages must not come back";
}

TEST_F(SingleNodeTest, LargeBacklogReplaysCompletelyInOrder) {
  auto alice = user("alice");
  {
    auto bob = user("bob");
    alice->request({{"op", "add_friend"}, {"user", "bob"}});
  }
  const int kCount = 1500;
  std::string batch;
  for (int i = 0; i < kCount; ++i) {
    batch +=
        json{{"op", "send"}, {"to", "bob"}, {"text", "b" + std::to_string(i)}, {"rid", i}}.dump() +
        "\n";
  }
  alice->sendRaw(batch);  // pipelined: answered in order
  for (int i = 0; i < kCount; ++i) {
    auto r = alice->readLine(10s);
    ASSERT_TRUE(r);
    if (r->contains("event")) {
      --i;
      continue;
    }
    ASSERT_EQ((*r)["rid"], i);
    ASSERT_TRUE((*r)["ok"].get<bool>());
  }
  auto bob = client();
  bob->login("bob");
  for (int i = 0; i < kCount; ++i) {
    auto m = bob->nextEventOf("message", 10s);
    ASSERT_TRUE(m) << "missing message " << i;
    ASSERT_EQ((*m)["seq"], i + 1);
    ASSERT_EQ((*m)["text"], "b" + std::to_string(i));
  }
}

TEST_F(SingleNodeTest, GroupChatWithThreeMembers) {
  auto alice = user("alice");
  auto bob = user("bob");
  auto carol = user("carol");
  auto dave = user("dave");
  ASSERT_TRUE(
      alice->request({{"op", "create_group"}, {"name", "devs"}, {"desc", "d"}})["ok"].get<bool>());
  ASSERT_TRUE(bob->request({{"op", "join_group"}, {"group", "devs"}})["ok"].get<bool>());
  ASSERT_TRUE(carol->request({{"op", "join_group"}, {"group", "devs"}})["ok"].get<bool>());
  json members = carol->request({{"op", "members"}, {"group", "devs"}});
  EXPECT_EQ(members["members"].size(), 3u);
  json gs = bob->request({{"op", "groups"}});
  ASSERT_EQ(gs["groups"].size(), 1u);
  EXPECT_EQ(gs["groups"][0]["name"], "devs");

  json sent = alice->request({{"op", "group_send"}, {"group", "devs"}, {"text", "standup"}});
  ASSERT_TRUE(sent["ok"].get<bool>());
  for (auto* c : {bob.get(), carol.get()}) {
    auto m = c->nextEventOf("group_message");
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["id"], sent["message"]["id"]);
    EXPECT_EQ((*m)["group"], "devs");
    EXPECT_EQ((*m)["from"], "alice");
    EXPECT_EQ((*m)["text"], "standup");
  }
  EXPECT_FALSE(alice->nextEventOf("group_message", 300ms)) << "no echo to the sender";
  EXPECT_FALSE(dave->nextEventOf("group_message", 300ms)) << "non-members get nothing";
  EXPECT_EQ(code(dave->request({{"op", "group_send"}, {"group", "devs"}, {"text", "x"}})),
            "forbidden");
  EXPECT_EQ(code(dave->request({{"op", "members"}, {"group", "devs"}})), "forbidden");
  EXPECT_EQ(code(dave->request({{"op", "history"}, {"group", "devs"}})), "forbidden");

  ASSERT_TRUE(carol->request({{"op", "leave_group"}, {"group", "devs"}})["ok"].get<bool>());
  alice->request({{"op", "group_send"}, {"group", "devs"}, {"text", "after"}});
  EXPECT_TRUE(bob->nextEventOf("group_message"));
  EXPECT_FALSE(carol->nextEventOf("group_message", 300ms));
  json h = bob->request({{"op", "history"}, {"group", "devs"}, {"limit", 1}});
  ASSERT_EQ(h["messages"].size(), 1u);
  EXPECT_EQ(h["messages"][0]["text"], "after");
}

TEST_F(SingleNodeTest, EveryErrorCodeAndTheServerKeepsServing) {
  auto c = client();
  struct Case {
    std::string line;
    std::string code;
  };
  std::vector<Case> before_login = {
      {"{not json", "bad_request"},
      {"[1,2,3]", "bad_request"},
      {"\"just a string\"", "bad_request"},
      {R"({"op":"teleport"})", "bad_request"},
      {R"({"op":"register","name":"x"})", "bad_request"},
      {R"({"op":"register","name":5,"password":"password1"})", "bad_request"},
      {R"({"op":"register","name":"this_name_is_far_too_long_for_parley","password":"password1"})",
       "bad_request"},
      {R"({"op":"friends"})", "unauthorized"},
      {R"({"op":"login","name":"ghost","password":"password1"})", "unauthorized"},
  };
  for (const auto& k : before_login) {
    c->sendLine(k.line);
    auto r = c->readLine();
    ASSERT_TRUE(r) << k.line;
    EXPECT_EQ(code(*r), k.code) << k.line << " -> " << r->dump();
  }
  c->registerUser("alice");
  EXPECT_EQ(code(c->request({{"op", "register"}, {"name", "ALICE"}, {"password", "password1"}})),
            "conflict");
  c->login("alice");
  c->request({{"op", "create_group"}, {"name", "g"}});
  auto b = user("bob");
  std::vector<std::pair<json, std::string>> after_login = {
      {{{"op", "send"}, {"to", "bob"}, {"text", "x"}}, "forbidden"},
      {{{"op", "send"}, {"to", "nobody"}, {"text", "x"}}, "not_found"},
      {{{"op", "send"}, {"to", "bob"}, {"text", std::string(4097, 'x')}}, "bad_request"},
      {{{"op", "history"}, {"with", "bob"}, {"limit", 0}}, "bad_request"},
      {{{"op", "join_group"}, {"group", "nope"}}, "not_found"},
      {{{"op", "join_group"}, {"group", "g"}}, "conflict"},
      {{{"op", "add_friend"}, {"user", "nobody"}}, "not_found"},
      {{{"op", "login"}, {"name", "alice"}, {"password", "password1"}}, "conflict"},
  };
  for (const auto& [req, want] : after_login) {
    EXPECT_EQ(code(c->request(req)), want) << req.dump();
  }
  c->request({{"op", "add_friend"}, {"user", "bob"}});
  EXPECT_EQ(code(c->request({{"op", "add_friend"}, {"user", "bob"}})), "conflict");
  expectServerStillServes();
}

TEST_F(SingleNodeTest, RidIsEchoedVerbatim) {
  auto c = client();
  c->sendLine(R"({"op":"ping","rid":42})");
  EXPECT_EQ((*c->readLine())["rid"], 42);
  c->sendLine(R"({"op":"ping","rid":"abc"})");
  EXPECT_EQ((*c->readLine())["rid"], "abc");
  c->sendLine(R"({"op":"friends","rid":"e1"})");
  auto e = c->readLine();
  EXPECT_EQ((*e)["rid"], "e1");
  EXPECT_EQ((*e)["ok"], false);
  c->sendLine(R"({"op":"ping"})");
  EXPECT_FALSE(c->readLine()->contains("rid"));
}

TEST_F(SingleNodeTest, PipelinedRequestsAreAnsweredInOrder) {
  auto c = user("alice");
  std::string batch;
  for (int i = 0; i < 200; ++i) {
    // A mix of fast (ping, bad input) and store-bound (friends) requests.
    if (i % 3 == 0)
      batch += R"({"op":"friends","rid":)" + std::to_string(i) + "}\n";
    else if (i % 3 == 1)
      batch += R"({"op":"ping","rid":)" + std::to_string(i) + "}\n";
    else
      batch += R"({"op":"bogus","rid":)" + std::to_string(i) + "}\n";
  }
  c->sendRaw(batch);
  for (int i = 0; i < 200; ++i) {
    auto r = c->readLine();
    ASSERT_TRUE(r);
    if (r->contains("event")) {
      --i;
      continue;
    }
    ASSERT_EQ((*r)["rid"], i);
  }
}

// Sends, acks and pings are pipelined (several started before the first is
// stored); anything else waits for them and holds back what follows. A
// client must not be able to tell: replies come in request order, each
// request sees the effects of every request before it, and messages are
// stored and delivered in the order they were sent.
TEST_F(SingleNodeTest, PipelinedSendsKeepTheirOrderAroundOtherRequests) {
  auto alice = user("alice");
  auto bob = user("bob");
  auto carol = user("carol");
  ASSERT_EQ(alice->request({{"op", "add_friend"}, {"user", "bob"}})["ok"], true);
  std::vector<json> batch;
  auto to_bob = [&](int i) {
    batch.push_back({{"op", "send"}, {"to", "bob"}, {"text", "m" + std::to_string(i)}});
  };
  // The first run is longer than the 128 sends a connection may have in
  // flight: the rest wait for room, in order.
  constexpr int kFirstRun = 150;
  constexpr int kTotal = kFirstRun + 80;
  for (int i = 0; i < kFirstRun; ++i) to_bob(i);
  // Needs the sends before it stored, and the send after it needs it.
  batch.push_back({{"op", "history"}, {"with", "bob"}, {"limit", 200}});
  batch.push_back({{"op", "add_friend"}, {"user", "carol"}});
  batch.push_back({{"op", "send"}, {"to", "carol"}, {"text", "first to carol"}});
  for (int i = kFirstRun; i < kFirstRun + 40; ++i) to_bob(i);
  batch.push_back({{"op", "ping"}});
  batch.push_back({{"op", "create_group"}, {"name", "crew"}});
  batch.push_back({{"op", "group_send"}, {"group", "crew"}, {"text", "g0"}});
  for (int i = kFirstRun + 40; i < kTotal; ++i) to_bob(i);
  batch.push_back({{"op", "history"}, {"with", "bob"}, {"limit", 200}});
  std::string bytes;
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]["rid"] = static_cast<int64_t>(i);
    bytes += batch[i].dump() + "\n";
  }
  alice->sendRaw(bytes);

  std::vector<json> replies;
  while (replies.size() < batch.size()) {
    auto r = alice->readLine(10s);
    ASSERT_TRUE(r) << "missing replies after " << replies.size();
    if (r->contains("event")) continue;
    ASSERT_EQ((*r)["rid"], static_cast<int64_t>(replies.size())) << r->dump();
    EXPECT_EQ((*r)["ok"], true) << batch[replies.size()].dump() << " -> " << r->dump();
    replies.push_back(*r);
  }
  // Message ids follow the order the sends were made in.
  int64_t last_id = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!replies[i].contains("message")) continue;
    int64_t id = replies[i]["message"]["id"].get<int64_t>();
    EXPECT_GT(id, last_id) << "request " << i;
    last_id = id;
  }
  // Each history saw exactly the sends before it, in order.
  auto texts = [](const json& history) {
    std::vector<std::string> out;
    for (const auto& m : history["messages"]) out.push_back(m["text"]);
    return out;
  };
  auto expected = [](int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back("m" + std::to_string(i));
    return out;
  };
  EXPECT_EQ(texts(replies[kFirstRun]), expected(0, kFirstRun));
  EXPECT_EQ(texts(replies.back()), expected(kTotal - 200, kTotal)) << "the 200 newest";
  // Bob got them live in order, carol got hers.
  for (int i = 0; i < kTotal; ++i) {
    auto m = bob->nextEventOf("message");
    ASSERT_TRUE(m) << "bob is missing m" << i;
    EXPECT_EQ((*m)["text"], "m" + std::to_string(i));
  }
  auto c = carol->nextEventOf("message");
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)["text"], "first to carol");
}

TEST_F(SingleNodeTest, TwoDevicesOfOneUserBothReceive) {
  auto alice = user("alice");
  auto bob1 = user("bob");
  auto bob2 = client();
  bob2->login("bob");
  alice->request({{"op", "add_friend"}, {"user", "bob"}});
  alice->request({{"op", "send"}, {"to", "bob"}, {"text", "to every device"}});
  for (auto* b : {bob1.get(), bob2.get()}) {
    auto m = b->nextEventOf("message");
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["text"], "to every device");
  }
}

TEST_F(SingleNodeTest, PresenceOnLoginAndDisconnect) {
  auto alice = user("alice");
  {
    auto bob = user("bob");
    alice->request({{"op", "add_friend"}, {"user", "bob"}});
  }
  auto off = alice->nextEventOf("presence");
  ASSERT_TRUE(off);
  EXPECT_EQ((*off)["user"], "bob");
  EXPECT_EQ((*off)["online"], false);
  auto bob = client();
  bob->login("bob");
  auto on = alice->nextEventOf("presence");
  ASSERT_TRUE(on);
  EXPECT_EQ((*on)["online"], true);
}

TEST_F(SingleNodeTest, NamesAndTextsAreStoredVerbatim) {
  auto alice = user("alice");
  auto bob = user("Robert_Tables");
  alice->request({{"op", "add_friend"}, {"user", "robert_tables"}});  // case-insensitive
  const std::string nasty = "Robert'); DROP TABLE users;-- \"quoted\" \\ 😀";
  alice->request({{"op", "send"}, {"to", "ROBERT_TABLES"}, {"text", nasty}});
  auto m = bob->nextEventOf("message");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["text"], nasty);
  EXPECT_EQ((*m)["to"], "Robert_Tables");
  json h = bob->request({{"op", "history"}, {"with", "alice"}});
  EXPECT_EQ(h["messages"][0]["text"], nasty);
}

TEST_F(SingleNodeTest, ResumeTokenWorksUntilLogout) {
  auto c = client();
  c->registerUser("alice");
  std::string token = c->login("alice")["token"];
  c->close();
  auto c2 = client();
  json r = c2->request({{"op", "resume"}, {"token", token}});
  ASSERT_TRUE(r["ok"].get<bool>()) << r;
  std::string token2 = r["token"];
  ASSERT_TRUE(c2->request({{"op", "logout"}})["ok"].get<bool>());
  EXPECT_EQ(code(c2->request({{"op", "friends"}})), "unauthorized");
  EXPECT_EQ(code(c2->request({{"op", "resume"}, {"token", token2}})), "unauthorized");
}

TEST_F(SingleNodeTest, ServerShutsDownGracefullyOnSigterm) {
  auto alice = user("alice");
  int status = -2;
  std::thread stopper([&] { status = server_->stop(); });
  auto e = alice->nextEventOf("shutdown", 10s);
  stopper.join();
  ASSERT_TRUE(e);
  EXPECT_TRUE(alice->closedByPeer());
  EXPECT_EQ(status, 0);
}

TEST_F(SingleNodeTest, ShutdownAnswersTheRequestInFlightBeforeClosing) {
  auto alice = user("alice");
  {
    auto bob = user("bob");
    alice->request({{"op", "add_friend"}, {"user", "bob"}});
  }
  std::string batch;
  for (int i = 0; i < 2000; ++i) {
    batch +=
        json{{"op", "send"}, {"to", "bob"}, {"text", "s" + std::to_string(i)}, {"rid", i}}.dump() +
        "\n";
  }
  alice->sendRaw(batch);
  std::set<int64_t> acked;
  int next_rid = 0, unavailable = 0;
  auto first = alice->readLine();
  while (first && first->contains("event")) first = alice->readLine();  // bob's presence
  ASSERT_TRUE(first && (*first)["rid"] == 0 && (*first)["ok"] == true);
  acked.insert((*first)["message"]["id"].get<int64_t>());
  ++next_rid;
  int status = -2;
  std::thread stopper([&] { status = server_->stop(); });
  bool goodbye = false;
  while (auto r = alice->readLine(10s)) {
    if (r->contains("event")) {
      goodbye = (*r)["event"] == "shutdown";
      if (goodbye) break;
      continue;
    }
    // Answers keep request order, with no gap: a request is either
    // answered in turn or (not read before the close) never started.
    ASSERT_EQ((*r)["rid"], next_rid) << r->dump();
    ++next_rid;
    if ((*r)["ok"] == true) {
      EXPECT_EQ(unavailable, 0) << "once requests are refused, none is executed";
      acked.insert((*r)["message"]["id"].get<int64_t>());
    } else {
      EXPECT_EQ(code(*r), "unavailable") << r->dump();
      ++unavailable;
    }
  }
  stopper.join();
  EXPECT_TRUE(goodbye);
  EXPECT_TRUE(alice->closedByPeer());
  EXPECT_EQ(status, 0);
  // Nothing was stored without its sender hearing "ok": what bob gets after
  // a restart is exactly what alice was told is stored.
  server_->start();
  auto bob = client();
  bob->login("bob");
  std::set<int64_t> got;
  while (auto m = bob->nextEventOf("message", 2s)) got.insert((*m)["id"].get<int64_t>());
  EXPECT_EQ(got, acked);
}

TEST_F(SingleNodeTest, AcknowledgedMessagesSurviveKill9) {
  auto alice = user("alice");
  {
    auto bob = user("bob");
    alice->request({{"op", "add_friend"}, {"user", "bob"}});
  }
  std::set<int64_t> acked;
  for (int i = 0; i < 200; ++i) {
    json r = alice->request({{"op", "send"}, {"to", "bob"}, {"text", "d" + std::to_string(i)}});
    ASSERT_TRUE(r["ok"].get<bool>());
    acked.insert(r["message"]["id"].get<int64_t>());
  }
  server_->kill9();
  server_->start();  // same data directory
  auto bob = std::make_unique<LineClient>(server_->port());
  bob->login("bob");
  std::set<int64_t> got;
  while (got.size() < acked.size()) {
    auto m = bob->nextEventOf("message", 5s);
    if (!m) break;
    got.insert((*m)["id"].get<int64_t>());
  }
  EXPECT_EQ(got, acked) << "every acknowledged message is delivered after a crash";
}

class LimitsTest : public SingleNodeTest {
 protected:
  void SetUp() override {
    auto args = kUnlimited;
    args.insert(args.end(),
                {"--max-line", "1024", "--max-queued-bytes", "65536", "--idle-timeout", "2"});
    start(args);
  }
};

TEST_F(LimitsTest, LineOverTheLimitGetsTooLargeThenClose) {
  auto c = client();
  c->sendLine(R"({"op":"ping","pad":")" + std::string(2000, 'x') + "\"}");
  auto r = c->readLine();
  ASSERT_TRUE(r);
  EXPECT_EQ(code(*r), "too_large");
  EXPECT_TRUE(c->closedByPeer());
  expectServerStillServes();
}

TEST_F(LimitsTest, AnOversizedLineIsAnsweredAfterThePipelinedRequestsBeforeIt) {
  auto alice = user("alice");
  auto bob = user("bob");
  alice->request({{"op", "add_friend"}, {"user", "bob"}});
  std::string batch;
  for (int rid = 1; rid <= 20; ++rid) {
    batch += json{{"op", "send"}, {"to", "bob"}, {"text", "m"}, {"rid", rid}}.dump() + "\n";
  }
  batch += R"({"op":"ping","pad":")" + std::string(2000, 'x') + "\"}\n";
  batch += json{{"op", "send"}, {"to", "bob"}, {"text", "after"}, {"rid", 99}}.dump() + "\n";
  alice->sendRaw(batch);
  // Each send before it is answered, in order; then its too_large; then
  // the close. Nothing after it is read.
  for (int rid = 1; rid <= 20; ++rid) {
    auto r = alice->readLine();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["rid"], rid) << r->dump();
    EXPECT_EQ((*r)["ok"], true) << r->dump();
  }
  auto r = alice->readLine();
  ASSERT_TRUE(r);
  EXPECT_EQ(code(*r), "too_large") << r->dump();
  EXPECT_TRUE(alice->closedByPeer());
  for (int i = 0; i < 20; ++i) {
    auto e = bob->readLine();
    ASSERT_TRUE(e);
    if ((*e)["event"] != "message") {  // friend_added, presence
      --i;
      continue;
    }
    EXPECT_EQ((*e)["text"], "m") << e->dump();
  }
  expectServerStillServes();
}

TEST_F(LimitsTest, ReaderThatNeverReadsIsCutOffOthersKeepChatting) {
  auto alice = user("alice");
  auto sink = user("sink");
  alice->request({{"op", "add_friend"}, {"user", "sink"}});
  // `sink` never reads again; alice floods it. The server must cut it off
  // instead of buffering without bound.
  std::string text(900, 'f');
  std::string batch;
  for (int i = 0; i < 400; ++i) {
    batch += json{{"op", "send"}, {"to", "sink"}, {"text", text}}.dump() + "\n";
  }
  alice->sendRaw(batch);
  for (int i = 0; i < 400; ++i) {
    auto r = alice->readLine(10s);
    ASSERT_TRUE(r);
    if (r->contains("event")) {
      --i;
      continue;
    }
    ASSERT_TRUE((*r)["ok"].get<bool>()) << r->dump();
  }
  EXPECT_TRUE(sink->closedByPeer(10s));
  expectServerStillServes();
}

TEST_F(LimitsTest, IdleConnectionIsClosedPingKeepsAnotherAlive) {
  auto idle = client();
  auto busy = client();
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(500ms);
    EXPECT_TRUE(busy->request({{"op", "ping"}})["ok"].get<bool>());
  }
  EXPECT_TRUE(idle->closedByPeer(3s));
  EXPECT_FALSE(busy->closedByPeer(100ms));
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

class RateLimitTest : public SingleNodeTest {
 protected:
  void SetUp() override {
    start({"--rate-per-connection", "5", "--rate-per-user", "100", "--login-failures-per-minute",
           "3", "--max-group-size", "2", "--max-friends", "1"});
  }
};

TEST_F(RateLimitTest, FloodingOneConnectionGetsRateLimited) {
  auto alice = user("alice");
  auto bob = user("bob");
  alice->request({{"op", "add_friend"}, {"user", "bob"}});
  int ok_count = 0, limited = 0;
  for (int i = 0; i < 40; ++i) {
    json r = alice->request({{"op", "send"}, {"to", "bob"}, {"text", "x"}});
    if (r.value("ok", false)) ok_count++;
    if (code(r) == "rate_limited") limited++;
  }
  EXPECT_GE(ok_count, 10);  // the burst (2 x 5/s) went through
  EXPECT_GT(limited, 0);
  // Other connections are not affected.
  EXPECT_TRUE(bob->request({{"op", "send"}, {"to", "alice"}, {"text", "fine"}})["ok"].get<bool>());
}

TEST_F(RateLimitTest, RepeatedFailedLoginsAreSlowedDown) {
  auto c = client();
  c->registerUser("alice");
  std::vector<std::string> codes;
  for (int i = 0; i < 6; ++i) {
    codes.push_back(
        code(c->request({{"op", "login"}, {"name", "alice"}, {"password", "wrongpass"}})));
  }
  EXPECT_EQ(codes[0], "unauthorized");
  EXPECT_EQ(codes.back(), "rate_limited");
  // Even the right password waits now: that is what stops guessing.
  EXPECT_EQ(code(c->request({{"op", "login"}, {"name", "ALICE"}, {"password", "password1"}})),
            "rate_limited");
  // Another name is not affected.
  c->registerUser("bob");
  EXPECT_TRUE(c->login("bob")["ok"].get<bool>());
}

TEST_F(RateLimitTest, GroupSizeAndFriendLimits) {
  auto a = user("a");
  auto b = user("b");
  auto c = user("c");
  a->request({{"op", "create_group"}, {"name", "tiny"}});
  EXPECT_TRUE(b->request({{"op", "join_group"}, {"group", "tiny"}})["ok"].get<bool>());
  EXPECT_EQ(code(c->request({{"op", "join_group"}, {"group", "tiny"}})), "forbidden");
  EXPECT_EQ(code(b->request({{"op", "join_group"}, {"group", "tiny"}})), "conflict")
      << "a member of a full group is told it is already in, not that the group is full";
  EXPECT_TRUE(a->request({{"op", "add_friend"}, {"user", "b"}})["ok"].get<bool>());
  auto mine = a->request({{"op", "add_friend"}, {"user", "c"}});
  EXPECT_EQ(code(mine), "forbidden");
  EXPECT_EQ(mine["error"].value("message", ""), "you have reached the limit of 1 friends");
  auto theirs = c->request({{"op", "add_friend"}, {"user", "b"}});
  EXPECT_EQ(code(theirs), "forbidden") << "b is at the limit too";
  EXPECT_EQ(theirs["error"].value("message", ""), "b has reached the limit of 1 friends");
}

TEST_F(SingleNodeTest, RequestsCannotActAsSomeoneElse) {
  // There is no field that names the sender: a "from" in the request is
  // ignored and the message is from the logged-in user.
  auto alice = user("alice");
  auto bob = user("bob");
  auto mallory = user("mallory");
  alice->request({{"op", "add_friend"}, {"user", "bob"}});
  mallory->request({{"op", "add_friend"}, {"user", "bob"}});
  ASSERT_TRUE(mallory
                  ->request({{"op", "send"},
                             {"to", "bob"},
                             {"from", "alice"},
                             {"user", "alice"},
                             {"text", "it is me, alice"}})["ok"]
                  .get<bool>());
  auto m = bob->nextEventOf("message");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["from"], "mallory");
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

class ConnectionLimitTest : public SingleNodeTest {
 protected:
  void SetUp() override { start({"--max-connections", "4", "--max-connections-per-address", "3"}); }
};

TEST_F(ConnectionLimitTest, ConnectionsPastTheLimitAreRefusedWithAnError) {
  std::vector<std::unique_ptr<LineClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(client());
    EXPECT_TRUE(held.back()->request({{"op", "ping"}})["ok"].get<bool>());
  }
  auto fourth = client();  // same address (127.0.0.1): over the per-address limit
  auto r = fourth->readLine();
  ASSERT_TRUE(r);
  EXPECT_EQ(code(*r), "unavailable");
  EXPECT_TRUE(fourth->closedByPeer());
  // From another loopback address it is the global limit (4) that counts.
  auto other = std::make_unique<LineClient>(server_->port(), "127.0.0.1", "127.0.0.2");
  EXPECT_TRUE(other->request({{"op", "ping"}})["ok"].get<bool>());
  auto fifth = std::make_unique<LineClient>(server_->port(), "127.0.0.1", "127.0.0.3");
  auto r5 = fifth->readLine();
  ASSERT_TRUE(r5);
  EXPECT_EQ(code(*r5), "unavailable");
  // Closing one frees its place.
  held.pop_back();
  // The server sees that close in its own time (a loaded machine can take
  // a while); until then a newcomer is refused ("unavailable" instead of
  // the pong), so it retries for up to 10 s.
  bool served = false;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    auto c = client();
    c->sendLine(R"({"op":"ping","rid":1})");
    auto first = c->readLine(5s);
    ASSERT_TRUE(first) << "no answer, not even a refusal";
    served = first->value("ok", false);
    if (!served) {
      EXPECT_EQ(code(*first), "unavailable") << first->dump();
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_TRUE(served) << "the freed place was never given out";
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

class HandshakeLimitsTest : public SingleNodeTest {
 protected:
  void SetUp() override {
    auto args = kUnlimited;
    args.insert(args.end(), {"--handshake-timeout", "4", "--max-line-before-login", "512"});
    start(args);
  }
};

TEST_F(HandshakeLimitsTest, ConnectionThatNeverLogsInIsClosedWhateverItSends) {
  auto alice = user("alice");  // logged in: no deadline
  auto lurker = client();      // keeps talking, never logs in (slowloris)
  bool closed = false;
  for (int i = 0; i < 50 && !closed; ++i) {
    lurker->sendLine(R"({"op":"ping"})");
    closed = lurker->closedByPeer(200ms);
  }
  EXPECT_TRUE(closed) << "pings must not extend the login deadline";
  EXPECT_TRUE(alice->request({{"op", "ping"}})["ok"].get<bool>());
  // Logging out starts a new deadline on the same connection.
  ASSERT_TRUE(alice->request({{"op", "logout"}})["ok"].get<bool>());
  EXPECT_TRUE(alice->closedByPeer(10s));
}

TEST_F(HandshakeLimitsTest, LongLinesAreOnlyAcceptedAfterLogin) {
  auto alice = user("alice");
  auto bob = user("bob");
  alice->request({{"op", "add_friend"}, {"user", "bob"}});
  const std::string long_text(1000, 'l');
  EXPECT_TRUE(
      alice->request({{"op", "send"}, {"to", "bob"}, {"text", long_text}})["ok"].get<bool>());
  auto stranger = client();
  stranger->sendLine(json{{"op", "ping"}, {"pad", long_text}}.dump());
  auto r = stranger->readLine();
  ASSERT_TRUE(r);
  EXPECT_EQ(code(*r), "too_large");
  EXPECT_NE((*r)["error"]["message"].get<std::string>().find("before login"), std::string::npos)
      << r->dump();
  EXPECT_TRUE(stranger->closedByPeer());
  expectServerStillServes();
}

}  // namespace
}  // namespace parley::testing
