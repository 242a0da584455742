#include "bus/redis_bus.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>
#include <utility>

namespace parley {
namespace {

using ReplyPtr = std::unique_ptr<redisReply, decltype(&freeReplyObject)>;

std::string presenceKey(UserId u) { return "parley:presence:" + std::to_string(u); }
std::string userChannel(UserId u) { return "parley:u:" + std::to_string(u); }
std::string aliveKey(const std::string& node) { return "parley:alive:" + node; }
std::string nodeUsersKey(const std::string& node) { return "parley:nodeusers:" + node; }
constexpr const char* kNodesKey = "parley:nodes";
// Every node listens here for a resync of all its sessions.
constexpr const char* kResyncAllChannel = "parley:resync";
constexpr const char* kResyncField = "resync";

// Registers `node` for a user and answers how many OTHER live nodes have it,
// atomically, so two nodes attaching at once cannot both miss each other.
constexpr const char* kAttachScript = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])
local others = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
return others
)lua";

// Deregisters `node`; answers how many live nodes still have the user.
constexpr const char* kDetachScript = R"lua(
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('SREM', KEYS[2], ARGV[3])
return redis.call('ZCARD', KEYS[1])
)lua";

// origin \n to \n seq:prev \n line. A node that predates `prev` reads the
// third field as just the seq (stoll stops at the colon), and a frame without
// it means prev = seq - 1 (the gap-free seqs of MysqlStore), so nodes of both
// versions can share a bus during a rolling upgrade.
std::string encode(const std::string& origin, const Envelope& e) {
  return origin + "\n" + std::to_string(e.to) + "\n" + std::to_string(e.seq) + ":" +
         std::to_string(e.prev) + "\n" + *e.line;
}

// Queues one command (argv form: binary safe) on `c` without sending it.
void appendCommand(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data());
}

// A resync frame has "resync" in the seq field and no line: "events for
// `to` (0: for everyone) were dropped, read the inbox again". A node that
// predates it fails to parse the field and ignores the frame.
std::string encodeResync(const std::string& origin, UserId to) {
  return origin + "\n" + std::to_string(to) + "\n" + kResyncField + "\n";
}

bool decode(const char* data, size_t len, std::string* origin, Envelope* e, bool* resync) {
  std::string s(data, len);
  size_t a = s.find('\n');
  size_t b = a == std::string::npos ? a : s.find('\n', a + 1);
  size_t c = b == std::string::npos ? b : s.find('\n', b + 1);
  if (c == std::string::npos) return false;
  *origin = s.substr(0, a);
  try {
    e->to = std::stoll(s.substr(a + 1, b - a - 1));
    std::string seqs = s.substr(b + 1, c - b - 1);
    *resync = seqs == kResyncField;
    if (*resync) return true;
    size_t colon = seqs.find(':');
    e->seq = std::stoll(seqs.substr(0, colon));
    e->prev = colon == std::string::npos ? std::max<Seq>(e->seq - 1, 0)
                                         : std::stoll(seqs.substr(colon + 1));
  } catch (const std::exception&) {
    return false;
  }
  e->line = makeLine(s.substr(c + 1));
  return true;
}

}  // namespace

// One hiredis context, connected on demand, dropped on any error so that the
// next use reconnects.
class RedisBus::Connection {
 public:
  explicit Connection(const RedisBusOptions& o) : options_(o) {}
  ~Connection() { reset(); }

  redisContext* get() {
    if (ctx_) return ctx_;
    timeval tv = toTimeval(options_.io_timeout);
    ctx_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, tv);
    if (!ctx_ || ctx_->err) {
      reset();
      return nullptr;
    }
    redisSetTimeout(ctx_, tv);
    return ctx_;
  }
  void reset() {
    if (ctx_) redisFree(ctx_);
    ctx_ = nullptr;
  }
  // Runs one command (argv form: binary safe). Null reply on error.
  ReplyPtr command(const std::vector<std::string>& args) {
    std::vector<ReplyPtr> replies;
    if (!pipeline({args}, &replies)) return ReplyPtr(nullptr, freeReplyObject);
    return std::move(replies.front());
  }
  // Sends every command, then reads every reply (one round trip). False on error.
  bool pipeline(const std::vector<std::vector<std::string>>& commands,
                std::vector<ReplyPtr>* replies) {
    redisContext* c = get();
    if (!c) return false;
    for (const auto& args : commands) appendCommand(c, args);
    for (size_t i = 0; i < commands.size(); ++i) {
      void* r = nullptr;
      if (redisGetReply(c, &r) != REDIS_OK) {
        reset();
        return false;
      }
      ReplyPtr reply(static_cast<redisReply*>(r), freeReplyObject);
      if (replies) replies->push_back(std::move(reply));
    }
    return true;
  }
  redisContext* raw() { return ctx_; }

 private:
  static timeval toTimeval(std::chrono::milliseconds ms) {
    return timeval{static_cast<time_t>(ms.count() / 1000),
                   static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
  }
  const RedisBusOptions& options_;
  redisContext* ctx_ = nullptr;
};

Result<RedisBusOptions> parseRedisUrl(const std::string& url) {
  const std::string prefix = "redis://";
  if (url.rfind(prefix, 0) != 0) return Status::BadRequest("a Redis URL starts with redis://");
  std::string hostport = url.substr(prefix.size());
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  RedisBusOptions o;
  size_t colon = hostport.rfind(':');
  o.host = hostport.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      o.port = std::stoi(hostport.substr(colon + 1));
    } catch (const std::exception&) {
      return Status::BadRequest("bad port in Redis URL");
    }
  }
  if (o.host.empty()) return Status::BadRequest("Redis URL needs a host");
  return o;
}

SubscriptionChanges subscriptionChanges(const std::vector<UserId>& touched,
                                        const std::unordered_map<UserId, int>& held) {
  SubscriptionChanges changes;
  std::unordered_set<UserId> seen;
  for (UserId user : touched) {
    if (!seen.insert(user).second) continue;
    (held.count(user) ? changes.subscribe : changes.unsubscribe).push_back(user);
  }
  return changes;
}

RedisBus::RedisBus(RedisBusOptions options) : options_(std::move(options)) {
  if (pipe2(wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) wake_pipe_[0] = wake_pipe_[1] = -1;
  command_ = std::make_unique<Connection>(options_);
}

RedisBus::~RedisBus() {
  stop();
  for (int fd : wake_pipe_) {
    if (fd >= 0) close(fd);
  }
}

int64_t RedisBus::nowMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void RedisBus::start(DeliverFn deliver, PresenceLostFn presence_lost, MissedFn missed) {
  deliver_ = std::move(deliver);
  presence_lost_ = std::move(presence_lost);
  missed_ = std::move(missed);
  publisher_ = std::thread([this] { publisherLoop(); });
  subscriber_ = std::thread([this] { subscriberLoop(); });
  heartbeat_ = std::thread([this] { heartbeatLoop(); });
}

void RedisBus::wakeThreads() {
  // Under the lock, so that a publisher between testing its condition and
  // waiting cannot miss the notification.
  { std::lock_guard<std::mutex> lock(publish_mu_); }
  publish_cv_.notify_all();
  { std::lock_guard<std::mutex> lock(users_mu_); }
  subscriptions_cv_.notify_all();
  if (wake_pipe_[1] >= 0) (void)!write(wake_pipe_[1], "x", 1);
}

void RedisBus::stop() {
  if (stopping_.exchange(true)) return;
  wakeThreads();
  for (auto* t : {&publisher_, &subscriber_, &heartbeat_}) {
    if (t->joinable()) t->join();
  }
  // Events still queued (the store's last commits, drained just before) and
  // resyncs still owed are not dropped silently: they go out with the
  // goodbye below, the resyncs first (a resync of everyone when more than a
  // batch of users is owed one).
  std::vector<std::vector<std::string>> cmds;
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    Missed missed;
    missed.everyone = missed_everyone_ || missed_users_.size() > kMaxBatch;
    if (!missed.everyone) missed.users.assign(missed_users_.begin(), missed_users_.end());
    missed_users_.clear();
    missed_everyone_ = false;
    cmds = resyncCommands(missed);
    for (const Pending& pending : publish_queue_) cmds.push_back(pending.publishCommand());
    publish_queue_.clear();
  }
  // A clean stop says goodbye: this node's presence goes now rather than at
  // expiry. (A crash skips this; the reaper of another node does it.)
  std::lock_guard<std::mutex> lock(command_mu_);
  for (auto& cmd : std::vector<std::vector<std::string>>{{"DEL", aliveKey(options_.node_id)},
                                                         {"SREM", kNodesKey, options_.node_id},
                                                         {"DEL", nodeUsersKey(options_.node_id)}}) {
    cmds.push_back(std::move(cmd));
  }
  {
    std::lock_guard<std::mutex> ulock(users_mu_);
    for (auto& [user, count] : local_users_) {
      cmds.push_back({"ZREM", presenceKey(user), options_.node_id});
    }
  }
  command_->pipeline(cmds, nullptr);
}

void RedisBus::simulateCrashForTest() {
  stopping_ = true;
  wakeThreads();
  for (auto* t : {&publisher_, &subscriber_, &heartbeat_}) {
    if (t->joinable()) t->join();
  }
}

// --- routing -------------------------------------------------------------------

void RedisBus::deliverLocally(const Envelope& envelope) {
  bool here;
  {
    std::lock_guard<std::mutex> lock(users_mu_);
    here = local_users_.count(envelope.to) > 0;
  }
  if (here && deliver_) deliver_(std::span<const Envelope>(&envelope, 1));
}

void RedisBus::publish(Envelope envelope) {
  // Sessions on this node are served in-process, so they keep working when
  // Redis is down; the copy that comes back through Redis is ignored by
  // origin.
  deliverLocally(envelope);
  std::string item = userChannel(envelope.to);
  item.push_back('\0');
  item += encode(options_.node_id, envelope);
  const bool message = envelope.seq != 0;
  {
    std::lock_guard<std::mutex> lock(publish_mu_);
    if (publish_queue_.size() >= options_.max_queued_publishes) {
      dropped_++;
      if (message) rememberMissed(envelope.to);
    } else {
      publish_queue_.push_back(
          {std::move(item), std::chrono::steady_clock::now(), envelope.to, message});
    }
  }
  publish_cv_.notify_one();
}

void RedisBus::rememberMissed(UserId user) {
  if (missed_everyone_ || missed_users_.count(user)) return;
  if (missed_users_.size() >= options_.max_missed_users) {
    // A flood of drops: one resync of every node costs less than tracking
    // more users (and the set stays bounded).
    missed_everyone_ = true;
    missed_users_.clear();
    return;
  }
  missed_users_.insert(user);
}

bool RedisBus::resyncDue(std::chrono::steady_clock::time_point now) const {
  return !missed_users_.empty() || (missed_everyone_ && now >= next_resync_everyone_);
}

RedisBus::Missed RedisBus::takeMissed(std::chrono::steady_clock::time_point now, size_t limit) {
  Missed missed;
  if (missed_everyone_) {
    // Every session of every node reads its inbox: at most once a second,
    // however long the drops go on.
    if (now < next_resync_everyone_) return missed;
    missed_everyone_ = false;
    next_resync_everyone_ = now + kResyncEveryoneInterval;
    missed.everyone = true;
    return missed;
  }
  // A bounded share per round trip, so that resyncs do not crowd out the
  // events whose queue overflowed in the first place.
  for (auto it = missed_users_.begin(); it != missed_users_.end() && missed.users.size() < limit;) {
    missed.users.push_back(*it);
    it = missed_users_.erase(it);
  }
  return missed;
}

std::vector<std::vector<std::string>> RedisBus::resyncCommands(const Missed& missed) const {
  std::vector<std::vector<std::string>> cmds;
  if (missed.everyone) {
    cmds.push_back({"PUBLISH", kResyncAllChannel, encodeResync(options_.node_id, 0)});
    return cmds;
  }
  for (UserId user : missed.users) {
    cmds.push_back({"PUBLISH", userChannel(user), encodeResync(options_.node_id, user)});
  }
  return cmds;
}

size_t RedisBus::queuedPublishes() const {
  std::lock_guard<std::mutex> lock(publish_mu_);
  return publish_queue_.size();
}

void RedisBus::publisherLoop() {
  Connection conn(options_);
  int backoff_ms = 50;
  auto last_resync_log = std::chrono::steady_clock::time_point{};
  while (!stopping_) {
    std::vector<Pending> batch;
    Missed missed;
    {
      std::unique_lock<std::mutex> lock(publish_mu_);
      auto ready = [this] {
        return stopping_ || !publish_queue_.empty() || resyncDue(std::chrono::steady_clock::now());
      };
      // Bounded: a resync of everyone may come due without a notify.
      publish_cv_.wait_until(
          lock,
          missed_everyone_ ? next_resync_everyone_ : std::chrono::steady_clock::now() + kIdleWake,
          ready);
      missed = takeMissed(std::chrono::steady_clock::now(), kMaxBatch);
      while (!publish_queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(publish_queue_.front()));
        publish_queue_.pop_front();
      }
    }
    // Resyncs first: the messages they stand for are older than the batch.
    std::vector<std::vector<std::string>> cmds = resyncCommands(missed);
    const size_t resyncs = cmds.size();
    if (cmds.empty() && batch.empty()) continue;
    for (const auto& pending : batch) cmds.push_back(pending.publishCommand());
    std::vector<ReplyPtr> replies;
    const bool sent = conn.pipeline(cmds, &replies);
    // What Redis did not take — all of it when the connection failed, or a
    // command it answered with an error (-BUSY, -NOPERM, ...) — is lost from
    // the fast path. Its recipients, and the resyncs not sent, are
    // remembered, and resynced once Redis takes commands again.
    auto refused = [&](size_t i) {
      return !sent || !replies[i] || replies[i]->type == REDIS_REPLY_ERROR;
    };
    size_t failed = 0;
    {
      std::lock_guard<std::mutex> lock(publish_mu_);
      for (size_t i = 0; i < resyncs; ++i) {
        if (!refused(i)) continue;
        if (missed.everyone) {
          missed_everyone_ = true;
          next_resync_everyone_ = {};
        } else {
          rememberMissed(missed.users[i]);
        }
        ++failed;
      }
      for (size_t j = 0; j < batch.size(); ++j) {
        if (!refused(resyncs + j)) continue;
        if (batch[j].message) rememberMissed(batch[j].to);
        ++dropped_;
        ++failed;
      }
    }
    if (failed > 0) {
      if (sent) spdlog::warn("redis bus: Redis refused {} of {} publishes", failed, cmds.size());
      // Backing off, but a stop ends the wait. Exponentially only when
      // nothing got through: a few refused channels must not slow the rest.
      bool all_failed = failed == cmds.size();
      std::unique_lock<std::mutex> lock(publish_mu_);
      publish_cv_.wait_for(lock, std::chrono::milliseconds(all_failed ? backoff_ms : 50),
                           [this] { return stopping_.load(); });
      if (all_failed) backoff_ms = std::min(backoff_ms * 2, 2000);
      continue;
    }
    backoff_ms = 50;
    auto now = std::chrono::steady_clock::now();
    if (resyncs > 0 && now - last_resync_log >= std::chrono::seconds(10)) {
      last_resync_log = now;
      spdlog::warn("redis bus: resyncing {}: events were dropped ({} so far) or a node died",
                   missed.everyone ? std::string("every session of every node")
                                   : "the sessions of " + std::to_string(missed.users.size()) +
                                         " users (and more, not logged, for 10 s)",
                   dropped_.load());
    }
    if (metrics_) {
      for (const auto& pending : batch) metrics_->bus_publish_lag.observe(now - pending.queued_at);
    }
  }
}

void RedisBus::subscriberLoop() {
  Connection conn(options_);
  int backoff_ms = 50;
  bool connected_before = false;
  // A PING follows each round of subscription changes; Redis answers it
  // ("pong") after it has applied them. Each pending PING remembers how many
  // subscriptions had been asked for when it was sent, and whether this
  // node's sessions should then read their inboxes (after a reconnect: only
  // once the channels are live can nothing fall between the read and them).
  struct PendingPing {
    uint64_t asked;
    bool resync;
  };
  std::deque<PendingPing> pings;
  // Sends `verb` for the users' channels (and `also`, when given), then a
  // PING, recorded as `ping` once sent.
  auto sendSubscriptions = [&](const char* verb, const std::vector<UserId>& users, PendingPing ping,
                               const char* also = nullptr) {
    redisContext* c = conn.raw();
    for (size_t i = 0; i < users.size() || (i == 0 && also); i += 500) {
      std::vector<std::string> args = {verb};
      if (i == 0 && also) args.push_back(also);
      for (size_t j = i; j < std::min(users.size(), i + 500); ++j) {
        args.push_back(userChannel(users[j]));
      }
      appendCommand(c, args);
    }
    appendCommand(c, {"PING"});
    int done = 0;
    while (!done) {
      if (redisBufferWrite(c, &done) != REDIS_OK) return false;
    }
    pings.push_back(ping);
    return true;
  };

  while (!stopping_) {
    if (!conn.raw()) {
      if (!conn.get()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
        backoff_ms = std::min(backoff_ms * 2, 2000);
        continue;
      }
      backoff_ms = 50;
      // (Re)connected: subscribe to every user we hold, whatever changed
      // while we were away.
      std::vector<UserId> users;
      uint64_t asked;
      {
        std::lock_guard<std::mutex> lock(users_mu_);
        subscriptions_touched_.clear();
        for (auto& [user, count] : local_users_) users.push_back(user);
        asked = subscriptions_asked_;
      }
      pings.clear();  // those of the connection that failed
      if (!sendSubscriptions("SUBSCRIBE", users, {asked, connected_before}, kResyncAllChannel)) {
        conn.reset();
        continue;
      }
      spdlog::info("redis bus: subscriber connected ({} users)", users.size());
      // While it was away, messages to our users were published to nobody
      // (and the publishers dropped what they could not send): they are in
      // the store, so the sessions read their inboxes again — once the
      // PING's answer says the channels are live.
      connected_before = true;
    }
    pollfd fds[2] = {{conn.raw()->fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int n = poll(fds, 2, 500);
    if (n < 0) continue;
    if (fds[1].revents & POLLIN) {
      char buf[256];
      while (read(wake_pipe_[0], buf, sizeof buf) > 0) {
      }
      SubscriptionChanges changes;
      uint64_t asked;
      {
        std::lock_guard<std::mutex> lock(users_mu_);
        changes = subscriptionChanges(subscriptions_touched_, local_users_);
        subscriptions_touched_.clear();
        asked = subscriptions_asked_;
      }
      if ((!changes.subscribe.empty() &&
           !sendSubscriptions("SUBSCRIBE", changes.subscribe, {asked, false})) ||
          (!changes.unsubscribe.empty() &&
           !sendSubscriptions("UNSUBSCRIBE", changes.unsubscribe, {asked, false}))) {
        conn.reset();
        continue;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (redisBufferRead(conn.raw()) != REDIS_OK) {
        spdlog::warn("redis bus: subscriber lost its connection; reconnecting");
        conn.reset();
        continue;
      }
      void* r = nullptr;
      while (redisGetReplyFromReader(conn.raw(), &r) == REDIS_OK && r) {
        ReplyPtr reply(static_cast<redisReply*>(r), freeReplyObject);
        r = nullptr;
        // PING's answer on a subscribed RESP2 connection is ["pong", ""];
        // a plain +PONG is accepted too.
        bool pong = (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                     reply->element[0]->type == REDIS_REPLY_STRING &&
                     strcasecmp(reply->element[0]->str, "pong") == 0) ||
                    (reply->type == REDIS_REPLY_STATUS && strcasecmp(reply->str, "pong") == 0);
        if (pong) {
          if (pings.empty()) continue;
          PendingPing ping = pings.front();
          pings.pop_front();
          std::vector<UserId> late;  // logins that returned before this moment
          bool everyone = ping.resync;
          {
            std::lock_guard<std::mutex> lock(users_mu_);
            subscriptions_live_ = std::max(subscriptions_live_, ping.asked);
            auto live = std::partition(
                late_subscriptions_.begin(), late_subscriptions_.end(),
                [&](const LateSubscription& l) { return l.asked > subscriptions_live_; });
            for (auto it = live; it != late_subscriptions_.end(); ++it) late.push_back(it->user);
            late_subscriptions_.erase(live, late_subscriptions_.end());
            everyone = everyone || std::exchange(late_everyone_, false);
          }
          subscriptions_cv_.notify_all();
          if (missed_) {
            if (everyone) {
              missed_(std::nullopt);
            } else {
              for (UserId user : late) missed_(user);
            }
          }
          continue;
        }
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) continue;
        if (std::strcmp(reply->element[0]->str, "message") != 0) continue;
        std::string origin;
        Envelope e;
        bool resync = false;
        if (!decode(reply->element[2]->str, reply->element[2]->len, &origin, &e, &resync)) {
          continue;
        }
        if (origin == options_.node_id) continue;  // already delivered in-process
        if (!resync) {
          deliverLocally(e);
        } else if (missed_) {
          // Another node dropped events for this user (or, to = 0, for
          // anyone): the inbox has them.
          missed_(e.to == 0 ? std::nullopt : std::optional<UserId>(e.to));
        }
      }
    }
  }
}

// --- presence ------------------------------------------------------------------

// attach, detach and the heartbeat hold command_mu_ from the moment they
// read or change this node's user counts until Redis has their writes, so
// the writes reach Redis in the order the counts changed: an attach and a
// detach of one user on two pool threads cannot swap their ZADD and ZREM,
// and a heartbeat cannot re-add a user between a detach's count and its ZREM.

Result<bool> RedisBus::attach(UserId user) {
  // The subscription this attach asked for or, for a user already here,
  // the latest asked (its first session's may still be on its way).
  uint64_t asked = 0;
  auto result = [&]() -> Result<bool> {
    std::lock_guard<std::mutex> order(command_mu_);
    bool first_here;
    {
      std::lock_guard<std::mutex> lock(users_mu_);
      first_here = ++local_users_[user] == 1;
      if (first_here) {
        subscriptions_touched_.push_back(user);
        ++subscriptions_asked_;
      }
      asked = subscriptions_asked_;
    }
    if (first_here && wake_pipe_[1] >= 0) (void)!write(wake_pipe_[1], "x", 1);
    int64_t now = nowMs();
    auto reply = command_->command(
        {"EVAL", kAttachScript, "2", presenceKey(user), nodeUsersKey(options_.node_id),
         options_.node_id, std::to_string(now), std::to_string(now + options_.presence_ttl.count()),
         std::to_string(options_.presence_ttl.count()), std::to_string(user)});
    if (!reply || reply->type != REDIS_REPLY_INTEGER) {
      return Status::Unavailable("redis: presence registration failed");
    }
    // Online cluster-wide just now: on no other node, and no other session
    // of the user here (which would have made it online already).
    return first_here && reply->integer == 0;
  }();
  // The caller reads the user's inbox next: the user's channel must be live
  // by then, or an event published between that read and the SUBSCRIBE
  // would reach neither. Outside command_mu_, so logins on other threads
  // do not queue behind this wait. Only while Redis answers (the EVAL went
  // through): during an outage a login must not hold a pool thread for
  // nothing. Either way, a channel not live when attach returns is owed a
  // resync of its user once it is (late_subscriptions_).
  if (asked) {
    std::unique_lock<std::mutex> lock(users_mu_);
    if (result.ok()) {
      subscriptions_cv_.wait_for(lock, options_.io_timeout,
                                 [&] { return subscriptions_live_ >= asked || stopping_; });
    }
    if (subscriptions_live_ < asked) {
      if (late_subscriptions_.size() < options_.max_missed_users) {
        late_subscriptions_.push_back({user, asked});
      } else {
        late_everyone_ = true;  // a long outage with many logins: resync all
      }
    }
  }
  return result;
}

Result<bool> RedisBus::detach(UserId user) {
  std::lock_guard<std::mutex> order(command_mu_);
  {
    std::lock_guard<std::mutex> lock(users_mu_);
    auto it = local_users_.find(user);
    if (it == local_users_.end()) return false;
    if (--it->second > 0) return false;
    local_users_.erase(it);
    subscriptions_touched_.push_back(user);
  }
  if (wake_pipe_[1] >= 0) (void)!write(wake_pipe_[1], "x", 1);
  auto reply = command_->command({"EVAL", kDetachScript, "2", presenceKey(user),
                                  nodeUsersKey(options_.node_id), options_.node_id,
                                  std::to_string(nowMs()), std::to_string(user)});
  if (!reply || reply->type != REDIS_REPLY_INTEGER) {
    return Status::Unavailable("redis: presence deregistration failed");
  }
  return reply->integer == 0;
}

Result<std::vector<bool>> RedisBus::online(const std::vector<UserId>& users) {
  std::vector<bool> result(users.size(), false);
  if (users.empty()) return result;
  std::string now = "(" + std::to_string(nowMs());
  std::vector<std::vector<std::string>> cmds;
  for (UserId u : users) cmds.push_back({"ZCOUNT", presenceKey(u), now, "+inf"});
  std::vector<ReplyPtr> replies;
  std::lock_guard<std::mutex> lock(command_mu_);
  if (!command_->pipeline(cmds, &replies))
    return Status::Unavailable("redis: presence lookup failed");
  for (size_t i = 0; i < users.size(); ++i) {
    result[i] = replies[i] && replies[i]->type == REDIS_REPLY_INTEGER && replies[i]->integer > 0;
  }
  return result;
}

void RedisBus::heartbeatLoop() {
  Connection conn(options_);
  auto next = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (std::chrono::steady_clock::now() >= next) {
      heartbeat(conn);
      reapDeadNodes(conn);
      next = std::chrono::steady_clock::now() + options_.heartbeat_interval;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void RedisBus::heartbeat(Connection& conn) {
  int64_t expiry = nowMs() + options_.presence_ttl.count();
  std::string ttl = std::to_string(options_.presence_ttl.count());
  std::vector<std::vector<std::string>> cmds = {{"SET", aliveKey(options_.node_id), "1", "PX", ttl},
                                                {"SADD", kNodesKey, options_.node_id}};
  std::lock_guard<std::mutex> order(command_mu_);  // see attach()
  {
    std::lock_guard<std::mutex> lock(users_mu_);
    for (auto& [user, count] : local_users_) {
      cmds.push_back({"ZADD", presenceKey(user), std::to_string(expiry), options_.node_id});
      cmds.push_back({"PEXPIRE", presenceKey(user), ttl});
      cmds.push_back({"SADD", nodeUsersKey(options_.node_id), std::to_string(user)});
    }
  }
  // Refreshing re-registers everything after a Redis restart as well.
  if (!conn.pipeline(cmds, nullptr)) spdlog::warn("redis bus: heartbeat failed (Redis down?)");
}

void RedisBus::reapDeadNodes(Connection& conn) {
  auto nodes = conn.command({"SMEMBERS", kNodesKey});
  if (!nodes || nodes->type != REDIS_REPLY_ARRAY) return;
  for (size_t i = 0; i < nodes->elements; ++i) {
    std::string node(nodes->element[i]->str, nodes->element[i]->len);
    if (node == options_.node_id) continue;
    auto alive = conn.command({"EXISTS", aliveKey(node)});
    if (!alive || alive->type != REDIS_REPLY_INTEGER || alive->integer != 0) continue;
    // Dead. One survivor reaps it: whoever takes the lock.
    auto lock = conn.command({"SET", "parley:reap:" + node, options_.node_id, "NX", "PX", "10000"});
    if (!lock || lock->type != REDIS_REPLY_STATUS) continue;
    spdlog::info("redis bus: node {} stopped heartbeating; reaping its users", node);
    // Events the dead node had stored but not yet published are in the
    // store and nowhere else: every session, on every node, reads its inbox
    // again. The publisher sends the resync (and retries it); this node's
    // own sessions, which ignore their node's frames, are told here.
    {
      std::lock_guard<std::mutex> plock(publish_mu_);
      missed_everyone_ = true;
      missed_users_.clear();
    }
    publish_cv_.notify_one();
    if (missed_) missed_(std::nullopt);
    auto users = conn.command({"SMEMBERS", nodeUsersKey(node)});
    if (users && users->type == REDIS_REPLY_ARRAY) {
      std::string now = "(" + std::to_string(nowMs());
      for (size_t u = 0; u < users->elements; ++u) {
        std::string id(users->element[u]->str, users->element[u]->len);
        UserId user = std::stoll(id);
        conn.command({"ZREM", presenceKey(user), node});
        auto left = conn.command({"ZCOUNT", presenceKey(user), now, "+inf"});
        if (left && left->type == REDIS_REPLY_INTEGER && left->integer == 0 && presence_lost_) {
          presence_lost_(user);
        }
      }
    }
    conn.command({"DEL", nodeUsersKey(node)});
    conn.command({"SREM", kNodesKey, node});
  }
}

}  // namespace parley
