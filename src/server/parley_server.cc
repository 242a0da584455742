#include "server/parley_server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "net/event_loop_pool.h"
#include "net/loop_lag_probe.h"
#include "net/post_batch.h"
#include "net/tcp_server.h"
#include "net/tls_stream.h"
#include "net/web_server.h"
#include "protocol/reply.h"
#include "server/admin_server.h"
#include "server/client_channel.h"
#include "server/metrics_page.h"
#include "server/web_root.h"
#include "service/chat_service.h"

namespace parley::server {
namespace {

// The store URL for the log, without its password.
std::string redactedStoreUrl(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.rfind('@');
  size_t colon = scheme == std::string::npos ? std::string::npos : url.find(':', scheme + 3);
  if (at == std::string::npos || colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace

ParleyServer::ParleyServer(Config config) : config_(std::move(config)) {
  if (config_.threads == 0) config_.threads = std::max(1u, std::thread::hardware_concurrency());
  if (config_.node_id.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    config_.node_id = std::string(host) + "-" + std::to_string(getpid());
  }
}

ParleyServer::~ParleyServer() { stop(); }

uint16_t ParleyServer::port() const { return tcp_ ? tcp_->port() : 0; }
uint16_t ParleyServer::adminPort() const { return admin_ ? admin_->port() : 0; }
uint16_t ParleyServer::webPort() const { return web_ ? web_->port() : 0; }

Status ParleyServer::start() {
  StoreOptions store_options;
  store_options.metrics = &metrics_;
  store_options.wal_sync_interval = std::chrono::microseconds(config_.wal_sync_interval_us);
  auto store = openStore(config_.storeUrl(), store_options);
  if (!store.ok()) return Status(store.status().code(), "store: " + store.status().message());
  store_ = std::move(store).value();
  // A commit's replies and events reach each event loop as one handler.
  store_->setCompletionScope([](const std::function<void()>& run_all) {
    net::PostBatch batch;
    run_all();
  });
  auto bus = openBus(config_.bus, config_.node_id, int64_t{config_.presence_ttl} * 1000);
  if (!bus.ok()) return Status(bus.status().code(), "bus: " + bus.status().message());
  bus_ = std::move(bus).value();
  bus_->setMetrics(&metrics_);
  start_time_seconds_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

  auto hash_cost = parseHashCost(config_.hash_cost);
  if (!hash_cost.ok()) return hash_cost.status();
  ServiceOptions options;
  options.hash_cost = hash_cost.value();
  options.token_ttl = std::chrono::hours(config_.token_ttl_hours);
  options.connection_message_rate = config_.rate_per_connection;
  options.connection_message_burst = 2 * config_.rate_per_connection;
  options.user_message_rate = config_.rate_per_user;
  options.user_message_burst = 2 * config_.rate_per_user;
  options.login_failures_per_minute_per_name = config_.login_failures_per_minute;
  options.login_failures_per_minute_per_address = 6 * config_.login_failures_per_minute;
  options.max_group_members = config_.max_group_size;
  options.max_friends = config_.max_friends;
  options.metrics = &metrics_;
  pool_ = std::make_unique<BlockingPool>("blocking", config_.blocking_threads,
                                         config_.max_pending_tasks);
  service_ = std::make_unique<ChatService>(*store_, *bus_, *pool_, options);
  service_->start();

  loops_ = std::make_unique<net::EventLoopPool>(config_.threads);
  for (size_t i = 0; i < loops_->size(); ++i) {
    net::startLoopLagProbe(loops_->at(i), &metrics_.loop_lag, std::chrono::milliseconds(10));
  }
  net::ConnectionOptions conn;
  conn.max_line_bytes = config_.max_line;
  conn.max_line_bytes_before_auth = config_.max_line_before_login;
  conn.handshake_timeout = std::chrono::seconds(config_.handshake_timeout);
  conn.max_queued_bytes = config_.max_queued_bytes;
  conn.idle_timeout = std::chrono::seconds(config_.idle_timeout);
  conn.max_connections = config_.max_connections;
  conn.max_connections_per_address = config_.max_connections_per_address;
  conn.reject_line = protocol::serializeError(
      nullptr, Status::Unavailable("too many connections; try again later"));
  tcp_ = std::make_unique<net::TcpServer>(
      *loops_, conn, [this](const net::ConnectionPtr& c) -> std::shared_ptr<net::LineHandler> {
        return ClientChannel::create(*service_, c, tracker_);
      });
  if (!config_.tls_cert.empty()) {
    auto tls = net::TlsContext::loadServer(config_.tls_cert, config_.tls_key);
    if (!tls.ok()) return tls.status();
    tcp_->setStreamFactory([tls = std::move(tls).value()](boost::asio::ip::tcp::socket socket) {
      return tls->wrap(std::move(socket));
    });
  }
  Status listened = tcp_->listen(config_.host, config_.port);
  if (!listened.ok()) return listened;
  tcp_->start();
  Status web = startWeb(conn);
  if (!web.ok()) return web;
  Status admin = startAdmin();
  if (!admin.ok()) return admin;
  spdlog::info(
      "parley-server listening on {}:{}{} | store {} | bus {} | node {} | {} loop threads, "
      "{} blocking threads",
      config_.host, tcp_->port(), config_.tls_cert.empty() ? "" : " (TLS)",
      config_.store.empty() ? "sqlite:" + config_.data : redactedStoreUrl(config_.store),
      config_.bus, config_.node_id, config_.threads, config_.blocking_threads);
  return Status::Ok();
}

Status ParleyServer::startWeb(const net::ConnectionOptions& options) {
  if (config_.web_port == 0 && config_.web_port_file.empty()) return Status::Ok();
  net::StaticFilesPtr files;
  std::string root = findWebRoot(config_.web_root);
  if (root.empty()) {
    spdlog::warn("no web client found (set --web-root); serving WebSocket only");
  } else {
    auto loaded = net::StaticFiles::load(root);
    // A web root that was asked for and cannot be served is a configuration
    // error; one merely looked for is not.
    if (!loaded.ok() && !config_.web_root.empty()) return loaded.status();
    if (loaded.ok()) files = std::move(loaded).value();
  }
  web_ = std::make_unique<net::WebServer>(
      *loops_, options, files,
      [this](const net::TransportPtr& t) -> std::shared_ptr<net::LineHandler> {
        return ClientChannel::create(*service_, t, tracker_);
      });
  Status listened = web_->listen(config_.host, config_.web_port);
  if (!listened.ok()) return listened;
  web_->start();
  spdlog::info("web client on http://{}:{}/ ({}), WebSocket on ws://{}:{}/ws", config_.host,
               web_->port(), files ? files->root() : "no files", config_.host, web_->port());
  return Status::Ok();
}

Status ParleyServer::startAdmin() {
  if (config_.admin_port == 0 && config_.admin_port_file.empty()) return Status::Ok();
  const std::string& host = config_.admin_host.empty() ? config_.host : config_.admin_host;
  admin_ =
      std::make_unique<AdminServer>([this] { return renderMetrics(); },
                                    [this](std::string* detail) { return checkHealth(detail); });
  Status listened = admin_->listen(host, config_.admin_port);
  if (!listened.ok()) return listened;
  admin_->start();
  spdlog::info("admin endpoint on http://{}:{}/metrics and /healthz", host, admin_->port());
  return Status::Ok();
}

std::string ParleyServer::renderMetrics() {
  Gauges g;
  g.start_time_seconds = start_time_seconds_;
  if (tcp_) {
    g.tcp_accepted = tcp_->accepted();
    g.tcp_open = tcp_->open();
  }
  if (web_) {
    g.web_accepted = web_->accepted();
    g.web_open = web_->open();
    g.websockets_open = web_->websockets();
  }
  if (service_) g.sessions = service_->registry().sessionCount();
  if (pool_) {
    g.blocking_queue = pool_->queued();
    g.blocking_threads = pool_->threadCount();
  }
  if (bus_) {
    g.bus_queue = bus_->queuedPublishes();
    g.bus_dropped = bus_->droppedPublishes();
  }
  return server::renderMetrics(metrics_, g);
}

bool ParleyServer::checkHealth(std::string* detail) {
  // The store is the truth: without it nothing can be sent or replayed, so
  // a node that cannot reach it should be taken out of rotation.
  Status st = store_ ? store_->ping() : Status::Unavailable("not started");
  *detail = st.ok() ? "ok" : "store unreachable: " + st.toString();
  return st.ok();
}

void ParleyServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (admin_) admin_->stop();
  if (tcp_) tcp_->stopAccepting();
  if (web_) web_->stopAccepting();
  // Say goodbye to every client, then give replies in flight and the
  // goodbyes a bounded time to go out.
  if (loops_) {
    auto channels = tracker_.all();
    spdlog::info("shutting down: closing {} connections", channels.size());
    for (auto& channel : channels) channel->shutdown();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (tracker_.size() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (pool_) pool_->shutdown();  // finishes queued pool work (presence, logins)
  if (loops_) loops_->stop();
  // Queued appends and acks complete now, while the loops' io_contexts and
  // the bus their completions post to still exist.
  if (store_) store_->drain();
  if (service_) service_->stop();
  tcp_.reset();  // before loops_: a pending accept holds a socket on a loop
  web_.reset();
  loops_.reset();
  service_.reset();
  pool_.reset();
  bus_.reset();
  store_.reset();  // closes the database cleanly
}

}  // namespace parley::server
