// RedisBus: the cluster Bus. Routing uses one pub/sub channel per user
// (`parley:u:<id>`), which a node subscribes to while it holds a session of
// that user. Publishing is then a single PUBLISH with no lookup, and a user
// who moves to another node is followed automatically; the cost is one
// subscription per online user on each node (Redis keeps them in a hash
// table; 20k per node is cheap) and a SUBSCRIBE/UNSUBSCRIBE per first login
// and last logout.
//
// Presence: a sorted set per user (`parley:presence:<id>`, member = node,
// score = expiry in ms) refreshed by every node's heartbeat, so a node killed
// with SIGKILL stops counting once its entries expire. A surviving node that
// sees another node's heartbeat key gone reaps it: for each of that node's
// users now online nowhere, it reports PresenceLostFn.
//
// Nothing here blocks a loop thread: publish() only appends to a bounded
// queue. When it is full, or Redis refuses a batch, the message events are
// dropped but their recipients are remembered, and once Redis takes
// commands again the publisher sends each a resync frame on its channel:
// the node holding that user has its sessions read the inbox, where the
// dropped messages are (the store is the truth). Past `max_missed_users`
// it stops counting and sends one resync to every node. attach/detach/online
// make Redis round trips with a 1 s timeout and are called from the blocking
// pool. If Redis is down, local sessions still get their events (delivered
// in-process), cross-node events wait in the store, and every thread
// reconnects with backoff; on reconnect the node re-subscribes,
// re-registers all its users and has their sessions read their inboxes
// again (MissedFn), which brings what was sent meanwhile.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bus/bus.h"

struct redisContext;

namespace parley {

struct RedisBusOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string node_id;
  // A node's presence entries and heartbeat key live this long without a
  // refresh; a crashed node's users turn offline within about this time.
  std::chrono::milliseconds presence_ttl{15000};
  std::chrono::milliseconds heartbeat_interval{5000};
  // Timeout of each Redis round trip, and of connecting.
  std::chrono::milliseconds io_timeout{1000};
  size_t max_queued_publishes = 100000;
  // Recipients of dropped events remembered for a resync each; past this
  // many, every node resyncs every session instead.
  size_t max_missed_users = 100000;
};

// Parses redis://host:port.
Result<RedisBusOptions> parseRedisUrl(const std::string& url);

// The channel changes that bring the subscriber connection in line with the
// sessions held now, for the users whose count passed 0 since the last time
// (`touched`, in any order, repeats allowed): SUBSCRIBE the users held,
// UNSUBSCRIBE the others, each once. Decided by the state now, not by the
// order of the changes: a last session that ends and a new one that starts
// before the subscriber thread looks (a reconnect) must leave the user
// subscribed. (Both commands are idempotent in Redis.)
struct SubscriptionChanges {
  std::vector<UserId> subscribe, unsubscribe;
};
SubscriptionChanges subscriptionChanges(const std::vector<UserId>& touched,
                                        const std::unordered_map<UserId, int>& held);

class RedisBus final : public Bus {
 public:
  explicit RedisBus(RedisBusOptions options);
  ~RedisBus() override;

  void start(DeliverFn deliver, PresenceLostFn presence_lost, MissedFn missed) override;
  void stop() override;
  void publish(Envelope envelope) override;
  Result<bool> attach(UserId user) override;
  Result<bool> detach(UserId user) override;
  Result<std::vector<bool>> online(const std::vector<UserId>& users) override;

  // Stops every thread without deregistering anything, as a SIGKILL would.
  void simulateCrashForTest();
  size_t queuedPublishes() const override;
  uint64_t droppedPublishes() const override { return dropped_.load(); }

 private:
  class Connection;
  void wakeThreads();
  void publisherLoop();
  void subscriberLoop();
  void heartbeatLoop();
  void heartbeat(Connection& conn);
  void reapDeadNodes(Connection& conn);
  void deliverLocally(const Envelope& envelope);
  int64_t nowMs() const;

  const RedisBusOptions options_;
  DeliverFn deliver_;
  PresenceLostFn presence_lost_;
  MissedFn missed_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> dropped_{0};

  // Users with sessions on this node -> how many.
  std::mutex users_mu_;
  std::unordered_map<UserId, int> local_users_;  // guarded by users_mu_
  // Users whose count passed 0 since the subscriber thread last looked.
  std::vector<UserId> subscriptions_touched_;  // guarded by users_mu_
  // Subscriptions asked for (each attach that made a user new here counts
  // one) and how many of them Redis has applied: attach returns once its
  // own is live.
  uint64_t subscriptions_asked_ = 0;  // guarded by users_mu_
  uint64_t subscriptions_live_ = 0;   // guarded by users_mu_
  // Attaches that returned before their subscription was live (Redis down,
  // or the subscriber slower than the wait): once it is, the user's sessions
  // read their inboxes, since an event may have reached nobody meanwhile.
  struct LateSubscription {
    UserId user;
    uint64_t asked;
  };
  std::vector<LateSubscription> late_subscriptions_;  // guarded by users_mu_
  bool late_everyone_ = false;  // too many to keep: resync all; guarded by users_mu_
  std::condition_variable subscriptions_cv_;
  int wake_pipe_[2] = {-1, -1};  // wakes the subscriber thread

  struct Pending {
    std::string item;                                 // "channel\0payload"
    std::chrono::steady_clock::time_point queued_at;  // for the publish-lag histogram
    UserId to = 0;
    bool message = false;  // an inbox message (seq != 0): a drop needs a resync
    std::vector<std::string> publishCommand() const {
      size_t zero = item.find('\0');
      return {"PUBLISH", item.substr(0, zero), item.substr(zero + 1)};
    }
  };
  // Recipients of dropped message events, owed a resync.
  struct Missed {
    bool everyone = false;
    std::vector<UserId> users;
  };
  // Remembers that `user` missed a message event (publish_mu_ held).
  void rememberMissed(UserId user);
  // Whether takeMissed() has anything to give now (publish_mu_ held).
  bool resyncDue(std::chrono::steady_clock::time_point now) const;
  // Takes up to `limit` remembered users, or the resync of everyone when
  // one is due (publish_mu_ held).
  Missed takeMissed(std::chrono::steady_clock::time_point now, size_t limit);
  // The PUBLISH commands that resync them.
  std::vector<std::vector<std::string>> resyncCommands(const Missed& missed) const;

  mutable std::mutex publish_mu_;
  std::condition_variable publish_cv_;
  std::deque<Pending> publish_queue_;                             // guarded by publish_mu_
  std::unordered_set<UserId> missed_users_;                       // guarded by publish_mu_
  bool missed_everyone_ = false;                                  // guarded by publish_mu_
  std::chrono::steady_clock::time_point next_resync_everyone_{};  // guarded by publish_mu_
  static constexpr size_t kMaxBatch = 1000;  // publishes (and resyncs) per round trip
  static constexpr std::chrono::seconds kResyncEveryoneInterval{1};
  static constexpr std::chrono::seconds kIdleWake{1};  // the publisher looks anyway

  // Guards command_ (attach/detach/online), and orders this node's presence
  // writes: taken before users_mu_ by attach, detach and the heartbeat.
  std::mutex command_mu_;
  std::unique_ptr<Connection> command_;  // guarded by command_mu_

  std::thread publisher_, subscriber_, heartbeat_;
};

}  // namespace parley
