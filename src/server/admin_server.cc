#include "server/admin_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>

namespace parley::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

// A scrape or probe sends a small request at once; anything slower is a
// stuck or hostile peer, cut off so the next scrape is not delayed.
constexpr std::chrono::seconds kRequestDeadline{5};
constexpr uint32_t kMaxHeaderBytes = 8 * 1024;

// One HTTP exchange: read a request, answer, close (no keep-alive: scrapers
// and probes open a connection per request anyway).
class AdminExchange : public std::enable_shared_from_this<AdminExchange> {
 public:
  AdminExchange(asio::ip::tcp::socket socket, AdminServer& server)
      : stream_(std::move(socket)), server_(server) {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(0);
  }

  void run() {
    stream_.expires_after(kRequestDeadline);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](error_code ec, size_t) { self->onRead(ec); });
  }

 private:
  void onRead(error_code ec) {
    if (ec) return;  // closed, timed out or malformed: nothing to answer
    const auto& req = parser_.get();
    AdminServer::Response r =
        server_.respond(std::string(req.method_string()), std::string(req.target()));
    res_.version(req.version());
    res_.result(r.status);
    res_.set(http::field::content_type, r.content_type);
    res_.set(http::field::cache_control, "no-store");
    res_.keep_alive(false);
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    stream_.expires_after(kRequestDeadline);
    http::async_write(stream_, res_, [self = shared_from_this()](error_code, size_t) {
      error_code ignored;
      self->stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    });
  }

  beast::tcp_stream stream_;
  AdminServer& server_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> res_;
};

}  // namespace

AdminServer::AdminServer(MetricsFn metrics, HealthFn health)
    : metrics_(std::move(metrics)), health_(std::move(health)) {}

AdminServer::~AdminServer() { stop(); }

Status AdminServer::listen(const std::string& host, uint16_t port) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::BadRequest("bad admin address '" + host + "'");
  asio::ip::tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(64, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on admin port " + host + ":" + std::to_string(port) +
                               ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void AdminServer::start() {
  accept();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "admin");
    io_.run();
  });
}

void AdminServer::stop() {
  asio::post(io_, [this] {
    error_code ec;
    acceptor_.close(ec);
  });
  io_.stop();
  if (thread_.joinable()) thread_.join();
  error_code ec;
  acceptor_.close(ec);
}

void AdminServer::accept() {
  acceptor_.async_accept([this](error_code ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<AdminExchange>(std::move(socket), *this)->run();
    accept();
  });
}

AdminServer::Response AdminServer::respond(const std::string& method, const std::string& target) {
  Response r;
  if (method != "GET") {
    r.status = 405;
    r.body = "GET only\n";
    return r;
  }
  // A query string (e.g. a cache-buster from a probe) does not change the page.
  std::string path = target.substr(0, target.find('?'));
  if (path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_();
  } else if (path == "/healthz") {
    std::string detail;
    bool ok = health_(&detail);
    r.status = ok ? 200 : 503;
    r.body = detail + "\n";
  } else {
    r.status = 404;
    r.body = "not found; try /metrics or /healthz\n";
  }
  return r;
}

}  // namespace parley::server
