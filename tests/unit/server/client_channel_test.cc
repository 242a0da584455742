// ClientChannel against a real ChatService and SQLite store, through a
// transport that records what it is told, with a store in front that can
// hold the appends back: so a test sees exactly which sends the channel has
// started, which wait, and in what order the answers leave.
#include "server/client_channel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "forwarding_store.h"
#include "server/connection_tracker.h"
#include "service_harness.h"

namespace parley::testing {
namespace {

// The SQLite store, except that while closed it keeps each direct append
// (and its completion) instead of starting it, and that it reports itself
// backlogged when told to.
class GatedStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  // Starts every append it kept, in arrival order, then opens the gate. An
  // append that arrives while the kept ones are being started (the channel
  // widens its window as the first answers come back) is kept behind them:
  // opening first let it overtake the backlog, which the real store never
  // does to one sender's appends.
  void open() {
    for (;;) {
      std::vector<std::function<void()>> kept;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (kept_.empty()) {
          closed_ = false;
          return;
        }
        kept.swap(kept_);
      }
      for (auto& append : kept) append();
    }
  }
  size_t kept() {
    std::lock_guard<std::mutex> lock(mu_);
    return kept_.size();
  }
  void setBacklogged(bool b) { backlogged_ = b; }

  void appendDirectAsync(UserId from, UserId to, std::string text, TimestampMs ts,
                         AppendDone done) override {
    auto append = [this, from, to, text = std::move(text), ts, done = std::move(done)]() mutable {
      inner_->appendDirectAsync(from, to, std::move(text), ts, std::move(done));
    };
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        kept_.push_back(std::move(append));
        return;
      }
    }
    append();
  }
  bool backlogged() const override { return backlogged_; }

 private:
  std::mutex mu_;
  bool closed_ = false;                      // guarded by mu_
  std::vector<std::function<void()>> kept_;  // guarded by mu_
  std::atomic<bool> backlogged_{false};
};

// A transport that records the frames sent and the flow-control calls.
class RecordingTransport final : public net::Transport {
 public:
  explicit RecordingTransport(boost::asio::io_context& loop) : loop_(loop) {}

  void send(std::string frame) override {
    std::lock_guard<std::mutex> lock(mu_);
    frames_.push_back(std::move(frame));
    cv_.notify_all();
  }
  void post(std::function<void()> fn) override { boost::asio::post(loop_, std::move(fn)); }
  void postAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    net::runAfter(loop_.get_executor(), delay, std::move(fn));
  }
  const void* loopKey() const override { return &loop_; }
  void close() override { closed = true; }
  void pauseReading() override { paused = true; }
  void resumeReading() override { paused = false; }
  size_t queuedBytes() const override { return 0; }
  void whenDrained(std::function<void()> fn) override { post(std::move(fn)); }
  std::string peerAddress() const override { return "127.0.0.1"; }
  void setAuthenticated(bool a) override { authenticated = a; }
  size_t maxLineBytes() const override { return authenticated ? 65536 : 4096; }

  // Waits (up to 10 s) until `n` frames have come and takes them.
  std::vector<json> take(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [&] { return frames_.size() >= n; })) {
      ADD_FAILURE() << "waited for " << n << " frames, have " << frames_.size();
    }
    std::vector<json> out;
    for (size_t i = 0; i < n && i < frames_.size(); ++i) out.push_back(json::parse(frames_[i]));
    frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(out.size()));
    return out;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_.size();
  }

  // Loop thread only (the channel calls them there; tests read them after
  // a round trip through the loop).
  bool paused = false;
  bool authenticated = false;
  std::atomic<bool> closed{false};

 private:
  boost::asio::io_context& loop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> frames_;
};

std::string sendLine(int rid) {
  return R"({"op":"send","to":"bob","text":"m)" + std::to_string(rid) + R"(","rid":)" +
         std::to_string(rid) + "}";
}

class ClientChannelTest : public ServiceHarness {
 protected:
  StorePtr wrapStore(StorePtr store) override {
    auto gated = std::make_unique<GatedStore>(std::move(store));
    gate_ = gated.get();
    return gated;
  }

  void SetUp() override {
    ServiceHarness::SetUp();
    bob_ = loggedIn("bob");
    transport_ = std::make_shared<RecordingTransport>(loop_);
    onLoop([this] { channel_ = server::ClientChannel::create(*service_, transport_, tracker_); });
    // Alice logs in on the channel and befriends bob; one send warms the
    // service's caches, so the sends below start on the loop, as in a run.
    feed({R"({"op":"register","name":"alice","password":"password1"})",
          R"({"op":"login","name":"alice","password":"password1"})",
          R"({"op":"add_friend","user":"bob"})", sendLine(0)});
    for (const json& reply : transport_->take(4)) {
      ASSERT_EQ(reply.value("ok", false), true) << reply.dump();
    }
    ASSERT_TRUE(bob_.sink->nextEvent().has_value());  // friend_added
    ASSERT_TRUE(bob_.sink->nextEvent().has_value());  // m0
  }

  void TearDown() override {
    gate_->open();  // nothing kept past a failed test
    onLoop([this] {
      if (channel_) channel_->onClose();
      channel_.reset();
    });
    ServiceHarness::TearDown();
  }

  // Runs `fn` on the loop and waits for it.
  void onLoop(std::function<void()> fn) {
    std::promise<void> done;
    boost::asio::post(loop_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  // Hands the lines to the channel as the connection would, one by one.
  void feed(const std::vector<std::string>& lines) {
    onLoop([&] {
      for (const std::string& line : lines) channel_->onLine(line);
    });
  }
  void feedSends(int first, int last) {
    std::vector<std::string> lines;
    for (int rid = first; rid <= last; ++rid) lines.push_back(sendLine(rid));
    feed(lines);
  }

  // The rids of `replies`, asserting each is ok.
  static std::vector<int> okRids(const std::vector<json>& replies) {
    std::vector<int> rids;
    for (const json& r : replies) {
      EXPECT_EQ(r.value("ok", false), true) << r.dump();
      rids.push_back(r.value("rid", -1));
    }
    return rids;
  }
  static std::vector<int> range(int first, int last) {
    std::vector<int> v;
    for (int i = first; i <= last; ++i) v.push_back(i);
    return v;
  }

  GatedStore* gate_ = nullptr;
  Client bob_;
  server::ConnectionTracker tracker_;
  std::shared_ptr<RecordingTransport> transport_;
  std::shared_ptr<server::ClientChannel> channel_;
};

TEST_F(ClientChannelTest, SendsPipelineUpToTheWindowAndAreAnsweredInOrder) {
  gate_->close();
  feedSends(1, 160);
  // Starting a send is synchronous on the loop: when feed returns, every
  // send the window allows has reached the store, and no more.
  EXPECT_EQ(gate_->kept(), 128u);
  EXPECT_EQ(transport_->count(), 0u);
  gate_->open();
  EXPECT_EQ(okRids(transport_->take(160)), range(1, 160));
  for (int rid = 1; rid <= 160; ++rid) {
    auto event = bob_.sink->nextEvent();
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ((*event)["text"], "m" + std::to_string(rid));
  }
}

TEST_F(ClientChannelTest, ABackloggedStoreNarrowsTheWindowAndAnswersStillWakeTheChannel) {
  gate_->setBacklogged(true);
  gate_->close();
  feedSends(1, 100);
  EXPECT_EQ(gate_->kept(), 32u);
  // Still backlogged when the store catches up: the channel is woken by
  // its own answers, 32 at a time, not by the store's state.
  gate_->open();
  EXPECT_EQ(okRids(transport_->take(100)), range(1, 100));
}

TEST_F(ClientChannelTest, ARequestThatCannotPipelineWaitsForTheSendsBeforeIt) {
  gate_->close();
  feed({sendLine(1), sendLine(2), sendLine(3), R"({"op":"history","with":"bob","rid":4})",
        sendLine(5)});
  // `history` waits for the three sends; the send after it waits for it.
  EXPECT_EQ(gate_->kept(), 3u);
  gate_->open();
  std::vector<json> replies = transport_->take(5);
  EXPECT_EQ(okRids(replies), range(1, 5));
  // So it saw all three, and not the one after it.
  std::vector<std::string> texts;
  for (const json& m : replies[3]["messages"]) texts.push_back(m["text"]);
  EXPECT_EQ(texts, (std::vector<std::string>{"m0", "m1", "m2", "m3"}));
}

TEST_F(ClientChannelTest, BadInputIsAnsweredInItsPlace) {
  gate_->close();
  feed({sendLine(1), "this is not json", R"({"op":"no_such_op","rid":3})", sendLine(4)});
  EXPECT_EQ(gate_->kept(), 2u);
  EXPECT_EQ(transport_->count(), 0u);  // the errors wait for the send before them
  gate_->open();
  std::vector<json> replies = transport_->take(4);
  EXPECT_EQ(replies[0]["rid"], 1);
  EXPECT_EQ(replies[1]["error"]["code"], "bad_request");
  EXPECT_EQ(replies[2]["rid"], 3);
  EXPECT_EQ(replies[2]["error"]["code"], "bad_request");
  EXPECT_EQ(replies[3]["rid"], 4);
  EXPECT_EQ(replies[3]["ok"], true);
}

TEST_F(ClientChannelTest, AFloodStopsTheReadingUntilItDrains) {
  gate_->close();
  feedSends(1, 128 + 64);  // a full window and 64 lines waiting behind it
  EXPECT_EQ(gate_->kept(), 128u);
  bool paused = false;
  onLoop([&] { paused = transport_->paused; });
  EXPECT_TRUE(paused);
  gate_->open();
  EXPECT_EQ(okRids(transport_->take(192)), range(1, 192));
  onLoop([&] { paused = transport_->paused; });
  EXPECT_FALSE(paused);
}

TEST_F(ClientChannelTest, ShutdownAnswersTheRunningRequestsAndRefusesTheWaitingOnes) {
  gate_->close();
  feedSends(1, 130);
  EXPECT_EQ(gate_->kept(), 128u);
  channel_->shutdown();
  onLoop([] {});  // the shutdown runs on the loop
  EXPECT_EQ(transport_->count(), 0u);
  EXPECT_FALSE(transport_->closed);
  gate_->open();
  std::vector<json> replies = transport_->take(131);
  EXPECT_EQ(okRids(std::vector<json>(replies.begin(), replies.begin() + 128)), range(1, 128));
  EXPECT_EQ(replies[128]["rid"], 129);
  EXPECT_EQ(replies[128]["error"]["code"], "unavailable");
  EXPECT_EQ(replies[129]["rid"], 130);
  EXPECT_EQ(replies[129]["error"]["code"], "unavailable");
  EXPECT_EQ(replies[130]["event"], "shutdown");
  onLoop([] {});  // the close follows the goodbye on the loop
  EXPECT_TRUE(transport_->closed);
}

TEST_F(ClientChannelTest, AnOversizedLineIsAnsweredAfterTheLinesBeforeItThenCloses) {
  gate_->close();
  gate_->setBacklogged(true);
  feedSends(1, 40);  // 32 running and 8 waiting behind the backlog's window
  EXPECT_EQ(gate_->kept(), 32u);
  onLoop([this] { channel_->onOversizedLine(); });
  // Its answer waits for theirs; the connection stays open for them.
  EXPECT_EQ(transport_->count(), 0u);
  EXPECT_FALSE(transport_->closed);
  gate_->setBacklogged(false);
  gate_->open();
  std::vector<json> replies = transport_->take(41);
  EXPECT_EQ(okRids(std::vector<json>(replies.begin(), replies.begin() + 40)), range(1, 40));
  EXPECT_EQ(replies[40]["error"]["code"], "too_large");
  EXPECT_NE(replies[40]["error"]["message"].get<std::string>().find("65536 bytes"),
            std::string::npos);
  onLoop([] {});  // the close follows the answer on the loop
  EXPECT_TRUE(transport_->closed);
}

}  // namespace
}  // namespace parley::testing
