#include <set>

#include "forwarding_store.h"
#include "service_harness.h"

namespace parley::testing {
namespace {

class ChatServiceTest : public ServiceHarness {
 protected:
  // The next message event the client got (skipping presence), if any.
  static std::optional<json> nextMessage(Client& c, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto e = c.sink->nextEvent(left);
      if (!e || (*e)["event"] == "message") return e;
    }
  }
  // The seqs of the messages `c` is replayed: waits for each of `expected`
  // as long as a loaded machine may need, then briefly for any more (kept,
  // so that a test sees one too many).
  static std::vector<int64_t> replayedSeqs(Client& c, size_t expected) {
    std::vector<int64_t> seqs;
    while (seqs.size() < expected) {
      auto m = nextMessage(c, std::chrono::seconds(5));
      if (!m) break;
      seqs.push_back((*m)["seq"]);
    }
    while (auto m = nextMessage(c, std::chrono::milliseconds(300))) seqs.push_back((*m)["seq"]);
    return seqs;
  }
};

TEST_F(ChatServiceTest, RegisterThenLogin) {
  Client c = newClient();
  json r = ok(c, R"({"op":"register","name":"alice","password":"password1","rid":1})");
  EXPECT_EQ(r["rid"], 1);
  EXPECT_EQ(r["user"]["name"], "alice");
  EXPECT_EQ(errorCode(c, R"({"op":"register","name":"ALICE","password":"password1"})"), "conflict");
  json login = ok(c, R"({"op":"login","name":"alice","password":"password1"})");
  EXPECT_EQ(login["user"]["id"], r["user"]["id"]);
  EXPECT_EQ(login["token"].get<std::string>().size(), 64u);
  EXPECT_TRUE(login["friends"].is_array());
  EXPECT_TRUE(login["groups"].is_array());
}

TEST_F(ChatServiceTest, WrongPasswordAndUnknownUserLookTheSame) {
  Client c = newClient();
  ok(c, R"({"op":"register","name":"alice","password":"password1"})");
  json wrong = call(c, R"({"op":"login","name":"alice","password":"password2"})");
  json unknown = call(c, R"({"op":"login","name":"nobody","password":"password1"})");
  EXPECT_EQ(wrong["error"]["code"], "unauthorized");
  EXPECT_EQ(wrong["error"], unknown["error"]);
}

TEST_F(ChatServiceTest, EverythingElseNeedsLogin) {
  Client c = newClient();
  for (const char* line :
       {R"({"op":"friends"})", R"({"op":"send","to":"bob","text":"x"})", R"({"op":"groups"})",
        R"({"op":"ack","up_to":1})", R"({"op":"logout"})"}) {
    EXPECT_EQ(errorCode(c, line), "unauthorized") << line;
  }
  ok(c, R"({"op":"ping"})");
}

TEST_F(ChatServiceTest, PasswordIsStoredAsArgon2id) {
  Client c = newClient();
  ok(c, R"({"op":"register","name":"alice","password":"password1"})");
  auto creds = store_->findCredentials("alice");
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->password_hash.rfind("$argon2id$", 0), 0u) << creds->password_hash;
  EXPECT_EQ(creds->password_hash.find("password1"), std::string::npos);
}

TEST_F(ChatServiceTest, FriendsChatWithSeqAndNoEcho) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  EXPECT_EQ(errorCode(alice, R"({"op":"send","to":"bob","text":"hi"})"), "forbidden");
  json added = ok(alice, R"({"op":"add_friend","user":"bob"})");
  EXPECT_EQ(added["friend"]["name"], "bob");
  EXPECT_EQ(added["friend"]["online"], true);
  auto ev = bob.sink->nextEvent();
  ASSERT_TRUE(ev);
  EXPECT_EQ((*ev)["event"], "friend_added");
  EXPECT_EQ((*ev)["friend"]["name"], "alice");
  EXPECT_EQ(errorCode(bob, R"({"op":"add_friend","user":"alice"})"), "conflict");

  json sent = ok(alice, R"({"op":"send","to":"bob","text":"hello","rid":"r"})");
  EXPECT_GT(sent["message"]["id"].get<int64_t>(), 0);
  auto msg = bob.sink->nextEvent();
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["event"], "message");
  EXPECT_EQ((*msg)["from"], "alice");
  EXPECT_EQ((*msg)["to"], "bob");
  EXPECT_EQ((*msg)["text"], "hello");
  EXPECT_EQ((*msg)["seq"], 1);
  EXPECT_EQ((*msg)["id"], sent["message"]["id"]);
  EXPECT_EQ((*msg)["ts"], sent["message"]["ts"]);
  // No echo to the sender (only presence/friend events may be there).
  while (auto e = alice.sink->nextEvent(std::chrono::milliseconds(200))) {
    EXPECT_NE((*e)["event"], "message");
  }
}

TEST_F(ChatServiceTest, OfflineMessagesArriveAfterLoginInOrderUntilAcked) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  befriend(alice, "bob");
  closeClient(bob);
  const int kCount = 40;  // more than two replay pages of 16
  for (int i = 0; i < kCount; ++i) {
    ok(alice, R"({"op":"send","to":"bob","text":"m)" + std::to_string(i) + R"("})");
  }
  Client bob2 = newClient();
  ok(bob2, R"({"op":"login","name":"bob","password":"password1"})");
  std::vector<json> got;
  while (auto e = bob2.sink->nextEvent(std::chrono::seconds(2))) {
    if ((*e)["event"] == "message") got.push_back(*e);
    if (got.size() == kCount) break;
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(got[i]["seq"], i + 1);
    EXPECT_EQ(got[i]["text"], "m" + std::to_string(i));
  }
  // Not acked: a new login gets them again. Acked up to 30: only 31..40.
  ok(bob2, R"({"op":"ack","up_to":30})");
  closeClient(bob2);
  Client bob3 = newClient();
  ok(bob3, R"({"op":"login","name":"bob","password":"password1"})");
  std::vector<int64_t> seqs = replayedSeqs(bob3, 10);
  ASSERT_EQ(seqs.size(), 10u);
  EXPECT_EQ(seqs.front(), 31);
  EXPECT_EQ(seqs.back(), 40);
}

TEST_F(ChatServiceTest, AckCannotRunAheadOfAssignedSeqs) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  befriend(alice, "bob");
  ok(bob, R"({"op":"ack","up_to":1000})");  // nothing assigned yet: clamped to 0
  closeClient(bob);
  ok(alice, R"({"op":"send","to":"bob","text":"after"})");
  Client bob2 = newClient();
  ok(bob2, R"({"op":"login","name":"bob","password":"password1"})");
  auto e = bob2.sink->nextEvent();
  while (e && (*e)["event"] != "message") e = bob2.sink->nextEvent();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["text"], "after");
}

TEST_F(ChatServiceTest, LiveAndReplayInterleaveWithoutGapsOrDuplicates) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  befriend(alice, "bob");
  closeClient(bob);
  for (int i = 0; i < 50; ++i) ok(alice, R"({"op":"send","to":"bob","text":"old"})");
  // Bob logs in while alice keeps sending: replay and live messages race.
  Client bob2 = newClient();
  std::thread sender([&] {
    for (int i = 0; i < 50; ++i) ok(alice, R"({"op":"send","to":"bob","text":"new"})");
  });
  ok(bob2, R"({"op":"login","name":"bob","password":"password1"})");
  sender.join();
  std::vector<int64_t> seqs;
  while (auto e = bob2.sink->nextEvent(std::chrono::seconds(2))) {
    if ((*e)["event"] == "message") seqs.push_back((*e)["seq"]);
    if (seqs.size() == 100) break;
  }
  ASSERT_EQ(seqs.size(), 100u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], static_cast<int64_t>(i + 1));
}

TEST_F(ChatServiceTest, SeqsThatJumpStillArriveLiveInOrderOnce) {
  // On the embedded store a seq is the message id, so bob's seqs jump over
  // the messages alice writes to carol. Each event names the seq before it
  // (prev), so the jumps are not mistaken for gaps, and a relogin after an
  // ack by such a seq replays exactly the rest.
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  Client carol = loggedIn("carol");
  befriend(alice, "bob");
  befriend(alice, "carol");
  for (int i = 0; i < 10; ++i) {
    ok(alice, R"({"op":"send","to":"bob","text":"b)" + std::to_string(i) + R"("})");
    ok(alice, R"({"op":"send","to":"carol","text":"c"})");
  }
  std::vector<int64_t> seqs;
  while (auto e = bob.sink->nextEvent(std::chrono::seconds(2))) {
    if ((*e)["event"] != "message") continue;
    EXPECT_EQ((*e)["text"], "b" + std::to_string(seqs.size()));
    seqs.push_back((*e)["seq"]);
    if (seqs.size() == 10) break;
  }
  ASSERT_EQ(seqs.size(), 10u);
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_GT(seqs[i], seqs[i - 1]);
  EXPECT_GT(seqs.back() - seqs.front(), 9) << "the seqs jump over carol's messages";
  int carols = 0;
  while (carols < 10) {
    auto e = carol.sink->nextEvent(std::chrono::seconds(2));
    ASSERT_TRUE(e);
    if ((*e)["event"] == "message") carols++;
  }
  EXPECT_EQ(metrics_.messages_out_replay.load(), 0u) << "no jump was taken for a gap";
  EXPECT_EQ(metrics_.messages_out_live.load(), 20u);
  while (auto e = bob.sink->nextEvent(std::chrono::milliseconds(300))) {
    EXPECT_NE((*e)["event"], "message") << "nothing twice: " << e->dump();
  }
  ok(bob, R"({"op":"ack","up_to":)" + std::to_string(seqs[6]) + "}");
  closeClient(bob);
  Client bob2 = newClient();
  ok(bob2, R"({"op":"login","name":"bob","password":"password1"})");
  std::vector<int64_t> replayed = replayedSeqs(bob2, 3);
  EXPECT_EQ(replayed, (std::vector<int64_t>{seqs[7], seqs[8], seqs[9]}));
}

TEST_F(ChatServiceTest, TwoDevicesBothReceive) {
  Client alice = loggedIn("alice");
  Client bob1 = loggedIn("bob");
  Client bob2 = newClient();
  ok(bob2, R"({"op":"login","name":"bob","password":"password1"})");
  befriend(alice, "bob");
  ok(alice, R"({"op":"send","to":"bob","text":"both"})");
  for (Client* c : {&bob1, &bob2}) {
    auto e = c->sink->nextEvent();
    while (e && (*e)["event"] != "message") e = c->sink->nextEvent();
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["text"], "both");
  }
  EXPECT_EQ(errorCode(bob1, R"({"op":"login","name":"bob","password":"password1"})"), "conflict");
}

TEST_F(ChatServiceTest, PresenceFollowsFirstAndLastSession) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  befriend(alice, "bob");
  while (bob.sink->nextEvent(std::chrono::milliseconds(100))) {
  }
  closeClient(alice);
  auto e = bob.sink->nextEvent();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["event"], "presence");
  EXPECT_EQ((*e)["user"], "alice");
  EXPECT_EQ((*e)["online"], false);
  json friends = ok(bob, R"({"op":"friends"})");
  EXPECT_EQ(friends["friends"][0]["online"], false);
  Client alice2 = newClient();
  ok(alice2, R"({"op":"login","name":"alice","password":"password1"})");
  e = bob.sink->nextEvent();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["online"], true);
}

// The client leaves while its login runs on the pool: the presence the login
// registered must be undone, whether the connection still exists when the
// login finishes (the session is marked closed) or was freed already (its
// sink refuses the post that would bring the result back).
class LeavingDuringLoginTest : public ChatServiceTest {
 protected:
  void leaveDuringLogin(bool connection_freed) {
    Client c = newClient();
    ok(c, R"({"op":"register","name":"alice","password":"password1"})");
    auto user = store_->findUser("alice");
    ASSERT_TRUE(user.ok());
    protocol::Parsed login =
        protocol::parseRequest(R"({"op":"login","name":"alice","password":"password1"})");
    std::promise<void> posted;
    auto session = c.session;
    auto sink = c.sink;
    boost::asio::post(loop_, [session, sink, connection_freed, request = *login.request, &posted] {
      sink->gone = connection_freed;
      session->handle(request, [](Result<protocol::Reply>) {});
      session->closed();  // the connection drops before the login finishes
      posted.set_value();
    });
    posted.get_future().wait();
    bool online = true;
    for (int i = 0; i < 100 && online; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      online = bus_->online({user->id}).value()[0];
    }
    EXPECT_FALSE(online) << "a login that finished after its client left must be undone";
  }
};

TEST_F(LeavingDuringLoginTest, WhileTheConnectionStillExists) {
  leaveDuringLogin(/*connection_freed=*/false);
}

TEST_F(LeavingDuringLoginTest, AfterTheConnectionWasFreed) {
  leaveDuringLogin(/*connection_freed=*/true);
}

// The SQLite store, whose inbox reads fail while `failing_reads` > 0.
class FlakyInboxStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::vector<Delivery>> inboxAfter(UserId user, Seq after_seq, int limit) override {
    if (failing_reads.fetch_sub(1) > 0) return Status::Unavailable("database blip (test)");
    return inner_->inboxAfter(user, after_seq, limit);
  }
  std::atomic<int> failing_reads{0};
};

class FlakyReplayTest : public ChatServiceTest {
 protected:
  StorePtr wrapStore(StorePtr store) override {
    auto flaky = std::make_unique<FlakyInboxStore>(std::move(store));
    flaky_ = flaky.get();
    return flaky;
  }
  FlakyInboxStore* flaky_ = nullptr;
};

TEST_F(FlakyReplayTest, AReplayThatFailsIsRetriedUntilTheMissedMessagesArrive) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  befriend(alice, "bob");
  closeClient(bob);
  for (int i = 1; i <= 3; ++i) {
    ok(alice, R"({"op":"send","to":"bob","text":"missed )" + std::to_string(i) + R"("})");
  }
  // The login succeeds; the replay after it fails twice, with nothing else
  // happening that would retry it.
  flaky_->failing_reads = 2;
  Client bob2 = newClient();
  ok(bob2, R"({"op":"login","name":"bob","password":"password1"})");
  for (int i = 1; i <= 3; ++i) {
    std::optional<json> e;
    do {
      e = bob2.sink->nextEvent(std::chrono::seconds(10));
      ASSERT_TRUE(e) << "missed message " << i << " never arrived";
    } while ((*e)["event"] != "message");
    EXPECT_EQ((*e)["text"], "missed " + std::to_string(i));
  }
  EXPECT_LE(flaky_->failing_reads.load(), 0);
}

// A LocalBus that drops every message event to one user, as a cluster bus
// does when its publish queue is full, and lets the test play the bus's
// "events were missed" callback.
class DroppingBus final : public Bus {
 public:
  void start(DeliverFn deliver, PresenceLostFn presence_lost, MissedFn missed) override {
    missed_ = missed;
    inner_.start(std::move(deliver), std::move(presence_lost), std::move(missed));
  }
  void stop() override { inner_.stop(); }
  void publish(Envelope envelope) override {
    if (envelope.seq != 0 && envelope.to == drop_to.load()) return;
    inner_.publish(std::move(envelope));
  }
  Result<bool> attach(UserId user) override { return inner_.attach(user); }
  Result<bool> detach(UserId user) override { return inner_.detach(user); }
  Result<std::vector<bool>> online(const std::vector<UserId>& users) override {
    return inner_.online(users);
  }
  std::atomic<UserId> drop_to{0};
  MissedFn missed_;

 private:
  LocalBus inner_;
};

// The SQLite store, whose next inbox read (when `hold_next` is set) reads
// and then waits for release() before answering: a replay whose answer is
// older than what happens meanwhile.
class SlowInboxStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<std::vector<Delivery>> inboxAfter(UserId user, Seq after_seq, int limit) override {
    auto page = inner_->inboxAfter(user, after_seq, limit);
    std::unique_lock<std::mutex> lock(mu_);
    if (hold_next_) {
      hold_next_ = false;
      held_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !held_; });
    }
    return page;
  }
  void holdNext() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_next_ = true;
  }
  bool waitHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [this] { return held_; });
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_next_ = false;
  bool held_ = false;
};

class DroppingBusTest : public ChatServiceTest {
 protected:
  StorePtr wrapStore(StorePtr store) override {
    auto slow = std::make_unique<SlowInboxStore>(std::move(store));
    slow_ = slow.get();
    return slow;
  }
  BusPtr makeBus() override {
    auto bus = std::make_unique<DroppingBus>();
    dropping_ = bus.get();
    return bus;
  }
  UserId idOf(const std::string& name) { return store_->findUser(name).value().id; }
  DroppingBus* dropping_ = nullptr;
  SlowInboxStore* slow_ = nullptr;
};

TEST_F(DroppingBusTest, AResyncOfOneUserBringsTheMessagesTheBusDropped) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  Client bob_elsewhere = newClient();  // a second session of bob's
  ok(bob_elsewhere, R"({"op":"login","name":"bob","password":"password1"})");
  befriend(alice, "bob");
  dropping_->drop_to = idOf("bob");
  ok(alice, R"({"op":"send","to":"bob","text":"dropped on the way"})");
  auto live = nextMessage(bob, std::chrono::milliseconds(300));
  ASSERT_FALSE(live) << "the bus was meant to drop it: " << live->dump();

  dropping_->missed_(idOf("bob"));
  for (Client* c : {&bob, &bob_elsewhere}) {
    auto e = nextMessage(*c, std::chrono::seconds(5));
    ASSERT_TRUE(e) << "the resync did not bring the dropped message";
    EXPECT_EQ((*e)["text"], "dropped on the way");
  }
}

TEST_F(DroppingBusTest, AResyncDuringAReplayThatReadTooEarlyReadsAgain) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  befriend(alice, "bob");
  dropping_->drop_to = idOf("bob");
  // A replay of bob's inbox reads it (nothing new) and is slow to answer...
  slow_->holdNext();
  dropping_->missed_(idOf("bob"));
  ASSERT_TRUE(slow_->waitHeld());
  // ...meanwhile a message to bob is stored, its event dropped, and the bus
  // asks for a resync while that replay is still in flight.
  ok(alice, R"({"op":"send","to":"bob","text":"sent during the replay"})");
  dropping_->missed_(idOf("bob"));
  slow_->release();
  auto e = nextMessage(bob, std::chrono::seconds(5));
  ASSERT_TRUE(e) << "the resync was swallowed by the replay already in flight";
  EXPECT_EQ((*e)["text"], "sent during the replay");
}

TEST_F(DroppingBusTest, AResyncOfEveryoneReachesEverySession) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  befriend(alice, "bob");
  dropping_->drop_to = idOf("bob");
  ok(alice, R"({"op":"send","to":"bob","text":"dropped on the way"})");
  dropping_->missed_(std::nullopt);
  auto e = nextMessage(bob, std::chrono::seconds(5));
  ASSERT_TRUE(e) << "the resync did not bring the dropped message";
  EXPECT_EQ((*e)["text"], "dropped on the way");
}

TEST_F(ChatServiceTest, GroupsAreForMembers) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  Client carol = loggedIn("carol");
  Client dave = loggedIn("dave");
  json g = ok(alice, R"({"op":"create_group","name":"devs","desc":"the devs"})");
  EXPECT_EQ(g["group"]["desc"], "the devs");
  EXPECT_EQ(errorCode(bob, R"({"op":"create_group","name":"DEVS"})"), "conflict");
  ok(bob, R"({"op":"join_group","group":"devs"})");
  ok(carol, R"({"op":"join_group","group":"devs"})");
  EXPECT_EQ(errorCode(carol, R"({"op":"join_group","group":"devs"})"), "conflict");
  EXPECT_EQ(errorCode(carol, R"({"op":"join_group","group":"nope"})"), "not_found");
  json members = ok(bob, R"({"op":"members","group":"devs"})");
  ASSERT_EQ(members["members"].size(), 3u);
  std::set<std::string> roles;
  for (auto& m : members["members"])
    roles.insert(m["name"].get<std::string>() + ":" + m["role"].get<std::string>());
  EXPECT_TRUE(roles.count("alice:owner"));
  EXPECT_TRUE(roles.count("bob:member"));
  EXPECT_EQ(errorCode(dave, R"({"op":"members","group":"devs"})"), "forbidden");
  EXPECT_EQ(errorCode(dave, R"({"op":"group_send","group":"devs","text":"x"})"), "forbidden");
  EXPECT_EQ(errorCode(dave, R"({"op":"history","group":"devs"})"), "forbidden");

  ok(alice, R"({"op":"group_send","group":"devs","text":"standup"})");
  for (Client* c : {&bob, &carol}) {
    auto e = c->sink->nextEvent();
    while (e && (*e)["event"] != "group_message") e = c->sink->nextEvent();
    ASSERT_TRUE(e);
    EXPECT_EQ((*e)["group"], "devs");
    EXPECT_EQ((*e)["from"], "alice");
    EXPECT_EQ((*e)["seq"], 1);
  }
  ok(carol, R"({"op":"leave_group","group":"devs"})");
  EXPECT_EQ(errorCode(carol, R"({"op":"leave_group","group":"devs"})"), "not_found");
  ok(alice, R"({"op":"group_send","group":"devs","text":"after carol left"})");
  EXPECT_FALSE(carol.sink->nextEvent(std::chrono::milliseconds(300)));
  json groups = ok(bob, R"({"op":"groups"})");
  ASSERT_EQ(groups["groups"].size(), 1u);
  json history = ok(bob, R"({"op":"history","group":"devs"})");
  ASSERT_EQ(history["messages"].size(), 2u);
  EXPECT_EQ(history["messages"][1]["text"], "after carol left");
}

TEST_F(ChatServiceTest, HistoryPagesNewestLast) {
  Client alice = loggedIn("alice");
  loggedIn("bob");
  befriend(alice, "bob");
  std::vector<int64_t> ids;
  for (int i = 0; i < 10; ++i) {
    json r = ok(alice, R"({"op":"send","to":"bob","text":"h)" + std::to_string(i) + R"("})");
    ids.push_back(r["message"]["id"]);
  }
  json last3 = ok(alice, R"({"op":"history","with":"bob","limit":3})");
  ASSERT_EQ(last3["messages"].size(), 3u);
  EXPECT_EQ(last3["messages"][0]["text"], "h7");
  EXPECT_EQ(last3["messages"][2]["text"], "h9");
  json before = ok(
      alice, R"({"op":"history","with":"bob","limit":3,"before":)" + std::to_string(ids[7]) + "}");
  ASSERT_EQ(before["messages"].size(), 3u);
  EXPECT_EQ(before["messages"][0]["text"], "h4");
  EXPECT_EQ(before["messages"][2]["text"], "h6");
}

TEST_F(ChatServiceTest, ResumeAndLogout) {
  Client c = newClient();
  ok(c, R"({"op":"register","name":"alice","password":"password1"})");
  json login = ok(c, R"({"op":"login","name":"alice","password":"password1"})");
  std::string token = login["token"];
  closeClient(c);
  Client c2 = newClient();
  json resumed = ok(c2, R"({"op":"resume","token":")" + token + R"("})");
  EXPECT_EQ(resumed["user"]["name"], "alice");
  // A resume keeps the token it presented, and logout revokes it.
  std::string token2 = resumed["token"];
  EXPECT_EQ(token2, token);
  ok(c2, R"({"op":"logout"})");
  EXPECT_EQ(errorCode(c2, R"({"op":"friends"})"), "unauthorized");
  Client c3 = newClient();
  EXPECT_EQ(errorCode(c3, R"({"op":"resume","token":")" + token2 + R"("})"), "unauthorized");
  EXPECT_EQ(errorCode(c3, R"({"op":"resume","token":"deadbeef"})"), "unauthorized");
}

TEST_F(ChatServiceTest, SqlLookingTextIsStoredVerbatim) {
  Client alice = loggedIn("alice");
  Client bob = loggedIn("bob");
  befriend(alice, "bob");
  const std::string text = "'); DROP TABLE users; -- \\\" %s \\u0000";
  ok(alice, json{{"op", "send"}, {"to", "bob"}, {"text", text}}.dump());
  json h = ok(bob, R"({"op":"history","with":"alice"})");
  EXPECT_EQ(h["messages"][0]["text"], text);
}

}  // namespace
}  // namespace parley::testing
