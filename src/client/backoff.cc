#include "client/backoff.h"

#include <algorithm>

namespace parley::client {

Backoff::Backoff(Options options)
    : options_(options), rng_(options.seed != 0 ? options.seed : std::random_device{}()) {}

std::optional<std::chrono::milliseconds> Backoff::next() {
  if (options_.max_attempts && attempts_ >= *options_.max_attempts) return std::nullopt;
  // first * 2^attempts, computed in double so a long outage cannot overflow.
  double base = static_cast<double>(options_.first.count());
  for (int i = 0; i < attempts_ && base < static_cast<double>(options_.max.count()); ++i) {
    base *= 2;
  }
  base = std::min(base, static_cast<double>(options_.max.count()));
  ++attempts_;
  double factor = 1.0;
  if (options_.jitter > 0) {
    std::uniform_real_distribution<double> spread(1.0 - options_.jitter, 1.0 + options_.jitter);
    factor = spread(rng_);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(base * factor));
}

}  // namespace parley::client
