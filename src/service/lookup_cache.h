// LookupCache: answers the send path's lookups without a database round trip.
// Only facts that never change once true are kept: a name's user (names are
// never renamed or freed), a group name's group (groups are never deleted)
// and a friendship (there is no unfriending). So an entry is right on every
// node of a cluster, with no invalidation; a miss simply asks the store.
//
// Bounded: past kMaxEntries a map starts over. Thread safety: any thread.
#pragma once

#include <cctype>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/model.h"

namespace parley {

class LookupCache {
 public:
  static constexpr size_t kMaxEntries = 1 << 20;

  std::optional<User> user(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = users_.find(key(name));
    if (it == users_.end()) return std::nullopt;
    return it->second;
  }
  void putUser(const std::string& name, const User& user) {
    std::lock_guard<std::mutex> lock(mu_);
    if (users_.size() >= kMaxEntries) users_.clear();
    users_.insert_or_assign(key(name), user);
  }

  std::optional<Group> group(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groups_.find(key(name));
    if (it == groups_.end()) return std::nullopt;
    return it->second;
  }
  void putGroup(const std::string& name, const Group& group) {
    std::lock_guard<std::mutex> lock(mu_);
    if (groups_.size() >= kMaxEntries) groups_.clear();
    groups_.insert_or_assign(key(name), group);
  }

  bool friends(UserId a, UserId b) {
    std::lock_guard<std::mutex> lock(mu_);
    return friends_.count(pair(a, b)) > 0;
  }
  void putFriends(UserId a, UserId b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (friends_.size() >= kMaxEntries) friends_.clear();
    friends_.insert(pair(a, b));
  }

 private:
  // Names are unique case-insensitively and ASCII (validated on the way in).
  static std::string key(const std::string& name) {
    std::string k = name;
    for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return k;
  }
  struct PairHash {
    size_t operator()(const std::pair<UserId, UserId>& p) const {
      return std::hash<UserId>()(p.first) * 31 + std::hash<UserId>()(p.second);
    }
  };
  static std::pair<UserId, UserId> pair(UserId a, UserId b) {
    return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
  }

  std::mutex mu_;
  std::unordered_map<std::string, User> users_;                      // guarded by mu_
  std::unordered_map<std::string, Group> groups_;                    // guarded by mu_
  std::unordered_set<std::pair<UserId, UserId>, PairHash> friends_;  // guarded by mu_
};

}  // namespace parley
