// Bus: routes events to a user's sessions wherever they are connected, and
// knows who is online across the cluster. It is only the fast path: the store
// is the truth, so a message event the bus drops is recovered by a replay
// (MissedFn tells the recipient's node to read the inbox again), and a
// presence event it drops is merely cosmetic.
//
// LocalBus routes inside one process; RedisBus across nodes over Redis
// pub/sub with a presence registry that expires when a node dies.
//
// publish() never blocks: it is called from loop threads and the blocking
// pool alike. attach/detach/online may block (a Redis round trip) and are
// called from the blocking pool only.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/model.h"
#include "common/status.h"

namespace parley {

// One event for one user. `seq` is non-zero for inbox messages (the session
// uses it to keep order and drop duplicates) and zero for everything else
// (presence, friend_added).
// The serialized event, without the trailing newline. Immutable and shared:
// the members of a group given the same seq get the same bytes, and handing
// an envelope on copies a pointer, not the line.
using SharedLine = std::shared_ptr<const std::string>;
inline SharedLine makeLine(std::string line) {
  return std::make_shared<const std::string>(std::move(line));
}

struct Envelope {
  UserId to = 0;
  Seq seq = 0;
  Seq prev = 0;  // the recipient's seq before this one (InboxSlot::prev)
  SharedLine line;
};

class Bus {
 public:
  // Called with envelopes addressed to users with a session on this node
  // (one, or the batch given to publishAll), on a bus thread or the
  // publishing thread. Must not block.
  using DeliverFn = std::function<void(std::span<const Envelope>)>;
  // Called when a user went offline without saying goodbye (its node died),
  // on a bus thread. May be called more than once for one user.
  using PresenceLostFn = std::function<void(UserId)>;
  // Called when events for this node's users may have been lost on the way:
  // those users' sessions should read their inboxes again, where every such
  // message is. `user` names the one user concerned (a publisher had to drop
  // an event for it); nullopt means any user here (the bus reconnected after
  // an outage, or a publisher dropped more than it could keep track of). On a
  // bus thread; must not block.
  using MissedFn = std::function<void(std::optional<UserId> user)>;

  Bus() = default;
  Bus(const Bus&) = delete;
  Bus& operator=(const Bus&) = delete;
  virtual ~Bus() = default;

  // Installs the callbacks and starts any background work. Call once, before
  // anything else.
  virtual void start(DeliverFn deliver, PresenceLostFn presence_lost, MissedFn missed) = 0;
  // Stops background work; no callback runs after it returns.
  virtual void stop() = 0;

  // Routes to every session of `envelope.to`, on any node. Fire and forget.
  virtual void publish(Envelope envelope) = 0;
  // publish() of each, in order; a bus may hand them on together (a group
  // message's fan-out: one post per event loop instead of one per member).
  virtual void publishAll(std::vector<Envelope> envelopes) {
    for (Envelope& e : envelopes) publish(std::move(e));
  }

  // A session of `user` logged in on this node. Returns true when this made
  // the user online cluster-wide (it had no session anywhere before).
  virtual Result<bool> attach(UserId user) = 0;
  // A session of `user` on this node ended. Returns true when the user now
  // has no session anywhere.
  virtual Result<bool> detach(UserId user) = 0;
  // Online state of each user, in the same order.
  virtual Result<std::vector<bool>> online(const std::vector<UserId>& users) = 0;

  // For the operator's metrics: envelopes accepted by publish() and not yet
  // handed on, and envelopes dropped from the fast path (queue full or the
  // shared bus unreachable). Any thread.
  virtual size_t queuedPublishes() const { return 0; }
  virtual uint64_t droppedPublishes() const { return 0; }
  // Where to record the publish lag (publish() until the envelope is handed
  // on). Set before start(); may stay null.
  void setMetrics(Metrics* metrics) { metrics_ = metrics; }

 protected:
  Metrics* metrics_ = nullptr;
};

using BusPtr = std::unique_ptr<Bus>;

// "local" (or empty) for the in-process bus, "redis://host:port" for Redis.
// `presence_ttl_ms`: how long a dead node's users stay "online" (Redis).
Result<BusPtr> openBus(const std::string& url, const std::string& node_id,
                       int64_t presence_ttl_ms = 15000);

}  // namespace parley
