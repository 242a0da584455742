// AdminServer: a small HTTP endpoint for operators, on its own port and
// thread (never on a client loop): GET /metrics (Prometheus text format) and
// GET /healthz (200 when the store answers, 503 otherwise). One request per
// connection, handled in turn; a read timeout keeps a stuck peer from
// blocking it for long.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "common/status.h"

namespace parley::server {

class AdminServer {
 public:
  using MetricsFn = std::function<std::string()>;
  // Fills `detail`; true when healthy.
  using HealthFn = std::function<bool(std::string* detail)>;

  AdminServer(MetricsFn metrics, HealthFn health);
  ~AdminServer();

  Status listen(const std::string& host, uint16_t port);
  void start();
  void stop();
  uint16_t port() const { return port_; }

 private:
  void serve();

  MetricsFn metrics_;
  HealthFn health_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;
};

}  // namespace parley::server
