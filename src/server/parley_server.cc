#include "server/parley_server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "net/tls_stream.h"
#include "protocol/reply.h"
#include "server/client_channel.h"

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

Status ParleyServer::start() {
  auto store = openStore(config_.storeUrl());
  if (!store.ok()) return Status(store.status().code(), "store: " + store.status().message());
  store_ = std::move(store).value();
  auto bus = openBus(config_.bus, config_.node_id, int64_t{config_.presence_ttl} * 1000);
  if (!bus.ok()) return Status(bus.status().code(), "bus: " + bus.status().message());
  bus_ = std::move(bus).value();

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
      *loops_, conn, [this](const net::ConnectionPtr& c) -> std::unique_ptr<net::LineHandler> {
        auto channel = std::make_shared<ClientChannel>(*service_, c);
        return std::make_unique<ClientLineHandler>(channel, tracker_);
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
  if (config_.admin_port != 0 || !config_.admin_port_file.empty()) {
    admin_ = std::make_unique<AdminServer>([this] { return renderMetrics(); },
                                           [this](std::string* detail) {
                                             Status st = store_->ping();
                                             *detail = st.ok() ? "ok" : "store: " + st.toString();
                                             return st.ok();
                                           });
    Status admin = admin_->listen(config_.host, config_.admin_port);
    if (!admin.ok()) return admin;
    admin_->start();
    spdlog::info("admin endpoint on http://{}:{}/metrics and /healthz", config_.host,
                 admin_->port());
  }
  spdlog::info(
      "parley-server listening on {}:{}{} | store {} | bus {} | node {} | {} loop threads, "
      "{} blocking threads",
      config_.host, tcp_->port(), config_.tls_cert.empty() ? "" : " (TLS)",
      config_.store.empty() ? "sqlite:" + config_.data : redactedStoreUrl(config_.store),
      config_.bus, config_.node_id, config_.threads, config_.blocking_threads);
  return Status::Ok();
}

std::string ParleyServer::renderMetrics() {
  std::string out;
  auto line = [&out](const std::string& help, const std::string& type, const std::string& name,
                     const std::string& value) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    out += name + " " + value + "\n";
  };
  line("Connections accepted since start.", "counter", "parley_connections_accepted_total",
       std::to_string(tcp_ ? tcp_->accepted() : 0));
  line("Open client connections.", "gauge", "parley_connections_open",
       std::to_string(tcp_ ? tcp_->open() : 0));
  line("Logged-in sessions on this node.", "gauge", "parley_sessions",
       std::to_string(service_ ? service_->registry().sessionCount() : 0));
  line("Successful logins and resumes.", "counter", "parley_logins_total",
       std::to_string(metrics_.logins.load()));
  line("Requests answered.", "counter", "parley_requests_total",
       std::to_string(metrics_.requests.load()));
  out +=
      "# HELP parley_errors_total Error responses by code.\n# TYPE parley_errors_total counter\n";
  for (int c = 1; c < static_cast<int>(metrics_.errors_by_code.size()); ++c) {
    out += std::string("parley_errors_total{code=\"") + codeName(static_cast<Code>(c)) + "\"} " +
           std::to_string(metrics_.errors_by_code[static_cast<size_t>(c)].load()) + "\n";
  }
  out +=
      "# HELP parley_messages_stored_total Messages durably stored.\n"
      "# TYPE parley_messages_stored_total counter\n";
  out += "parley_messages_stored_total{kind=\"direct\"} " +
         std::to_string(metrics_.direct_messages.load()) + "\n";
  out += "parley_messages_stored_total{kind=\"group\"} " +
         std::to_string(metrics_.group_messages.load()) + "\n";
  line("Message events written to sessions (live and replay).", "counter",
       "parley_deliveries_total", std::to_string(metrics_.deliveries.load()));
  line("Store and hashing work waiting for a thread.", "gauge", "parley_blocking_queue_depth",
       std::to_string(pool_ ? pool_->queued() : 0));
  out +=
      "# HELP parley_store_commit_seconds Time to durably store one message.\n"
      "# TYPE parley_store_commit_seconds histogram\n";
  metrics_.store_commit.render("parley_store_commit_seconds", &out);
  return out;
}

void ParleyServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (admin_) admin_->stop();
  if (tcp_) tcp_->stopAccepting();
  // Say goodbye to every client, then give replies in flight and the
  // goodbyes a bounded time to go out.
  if (loops_) {
    auto channels = tracker_.all();
    spdlog::info("shutting down: closing {} connections", channels.size());
    for (auto& channel : channels) channel->shutdown("server shutting down");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (tracker_.size() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  if (pool_) pool_->shutdown();  // finishes queued store work (acks, presence)
  if (loops_) loops_->stop();
  if (service_) service_->stop();
  tcp_.reset();
  loops_.reset();
  service_.reset();
  pool_.reset();
  bus_.reset();
  store_.reset();  // closes the database cleanly
}

}  // namespace parley::server
