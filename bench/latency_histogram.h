// LatencyHistogram: an HDR-style log-linear histogram of microseconds.
// Values below 1024 us are exact; above, each power of two is split into 64
// buckets (about 1.6% relative precision), up to ~1 hour. Fixed size, no
// allocation per sample, and mergeable (worker processes add theirs up).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 6;  // 64 buckets per power of two
  static constexpr int kLinear = 1024;
  static constexpr int kMaxPow = 32;
  static constexpr size_t kBuckets = kLinear + (kMaxPow - 10) * (1 << kSubBits);

  void record(uint64_t us) {
    counts_[indexOf(us)]++;
    total_++;
    if (us > max_) max_ = us;
  }
  void merge(const LatencyHistogram& o) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
  }
  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }

  // The value at quantile q (0..1), as the upper edge of its bucket.
  uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upperOf(i), max_);
    }
    return max_;
  }

  // Sparse text form "index:count,..." for passing between processes.
  std::string serialize() const {
    std::string out;
    for (size_t i = 0; i < kBuckets; ++i) {
      if (counts_[i]) out += std::to_string(i) + ":" + std::to_string(counts_[i]) + ",";
    }
    return out + "max:" + std::to_string(max_);
  }
  void deserializeAndMerge(const std::string& s) {
    size_t pos = 0;
    while (pos < s.size()) {
      size_t colon = s.find(':', pos), comma = s.find(',', pos);
      if (colon == std::string::npos) break;
      std::string key = s.substr(pos, colon - pos);
      uint64_t value = std::stoull(s.substr(colon + 1, comma - colon - 1));
      if (key == "max") {
        if (value > max_) max_ = value;
      } else {
        counts_[std::stoul(key)] += value;
        total_ += value;
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }

 private:
  static size_t indexOf(uint64_t v) {
    if (v < kLinear) return v;
    int pow = 63 - std::countl_zero(v);  // >= 10
    if (pow >= kMaxPow) return kBuckets - 1;
    uint64_t sub = (v >> (pow - kSubBits)) & ((1 << kSubBits) - 1);
    return kLinear + static_cast<size_t>(pow - 10) * (1 << kSubBits) + sub;
  }
  static uint64_t upperOf(size_t i) {
    if (i < kLinear) return i;
    size_t k = i - kLinear;
    int pow = static_cast<int>(k >> kSubBits) + 10;
    uint64_t sub = k & ((1 << kSubBits) - 1);
    return ((uint64_t{1} << kSubBits) + sub + 1) << (pow - kSubBits);
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace parley::bench
