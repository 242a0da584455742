#include "service/session_registry.h"

#include <algorithm>

#include "service/session.h"

namespace parley {

void SessionRegistry::add(UserId user, const std::shared_ptr<Session>& session) {
  Shard& shard = shardOf(user);
  std::lock_guard<std::mutex> lock(shard.mu);
  shard.sessions[user].push_back(session);
}

void SessionRegistry::remove(UserId user, const Session* session) {
  Shard& shard = shardOf(user);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.sessions.find(user);
  if (it == shard.sessions.end()) return;
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [session](const std::weak_ptr<Session>& w) {
                              auto s = w.lock();
                              return !s || s.get() == session;
                            }),
             list.end());
  if (list.empty()) shard.sessions.erase(it);
}

void SessionRegistry::deliver(const Envelope& envelope) {
  std::vector<std::shared_ptr<Session>> targets;
  {
    Shard& shard = shardOf(envelope.to);
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.sessions.find(envelope.to);
    if (it == shard.sessions.end()) return;
    for (auto& w : it->second) {
      if (auto s = w.lock()) targets.push_back(std::move(s));
    }
  }
  // Post outside the lock: posting may allocate, and the session's loop
  // does the rest (ordering, dedup, writing).
  for (auto& s : targets) {
    s->sink().post([s, envelope] { s->onEnvelope(envelope); });
  }
}

std::vector<std::shared_ptr<Session>> SessionRegistry::all() {
  std::vector<std::shared_ptr<Session>> result;
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (auto& [user, list] : shard.sessions) {
      for (auto& w : list) {
        if (auto s = w.lock()) result.push_back(std::move(s));
      }
    }
  }
  return result;
}

size_t SessionRegistry::sessionCount() {
  size_t n = 0;
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    for (auto& [user, list] : shard.sessions) n += list.size();
  }
  return n;
}

}  // namespace parley
