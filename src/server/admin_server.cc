#include "server/admin_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace parley::server {
namespace asio = boost::asio;
namespace http = boost::beast::http;

AdminServer::AdminServer(MetricsFn metrics, HealthFn health)
    : metrics_(std::move(metrics)), health_(std::move(health)) {}

AdminServer::~AdminServer() { stop(); }

Status AdminServer::listen(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  asio::ip::tcp::endpoint ep(asio::ip::make_address(host, ec), port);
  if (ec) return Status::BadRequest("bad admin address " + host);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(16, ec);
  if (ec) return Status::Unavailable("cannot listen on admin port: " + ec.message());
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void AdminServer::start() {
  thread_ = std::thread([this] { serve(); });
}

void AdminServer::stop() {
  if (stopping_.exchange(true)) return;
  boost::system::error_code ec;
  acceptor_.cancel(ec);
  // shutdown() wakes a blocking accept(); close() alone may not.
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  acceptor_.close(ec);
}

void AdminServer::serve() {
  while (!stopping_) {
    boost::system::error_code ec;
    asio::ip::tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (ec) {
      if (stopping_) return;
      continue;
    }
    timeval tv{2, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) continue;
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(false);
    std::string target(req.target());
    if (req.method() != http::verb::get) {
      res.result(http::status::method_not_allowed);
      res.body() = "GET only\n";
    } else if (target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = metrics_();
    } else if (target == "/healthz") {
      std::string detail;
      bool ok = health_(&detail);
      res.result(ok ? http::status::ok : http::status::service_unavailable);
      res.set(http::field::content_type, "text/plain");
      res.body() = detail + "\n";
    } else {
      res.result(http::status::not_found);
      res.body() = "try /metrics or /healthz\n";
    }
    res.prepare_payload();
    http::write(socket, res, ec);
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
}

}  // namespace parley::server
