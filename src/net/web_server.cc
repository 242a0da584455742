#include "net/web_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "net/http_session.h"

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

WebServer::WebServer(EventLoopPool& loops, ConnectionOptions options, StaticFilesPtr files,
                     HandlerFactory factory)
    : loops_(loops),
      options_(std::move(options)),
      files_(std::move(files)),
      factory_(std::move(factory)),
      admission_(std::make_shared<Admission>(options_.max_connections,
                                             options_.max_connections_per_address)) {}

WebServer::~WebServer() {
  stopAccepting();
  if (accept_thread_.joinable()) accept_thread_.join();
}

Status WebServer::listen(const std::string& host, uint16_t port) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::BadRequest("bad listen address '" + host + "': " + ec.message());
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) +
                               " (web): " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void WebServer::start() {
  accept();
  accept_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "web-acceptor");
    accept_context_.run();
  });
}

void WebServer::stopAccepting() {
  asio::post(accept_context_, [this] {
    error_code ec;
    acceptor_.close(ec);
    retry_timer_.cancel();
  });
  accept_context_.stop();
  if (accept_thread_.joinable() && accept_thread_.get_id() != std::this_thread::get_id()) {
    accept_thread_.join();
  }
  error_code ec;
  acceptor_.close(ec);
}

void WebServer::accept() {
  asio::io_context& loop = loops_.next();
  acceptor_.async_accept(loop, [this, &loop](const error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      spdlog::warn("web accept failed: {}; retrying in 100 ms", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([this](const error_code& e) {
        if (!e) accept();
      });
      return;
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    error_code addr_ec;
    std::string address = socket.remote_endpoint(addr_ec).address().to_string();
    if (!admission_->admit(address)) {
      // Over a limit: a short 503 carrying the protocol's error object (a
      // small write into an empty socket buffer does not block), then close.
      std::string body = options_.reject_line;
      std::string reply =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Connection: close\r\nContent-Length: " +
          std::to_string(body.size()) + "\r\n\r\n" + body;
      error_code ignored;
      socket.non_blocking(true, ignored);
      socket.write_some(asio::buffer(reply), ignored);
      socket.close(ignored);
    } else {
      // The slot releases the connection's place under the limits when the
      // last holder (the HTTP session, or the WebSocket it became) is gone.
      std::shared_ptr<void> slot(
          nullptr, [admission = admission_, address](void*) { admission->release(address); });
      asio::post(loop, [this, s = std::move(socket), slot = std::move(slot)]() mutable {
        std::make_shared<HttpSession>(std::move(s), *this, std::move(slot))->start();
      });
    }
    accept();
  });
}

void WebServer::upgrade(asio::ip::tcp::socket socket, WebSocketConnection::UpgradeRequest request,
                        std::shared_ptr<void> slot) {
  auto ws = std::make_shared<WebSocketConnection>(std::move(socket), options_);
  websockets_->fetch_add(1);
  ws->setCloseCallback([websockets = websockets_, slot = std::move(slot)]() mutable {
    websockets->fetch_sub(1);
    slot.reset();
  });
  ws->start(std::move(request), factory_(ws));
}

}  // namespace parley::net
