#include "common/metrics.h"

#include <cstdio>

namespace parley {

void LatencyBuckets::render(const std::string& name, std::string* out) const {
  char buf[128];
  for (size_t i = 0; i < kBounds.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), kBounds[i],
                  static_cast<unsigned long long>(counts_[i].load()));
    *out += buf;
  }
  std::snprintf(buf, sizeof buf, "%s_bucket{le=\"+Inf\"} %llu\n", name.c_str(),
                static_cast<unsigned long long>(count_.load()));
  *out += buf;
  std::snprintf(buf, sizeof buf, "%s_sum %.9f\n%s_count %llu\n", name.c_str(),
                static_cast<double>(sum_ns_.load()) / 1e9, name.c_str(),
                static_cast<unsigned long long>(count_.load()));
  *out += buf;
}

}  // namespace parley
