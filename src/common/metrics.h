// Metrics: the counters an operator watches, as lock-free atomics that any
// thread may bump, rendered in Prometheus text format by the admin server.
// One instance per node, owned by the server and handed to the layers that
// count (by pointer; a null pointer means "not counted", e.g. in unit tests).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace parley {

// A fixed-bucket latency histogram (seconds), as Prometheus expects.
class LatencyBuckets {
 public:
  static constexpr std::array<double, 11> kBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,  0.5,   1.0};
  void observe(std::chrono::nanoseconds d) {
    double s = std::chrono::duration<double>(d).count();
    for (size_t i = 0; i < kBounds.size(); ++i) {
      if (s <= kBounds[i]) counts_[i].fetch_add(1, std::memory_order_relaxed);
    }
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(d.count()), std::memory_order_relaxed);
  }
  // Appends the _bucket/_sum/_count lines of metric `name`.
  void render(const std::string& name, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size()> counts_{};  // cumulative per bound
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

struct Metrics {
  std::atomic<uint64_t> requests{0};
  std::array<std::atomic<uint64_t>, 10> errors_by_code{};  // indexed by Code
  std::atomic<uint64_t> logins{0};
  std::atomic<uint64_t> direct_messages{0};
  std::atomic<uint64_t> group_messages{0};
  std::atomic<uint64_t> deliveries{0};  // message events written to sessions (live + replay)
  LatencyBuckets store_commit;          // appendDirect / appendGroup

  void countError(Code code) {
    errors_by_code[static_cast<size_t>(code)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace parley
