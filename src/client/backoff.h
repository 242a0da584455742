// Backoff: when to try reconnecting after the connection to the server broke.
// Delays double from `first` up to `max`, each spread by +-jitter so that the
// clients of a crashed node do not all come back in the same millisecond.
// Pure arithmetic with a seeded generator, unit-tested; the terminal loop
// owns the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace parley::client {

class Backoff {
 public:
  struct Options {
    std::chrono::milliseconds first{200};
    std::chrono::milliseconds max{15000};
    double jitter = 0.2;  // each delay is scaled by a factor in [1-jitter, 1+jitter]
    // Attempts before giving up; nullopt: never (a person can type /quit).
    std::optional<int> max_attempts;
    uint64_t seed = 0;  // 0: from std::random_device
  };

  Backoff() : Backoff(Options{}) {}
  explicit Backoff(Options options);

  // The wait before the next attempt, counting it; nullopt once max_attempts
  // attempts were handed out since the last reset().
  std::optional<std::chrono::milliseconds> next();
  // A connection worked: the next failure starts again from `first`.
  void reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }

 private:
  Options options_;
  int attempts_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace parley::client
