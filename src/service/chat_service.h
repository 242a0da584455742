// ChatService: the chat logic of one node — accounts, friends, groups,
// sending, routing, acks and presence. It talks to a Store (the truth) and a
// Bus (the fast path) through their interfaces and never sees sockets, SQL
// or Redis.
//
// Every method that takes a request blocks (store, hashing, bus round trips)
// and is called on the blocking pool by Session, never on a loop thread.
// The caller's identity is always the `me` argument, which Session takes from
// its own login state: a request can never act as someone else.
//
// Thread safety: all methods may be called concurrently from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus.h"
#include "common/blocking_pool.h"
#include "common/metrics.h"
#include "common/model.h"
#include "common/status.h"
#include "protocol/reply.h"
#include "protocol/request.h"
#include "service/lookup_cache.h"
#include "service/password_hasher.h"
#include "service/rate_limiter.h"
#include "service/session_registry.h"
#include "store/store.h"

namespace parley {

struct ServiceOptions {
  HashCost hash_cost = HashCost::kInteractive;
  // How long a resume token stays valid after login.
  std::chrono::hours token_ttl{24 * 7};
  // Inbox entries fetched per replay round trip.
  int replay_page = 256;
  // A session stops fetching replay pages while this many bytes wait to be
  // written to its client, so a huge backlog never overflows the queue.
  size_t replay_high_water_bytes = 256 * 1024;

  // Abuse limits (0 = unlimited). Messages are send + group_send.
  double connection_message_rate = 100;  // per second, per connection
  double connection_message_burst = 200;
  double user_message_rate = 200;  // per second, per user on this node
  double user_message_burst = 400;
  // Failed logins allowed per minute for one name and for one address;
  // past them, further attempts answer rate_limited until the bucket refills.
  double login_failures_per_minute_per_name = 10;
  double login_failures_per_minute_per_address = 60;
  size_t max_group_members = 1000;
  size_t max_friends = 1000;

  // Where to count logins, messages, deliveries and store latency; may be null.
  Metrics* metrics = nullptr;
};

// What a successful login or resume produces.
struct LoginResult {
  User user;
  std::string token;       // plain, for the client
  std::string token_hash;  // what the session keeps to revoke at logout
  Seq ack_point = 0;
  protocol::Reply reply;
};

class ChatService {
 public:
  ChatService(Store& store, Bus& bus, BlockingPool& pool, ServiceOptions options);
  ChatService(const ChatService&) = delete;
  ChatService& operator=(const ChatService&) = delete;

  // Connects the bus to this node's sessions. Call once before serving.
  void start();
  void stop();

  SessionRegistry& registry() { return registry_; }
  BlockingPool& pool() { return pool_; }
  const ServiceOptions& options() const { return options_; }
  Metrics* metrics() const { return options_.metrics; }
  // Store::backlogged(): pipelined sends should wait for their answers.
  bool storeBacklogged() const { return store_.backlogged(); }

  // --- blocking operations (pool threads only) ---------------------------
  Result<protocol::Reply> registerUser(const std::string& name, const std::string& password);
  // Unauthorized on a wrong name or password (the same answer for both).
  Result<LoginResult> login(const std::string& name, const std::string& password,
                            const std::string& address = "");
  Result<LoginResult> resume(const std::string& token);
  // Revokes the token; presence is handled by sessionEnded().
  Status logout(const std::string& token_hash);
  // A logged-in session became registered on this node: online transition.
  void sessionStarted(const User& me);
  // A logged-in session ended (logout or disconnect).
  void sessionEnded(const User& me);

  Result<protocol::Reply> addFriend(const User& me, const std::string& name);
  Result<protocol::Reply> friends(const User& me);
  Result<protocol::Reply> createGroup(const User& me, const std::string& name,
                                      const std::string& desc);
  Result<protocol::Reply> joinGroup(const User& me, const std::string& name);
  Result<protocol::Reply> leaveGroup(const User& me, const std::string& name);
  Result<protocol::Reply> groups(const User& me);
  Result<protocol::Reply> members(const User& me, const std::string& name);
  Result<protocol::Reply> history(const User& me, const protocol::Request& request);

  // --- the hot path: callable on a loop thread ------------------------------
  // send and group_send without blocking the caller: names come from the
  // lookup cache (a miss is looked up on the blocking pool), the append is
  // queued for the store's writer (or run on the pool when the store cannot
  // queue). `done` runs exactly once, on a store or pool thread — or in the
  // call itself for an immediate refusal (rate_limited, unavailable).
  //
  // The result says whether the request is *ordered* on return: refused
  // already, or queued for the writer, whose queue is first in first out,
  // so whatever the same client asks next is stored after it. A client's
  // channel may then start its next send before this one's commit
  // (pipelining). False: it went through the pool (a lookup-cache miss, a
  // store that cannot queue) and may still overtake or be overtaken.
  using ReplyDone = std::function<void(Result<protocol::Reply>)>;
  bool sendAsync(const User& me, std::string to, std::string text, ReplyDone done);
  bool groupSendAsync(const User& me, std::string group, std::string text, ReplyDone done);
  // ack without blocking the caller: queued for the store's writer, or run
  // on the pool when the store cannot queue. `done` and the result as for
  // sendAsync.
  bool ackAsync(const User& me, Seq up_to, ReplyDone done);
  Result<std::vector<Delivery>> inboxAfter(const User& me, Seq after);

 private:
  // A login issues a new token; a resume keeps the token it presented, so
  // that one logout revokes it (a fresh token per resume would leave the
  // presented one alive after logout, until it expires).
  Result<LoginResult> finishLogin(const User& user, const std::string& resumed_token = "");
  // The append and what follows its commit (publish, reply). `on_pool`: the
  // caller is a pool thread, so a store that cannot queue may block here.
  // Both return whether the append is ordered on return (see sendAsync).
  bool storeDirect(const User& me, const User& to, std::string text, bool on_pool, ReplyDone done);
  bool storeGroup(const User& me, const Group& group, std::string text, bool on_pool,
                  ReplyDone done);
  // Runs `append` now if the store queues (or we are on the pool already),
  // else on the pool; refuses with unavailable when the pool is full.
  // True when `append` ran here or the request was refused.
  bool runAppend(bool on_pool, std::function<void()> append, const ReplyDone& done);
  Result<std::vector<protocol::FriendView>> friendViews(UserId me);
  void notifyFriends(const User& me, bool online);
  // The Forbidden answer once the store refused a friendship for the limit.
  Status friendLimitReached(const User& me, const User& other);
  // The store reports a closed database as Unavailable; anything unexpected
  // is logged here once with context.
  Status logged(const char* what, const Status& status);

  Store& store_;
  Bus& bus_;
  BlockingPool& pool_;
  const ServiceOptions options_;
  PasswordHasher hasher_;
  KeyedRateLimiter user_messages_;
  KeyedRateLimiter login_failures_by_name_;
  KeyedRateLimiter login_failures_by_address_;
  SessionRegistry registry_;
  LookupCache cache_;
  std::atomic<uint32_t> token_saves_{0};  // logins that issued a token; paces the purge
};

}  // namespace parley
