// RedisBus against a real (throwaway) Redis: two buses stand for two nodes.
// What is tested here is what a cluster of servers cannot show on demand: a
// publisher that has to drop events (its queue full) must still get them to
// the recipient's node, as a resync of that user's sessions.
#include "bus/redis_bus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "service_instance.h"

namespace parley::testing {
namespace {

using namespace std::chrono_literals;

// What a node's bus called back with.
class Recorder {
 public:
  Bus::DeliverFn deliverFn() {
    return [this](std::span<const Envelope> envelopes) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const Envelope& e : envelopes) delivered_.push_back(*e.line);
      cv_.notify_all();
    };
  }
  Bus::MissedFn missedFn() {
    return [this](std::optional<UserId> user) {
      std::lock_guard<std::mutex> lock(mu_);
      missed_.push_back(user);
      cv_.notify_all();
    };
  }
  bool waitDelivered(const std::string& line, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return std::find(delivered_.begin(), delivered_.end(), line) != delivered_.end();
    });
  }
  // The first resync at or after position `from` of the record.
  std::optional<std::optional<UserId>> waitMissed(size_t from = 0,
                                                  std::chrono::milliseconds timeout = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return missed_.size() > from; })) return std::nullopt;
    return missed_[from];
  }
  std::vector<std::optional<UserId>> missed() {
    std::lock_guard<std::mutex> lock(mu_);
    return missed_;
  }
  std::vector<std::string> delivered() {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> delivered_;
  std::vector<std::optional<UserId>> missed_;
};

class RedisBusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis_ = new RedisInstance();
    redis_->start();
  }
  static void TearDownTestSuite() { delete redis_; }

  std::unique_ptr<RedisBus> node(const std::string& name, Recorder& recorder,
                                 size_t max_queued = 100000, size_t max_missed = 100000,
                                 std::chrono::milliseconds presence_ttl = 15s) {
    RedisBusOptions o;
    o.port = redis_->port();
    o.node_id = name + std::to_string(run_);
    o.max_queued_publishes = max_queued;
    o.max_missed_users = max_missed;
    o.presence_ttl = presence_ttl;
    // Generous: an attach waits for its SUBSCRIBE at most this long, and a
    // loaded (or sanitized) CI machine must not make that look like a loss.
    o.io_timeout = 5s;
    o.heartbeat_interval = std::min<std::chrono::milliseconds>(presence_ttl / 3, 5s);
    auto bus = std::make_unique<RedisBus>(o);
    bus->start(
        recorder.deliverFn(), [](UserId) {}, recorder.missedFn());
    return bus;
  }
  static Envelope message(UserId to, Seq seq, const std::string& line) {
    return Envelope{to, seq, seq - 1, makeLine(line)};
  }
  // Waits until `receiver` hears `user`'s channel: `sender` publishes probes
  // until one arrives (SUBSCRIBE runs on the receiver's own thread).
  static void awaitSubscribed(RedisBus& sender, Recorder& receiver, UserId user) {
    for (int i = 0; i < 50; ++i) {
      std::string probe = "probe " + std::to_string(user) + " " + std::to_string(i);
      sender.publish(Envelope{user, 0, 0, makeLine(probe)});
      if (receiver.waitDelivered(probe, 100ms)) return;
    }
    FAIL() << "the receiving bus never subscribed to user " << user;
  }

  // `threads` logins at once on `receiver`, each of a user of its own
  // followed at once by an event to it from `sender`; every event must
  // arrive (users 1000 and up).
  static void expectEventsRightAfterAttachArrive(RedisBus& sender, RedisBus& receiver,
                                                 Recorder& received, int threads, int users_each) {
    std::vector<std::thread> logins;
    for (int t = 0; t < threads; ++t) {
      logins.emplace_back([&, t] {
        for (int i = 0; i < users_each; ++i) {
          UserId user = 1000 + t * users_each + i;
          if (!receiver.attach(user).ok()) continue;
          sender.publish(message(user, 1, "hello " + std::to_string(user)));
        }
      });
    }
    for (auto& t : logins) t.join();
    for (UserId user = 1000; user < 1000 + threads * users_each; ++user) {
      std::string line = "hello " + std::to_string(user);
      ASSERT_TRUE(received.waitDelivered(line)) << line << ": published right after attach, lost";
    }
  }

  void SetUp() override { ++run_; }
  // Whatever a test did to the shared Redis's ACL, the next test gets it
  // back as it was.
  void TearDown() override {
    std::string cmd = "redis-cli -p " + std::to_string(redis_->port()) +
                      " ACL SETUSER default +publish >/dev/null 2>&1";
    (void)!std::system(cmd.c_str());
  }
  static void redisCli(const std::string& args) {
    std::string cmd =
        "redis-cli -p " + std::to_string(redis_->port()) + " " + args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  static inline RedisInstance* redis_ = nullptr;
  static inline int run_ = 0;
};

TEST_F(RedisBusTest, AnEventPublishedRightAfterAttachReachesTheNodeHoldingTheUser) {
  Recorder a_got, b_got;
  auto a = node("a", a_got);
  auto b = node("b", b_got);
  // attach() returns once the user's channel is live: the login's inbox
  // read comes next, and an event published after it must not fall between
  // the read and the SUBSCRIBE. So the very first publish arrives.
  // Many logins at once, as on a busy node: the subscriber thread has a
  // queue of SUBSCRIBEs to work through while the attaches return.
  expectEventsRightAfterAttachArrive(*a, *b, b_got, /*threads=*/8, /*users_each=*/250);
  EXPECT_TRUE(b_got.missed().empty());
  EXPECT_EQ(a->droppedPublishes(), 0u);
}

TEST_F(RedisBusTest, AttachStillWaitsForItsChannelWhileOtherUsersComeAndGo) {
  // Logouts interleaved with the logins: rounds of the subscriber thread
  // that both SUBSCRIBE and UNSUBSCRIBE must not confirm a later round
  // early.
  Recorder a_got, b_got;
  auto a = node("a", a_got);
  auto b = node("b", b_got);
  std::atomic<bool> done{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < 3; ++t) {
    churn.emplace_back([&, t] {
      for (UserId user = 50000 + t * 100000; !done; ++user) {
        (void)b->attach(user);
        (void)b->detach(user);
      }
    });
  }
  expectEventsRightAfterAttachArrive(*a, *b, b_got, /*threads=*/4, /*users_each=*/250);
  done = true;
  for (auto& t : churn) t.join();
}

TEST_F(RedisBusTest, AMessageDroppedByAFullQueueMakesTheRecipientsNodeResyncThatUser) {
  Recorder probe_got, full_got, b_got;
  auto probe = node("probe", probe_got);
  auto full = node("full", full_got, /*max_queued=*/0);  // every publish is dropped
  auto b = node("b", b_got);
  ASSERT_TRUE(full->attach(7).ok());  // 7 has a session on the publishing node too
  ASSERT_TRUE(b->attach(7).ok());
  ASSERT_TRUE(b->attach(8).ok());
  awaitSubscribed(*probe, b_got, 7);
  awaitSubscribed(*probe, b_got, 8);

  // A presence event dropped needs no resync (nothing of it is in the
  // inbox); a message does.
  full->publish(Envelope{8, 0, 0, makeLine("presence")});
  full->publish(message(7, 1, "dropped"));
  auto missed = b_got.waitMissed();
  ASSERT_TRUE(missed) << "the recipient's node was never told to read the inbox again";
  EXPECT_EQ(*missed, std::optional<UserId>(7));
  EXPECT_EQ(full->droppedPublishes(), 2u);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(b_got.missed().size(), 1u) << "one resync for one user, none for the presence";
  for (const std::string& line : b_got.delivered()) EXPECT_NE(line, "dropped");
  // The publishing node delivered in-process (its queue is only for Redis)
  // and ignores its own resync, which it hears on 7's channel too.
  auto local = full_got.delivered();
  EXPECT_NE(std::find(local.begin(), local.end(), "dropped"), local.end());
  EXPECT_TRUE(full_got.missed().empty());
}

TEST_F(RedisBusTest, PublishesRedisRefusesAreResyncedOnceItTakesThemAgain) {
  Recorder a_got, b_got;
  auto a = node("a", a_got);
  auto b = node("b", b_got);
  ASSERT_TRUE(b->attach(7).ok());
  awaitSubscribed(*a, b_got, 7);
  // Redis answers PUBLISH with an error (-NOPERM) on a live connection.
  size_t before = b_got.missed().size();  // (a login before b's subscriber was up)
  redisCli("ACL SETUSER default -publish");
  a->publish(message(7, 1, "refused"));
  // Until a's publisher has been refused, +publish below could come first.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (a->droppedPublishes() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GE(a->droppedPublishes(), 1u);
  EXPECT_FALSE(b_got.waitMissed(before, 10ms)) << "nothing can reach b while PUBLISH is refused";
  redisCli("ACL SETUSER default +publish");
  auto missed = b_got.waitMissed(before, 10s);
  ASSERT_TRUE(missed) << "the refused message's recipient was never resynced";
  EXPECT_EQ(*missed, std::optional<UserId>(7));
  EXPECT_GE(a->droppedPublishes(), 1u);
  for (const std::string& line : b_got.delivered()) EXPECT_NE(line, "refused");
}

TEST_F(RedisBusTest, ALoginWhileRedisIsDownIsResyncedOnceItsChannelIsLive) {
  // The node starts, and a user logs in, while Redis is down: the attach
  // fails at once (no wait for a subscription that cannot come), and once
  // Redis is back and the channel live, the user's sessions read the inbox
  // (a message may have been published to nobody before that).
  redis_->stop();
  Recorder b_got;
  auto b = node("b", b_got);
  auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(b->attach(7).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s) << "a login held during the outage";
  redis_->start();
  auto missed = b_got.waitMissed(0, 15s);
  ASSERT_TRUE(missed) << "the user who logged in during the outage was never resynced";
  EXPECT_EQ(*missed, std::optional<UserId>(7));
}

TEST_F(RedisBusTest, ANodeThatDiesMakesEverySurvivingSessionResync) {
  // What a node had stored but not yet published when it died is only in
  // the store: the survivor that reaps it resyncs everyone, itself too.
  Recorder b_got, c_got, dead_got;
  auto b = node("b", b_got, 100000, 100000, /*presence_ttl=*/600ms);
  auto c = node("c", c_got, 100000, 100000, 600ms);
  auto dead = node("dead", dead_got, 100000, 100000, 600ms);
  ASSERT_TRUE(b->attach(7).ok());
  ASSERT_TRUE(c->attach(8).ok());
  ASSERT_TRUE(dead->attach(9).ok());
  dead->simulateCrashForTest();
  for (Recorder* r : {&b_got, &c_got}) {
    auto missed = r->waitMissed(0, 10s);
    ASSERT_TRUE(missed) << "a surviving node was not resynced after a node died";
    EXPECT_EQ(*missed, std::nullopt);
  }
}

TEST_F(RedisBusTest, TooManyDroppedRecipientsToTrackResyncEveryNode) {
  Recorder probe_got, full_got, b_got, c_got;
  auto probe = node("probe", probe_got);
  auto full = node("full", full_got, /*max_queued=*/0, /*max_missed=*/0);
  auto b = node("b", b_got);
  auto c = node("c", c_got);
  ASSERT_TRUE(b->attach(7).ok());
  awaitSubscribed(*probe, b_got, 7);  // b's subscriber is up, so is its resync channel
  ASSERT_TRUE(c->attach(9).ok());
  awaitSubscribed(*probe, c_got, 9);

  full->publish(message(7, 1, "dropped"));
  for (Recorder* r : {&b_got, &c_got}) {
    auto missed = r->waitMissed();
    ASSERT_TRUE(missed) << "a node was not told to resync";
    EXPECT_EQ(*missed, std::nullopt) << "every session of every node resyncs";
  }
}

}  // namespace
}  // namespace parley::testing
