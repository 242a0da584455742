// AdminServer: a small HTTP endpoint for operators, on its own port and its
// own thread (never on a client loop, so a slow scrape or a health check
// that waits on the database cannot delay chat traffic):
//   GET /metrics  Prometheus text format
//   GET /healthz  200 "ok" when the store answers, 503 with the reason if not
// Requests are served one at a time (health checks may block on the store,
// bounded by its timeouts); each connection has a deadline, so a peer that
// sends nothing cannot hold the endpoint.
//
// Thread safety: listen/start/stop from one controlling thread; the
// callbacks run on the admin thread.
#pragma once

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

  struct Response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
  };

  AdminServer(MetricsFn metrics, HealthFn health);
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;
  ~AdminServer();

  // Binds (port 0 picks a free one; see port()). Unavailable if it cannot.
  Status listen(const std::string& host, uint16_t port);
  void start();
  // Stops accepting and serving, joins the thread. Idempotent.
  void stop();
  uint16_t port() const { return port_; }

  // The answer to one request (method and target as received).
  Response respond(const std::string& method, const std::string& target);

 private:
  void accept();

  MetricsFn metrics_;
  HealthFn health_;
  boost::asio::io_context io_{1};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace parley::server
