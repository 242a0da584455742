// SessionRegistry: which logged-in sessions this node holds for each user.
// The bus delivers an envelope here; the registry hands it to each of the
// user's sessions on that session's own loop.
//
// Holds weak references only: a session lives as long as its connection.
// Thread safety: every method may be called from any thread.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "bus/bus.h"
#include "common/model.h"

namespace parley {

class Session;

class SessionRegistry {
 public:
  void add(UserId user, const std::shared_ptr<Session>& session);
  void remove(UserId user, const Session* session);
  // Hands each envelope to every local session of envelope.to, on that
  // session's loop: one post per event loop for the whole batch (a group
  // message reaches a thousand members with two posts on two loops, not a
  // thousand), each session's envelopes in the given order.
  void deliver(std::span<const Envelope> envelopes);
  // Every live session (for the shutdown notice, and a bus resync).
  std::vector<std::shared_ptr<Session>> all();
  // The live sessions of one user.
  std::vector<std::shared_ptr<Session>> sessionsOf(UserId user);
  size_t sessionCount();

 private:
  // Sharded by user id so that deliveries from many threads rarely contend.
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;
    std::unordered_map<UserId, std::vector<std::weak_ptr<Session>>> sessions;  // guarded by mu
  };
  void deliverOne(const Envelope& envelope);
  Shard& shardOf(UserId user) { return shards_[static_cast<size_t>(user) % kShards]; }
  std::array<Shard, kShards> shards_;
};

}  // namespace parley
