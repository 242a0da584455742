#include "common/metrics.h"

#include <cstdio>

namespace parley {

void LatencyBuckets::observe(std::chrono::nanoseconds d) {
  double s = std::chrono::duration<double>(d).count();
  size_t i = 0;
  while (i < kBounds.size() && s > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(d.count() < 0 ? 0 : d.count()),
                    std::memory_order_relaxed);
}

void LatencyBuckets::render(const std::string& name, const std::string& help,
                            std::string* out) const {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  char buf[160];
  // Cumulative counts from one pass over the slots, so that the +Inf bucket
  // and _count agree even while other threads keep observing.
  unsigned long long cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), kBounds[i],
                  cumulative);
    *out += buf;
  }
  cumulative += buckets_[kBounds.size()].load(std::memory_order_relaxed);
  std::snprintf(buf, sizeof buf, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n",
                name.c_str(), cumulative, name.c_str(),
                static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9, name.c_str(),
                cumulative);
  *out += buf;
}

}  // namespace parley
