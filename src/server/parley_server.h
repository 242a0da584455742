// ParleyServer: one node, assembled — store, bus, blocking pool, chat
// service, event loops and the TCP acceptor — with an orderly start and a
// graceful stop.
#pragma once

#include <memory>

#include "bus/bus.h"
#include "common/blocking_pool.h"
#include "common/metrics.h"
#include "common/status.h"
#include "server/config.h"
#include "server/connection_tracker.h"
#include "store/store.h"

// Declared only: whoever starts a node (main.cc) need not compile Asio and
// Beast for it.
namespace parley {
class ChatService;
}
namespace parley::net {
struct ConnectionOptions;
class EventLoopPool;
class TcpServer;
class WebServer;
}  // namespace parley::net

namespace parley::server {

class AdminServer;

class ParleyServer {
 public:
  explicit ParleyServer(Config config);
  ~ParleyServer();

  // Opens the store and bus, binds the port and starts serving. On error the
  // server is left stopped and the status says why.
  Status start();
  // The Prometheus text of /metrics. Any thread.
  std::string renderMetrics();
  // /healthz: true when the store answers; `detail` says why not. Blocks up
  // to the store's timeouts. Any thread.
  bool checkHealth(std::string* detail);
  // Graceful stop: no new connections, every client told `shutdown`, replies
  // in flight finished (bounded wait), store work drained. Idempotent.
  void stop();

  // The bound ports (0: not listening).
  uint16_t port() const;
  uint16_t adminPort() const;
  uint16_t webPort() const;

 private:
  // The web listener (browser client + WebSocket), when configured.
  Status startWeb(const net::ConnectionOptions& options);
  Status startAdmin();

  Config config_;
  // Before every member that counts into it (store, bus, service, loops):
  // destroyed after their threads have stopped.
  Metrics metrics_;
  StorePtr store_;
  BusPtr bus_;
  std::unique_ptr<BlockingPool> pool_;
  std::unique_ptr<ChatService> service_;
  std::unique_ptr<net::EventLoopPool> loops_;
  // After loops_: the listeners go first (a pending accept holds a socket
  // on one of the loops).
  std::unique_ptr<net::TcpServer> tcp_;
  std::unique_ptr<net::WebServer> web_;
  ConnectionTracker tracker_;
  double start_time_seconds_ = 0;
  std::unique_ptr<AdminServer> admin_;
  bool stopped_ = false;
};

}  // namespace parley::server
