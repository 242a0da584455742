// The text of GET /metrics: the node's counters (Metrics) plus gauges read
// at scrape time, in Prometheus text exposition format 0.0.4. The metric
// names and their meaning are listed in docs/operations.md; keep the two in
// step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/metrics.h"

namespace parley::server {

// Values sampled from the server's parts when the page is rendered.
struct Gauges {
  uint64_t tcp_accepted = 0;  // since start
  uint64_t tcp_open = 0;
  uint64_t web_accepted = 0;  // HTTP/WebSocket port
  uint64_t web_open = 0;
  uint64_t websockets_open = 0;  // of web_open, those upgraded to WebSocket
  size_t sessions = 0;           // logged-in sessions on this node
  size_t blocking_queue = 0;     // store/hashing tasks waiting for a thread
  size_t blocking_threads = 0;
  size_t bus_queue = 0;  // envelopes waiting to be published
  uint64_t bus_dropped = 0;
  double start_time_seconds = 0;  // Unix time the node started
};

std::string renderMetrics(const Metrics& metrics, const Gauges& gauges);

}  // namespace parley::server
