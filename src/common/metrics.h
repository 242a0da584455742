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
// observe() is one relaxed increment per counter touched (bucket, count,
// sum), cheap enough for every message; render() makes the buckets
// cumulative. Thread safety: any thread.
class LatencyBuckets {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

  void observe(std::chrono::nanoseconds d);
  // Appends the # HELP/# TYPE header and the _bucket/_sum/_count lines of
  // metric `name`.
  void render(const std::string& name, const std::string& help, std::string* out) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  // One slot per bound plus one for "above the last bound" (+Inf only).
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

struct Metrics {
  std::atomic<uint64_t> requests{0};                       // requests answered
  std::array<std::atomic<uint64_t>, 10> errors_by_code{};  // error replies, indexed by Code
  std::atomic<uint64_t> logins{0};                         // successful login + resume
  // Messages in: accepted from this node's clients and durably stored.
  std::atomic<uint64_t> direct_messages{0};
  std::atomic<uint64_t> group_messages{0};
  // Messages out: message events written to this node's clients, live (as
  // they happen) or replayed from the inbox after a login.
  std::atomic<uint64_t> messages_out_live{0};
  std::atomic<uint64_t> messages_out_replay{0};
  // Envelopes (messages and other events) the bus routed to sessions here.
  std::atomic<uint64_t> bus_deliveries{0};
  // Requests received and waiting behind the one running on their
  // connection (pipelining), summed over connections. A gauge.
  std::atomic<int64_t> requests_waiting{0};
  LatencyBuckets store_commit;     // storing one message (appendDirect / appendGroup)
  LatencyBuckets bus_publish_lag;  // publish() until the bus has handed the envelope on
  LatencyBuckets loop_lag;         // how late an event loop ran a timer (net::startLoopLagProbe)
  // The embedded store's disk (SqliteStore): its fsync of the WAL, which
  // every acknowledgement waits for, and how long its writer was held so
  // that the WAL could start over (every message waits meanwhile). They
  // tell a slow disk from a slow server.
  LatencyBuckets store_wal_sync;
  LatencyBuckets store_writer_hold;

  void countError(Code code) {
    errors_by_code[static_cast<size_t>(code)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace parley
