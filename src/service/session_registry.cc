#include "service/session_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

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

void SessionRegistry::deliver(std::span<const Envelope> envelopes) {
  if (envelopes.size() == 1) {
    deliverOne(envelopes.front());
    return;
  }
  // The batch is copied once and shared by the loops' handlers.
  auto batch = std::make_shared<const std::vector<Envelope>>(envelopes.begin(), envelopes.end());
  struct Target {
    std::shared_ptr<Session> session;
    uint32_t envelope;  // index into *batch
  };
  // One bucket per loop; a server has a handful of loops, so a vector
  // searched linearly beats a map. Sinks without a loop key get their own.
  std::vector<std::pair<const void*, std::vector<Target>>> buckets;
  for (uint32_t i = 0; i < batch->size(); ++i) {
    UserId to = (*batch)[i].to;
    Shard& shard = shardOf(to);
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.sessions.find(to);
    if (it == shard.sessions.end()) continue;
    for (auto& w : it->second) {
      auto s = w.lock();
      if (!s) continue;
      const void* key = s->sink().loopKey();
      auto bucket = std::find_if(buckets.begin(), buckets.end(),
                                 [key](const auto& b) { return key && b.first == key; });
      if (bucket == buckets.end()) bucket = buckets.insert(buckets.end(), {key, {}});
      bucket->second.push_back(Target{std::move(s), i});
    }
  }
  // Post outside the locks: posting may allocate, and the loop does the
  // rest (ordering, dedup, writing). A sink whose connection is already gone
  // refuses the post; another session of the same loop carries the bucket.
  for (auto& [key, targets] : buckets) {
    auto shared = std::make_shared<std::vector<Target>>(std::move(targets));
    auto run = [batch, shared] {
      // One session's failure must not cost the others their events.
      for (const Target& t : *shared) {
        try {
          t.session->onEnvelope((*batch)[t.envelope]);
        } catch (const std::exception& e) {
          spdlog::error("delivery failed: {}", e.what());
        }
      }
    };
    for (const Target& t : *shared) {
      if (t.session->sink().post(run)) break;
    }
  }
}

void SessionRegistry::deliverOne(const Envelope& envelope) {
  // The common case (a 1:1 message, presence): no batch bookkeeping, one
  // post per session of the recipient, as few allocations as possible on
  // the publishing thread (the store's writer thread, for messages).
  std::shared_ptr<Session> first;
  std::vector<std::shared_ptr<Session>> more;
  {
    Shard& shard = shardOf(envelope.to);
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.sessions.find(envelope.to);
    if (it == shard.sessions.end()) return;
    for (auto& w : it->second) {
      auto s = w.lock();
      if (!s) continue;
      if (!first) {
        first = std::move(s);
      } else {
        more.push_back(std::move(s));
      }
    }
  }
  if (!first) return;
  first->sink().post([s = first, envelope] { s->onEnvelope(envelope); });
  for (auto& s : more) s->sink().post([s, envelope] { s->onEnvelope(envelope); });
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

std::vector<std::shared_ptr<Session>> SessionRegistry::sessionsOf(UserId user) {
  std::vector<std::shared_ptr<Session>> result;
  Shard& shard = shardOf(user);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.sessions.find(user);
  if (it == shard.sessions.end()) return result;
  for (auto& w : it->second) {
    if (auto s = w.lock()) result.push_back(std::move(s));
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
