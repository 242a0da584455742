// Token buckets: `rate` tokens per second, at most `burst` saved up. Used to
// cap messages per connection and per user, and failed logins per name and
// per address (slowing down password guessing).
//
// TokenBucket is not thread safe (one per connection, on its loop).
// KeyedRateLimiter is: one mutex, and it forgets idle keys so a flood of
// distinct names cannot grow it without bound.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  // Takes one token if there is one. A rate of 0 means unlimited.
  bool tryTake(Clock::time_point now = Clock::now()) {
    if (rate_ <= 0) return true;
    refill(now);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }
  bool full(Clock::time_point now) {
    refill(now);
    return tokens_ >= burst_;
  }

 private:
  void refill(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      tokens_ =
          std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
    }
    last_ = now;
  }
  double rate_, burst_, tokens_;
  Clock::time_point last_{};
};

class KeyedRateLimiter {
 public:
  KeyedRateLimiter(double rate, double burst, size_t max_keys = 100000)
      : rate_(rate), burst_(burst), max_keys_(max_keys) {}

  // True while `key` has a token left (nothing is taken). Thread safe.
  bool allows(const std::string& key) {
    if (rate_ <= 0) return true;
    auto now = TokenBucket::Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = buckets_.find(key);
    if (it == buckets_.end()) return true;
    TokenBucket copy = it->second;  // peek without spending
    return copy.tryTake(now);
  }

  // Takes one token from `key`'s bucket. Thread safe.
  bool tryTake(const std::string& key) {
    if (rate_ <= 0) return true;
    auto now = TokenBucket::Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    if (buckets_.size() >= max_keys_) sweep(now);
    auto it = buckets_.try_emplace(key, rate_, burst_).first;
    return it->second.tryTake(now);
  }

 private:
  // Drops buckets that have refilled completely: they hold no information.
  void sweep(TokenBucket::Clock::time_point now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      it = it->second.full(now) ? buckets_.erase(it) : std::next(it);
    }
    if (buckets_.size() >= max_keys_) buckets_.clear();  // still full: start over
  }

  const double rate_, burst_;
  const size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, TokenBucket> buckets_;  // guarded by mu_
};

}  // namespace parley
