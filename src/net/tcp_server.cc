#include "net/tcp_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

TcpServer::TcpServer(EventLoopPool& loops, ConnectionOptions options, HandlerFactory factory)
    : loops_(loops),
      options_(options),
      factory_(std::move(factory)),
      admission_(std::make_shared<Admission>(options_.max_connections,
                                             options_.max_connections_per_address)) {}

TcpServer::~TcpServer() {
  stopAccepting();
  if (accept_thread_.joinable()) accept_thread_.join();
}

Status TcpServer::listen(const std::string& host, uint16_t port) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::BadRequest("bad listen address '" + host + "': " + ec.message());
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                               ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void TcpServer::start() {
  accept();
  accept_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "acceptor");
    accept_context_.run();
  });
}

void TcpServer::stopAccepting() {
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

void TcpServer::accept() {
  asio::io_context& loop = loops_.next();
  // Accepting straight onto the chosen loop's context pins the socket there.
  acceptor_.async_accept(loop, [this, &loop](const error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Typically EMFILE: out of file descriptors. Retrying at once would
      // spin; wait a moment and let connections close.
      spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
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
      // Over a limit: say why in one line (a small write into an empty
      // socket buffer does not block) and hang up. Over TLS a plain line
      // would be garbage to the client, and a handshake is what a flood
      // should not get: just hang up.
      error_code ignored;
      if (!stream_factory_) {
        socket.non_blocking(true, ignored);
        socket.write_some(asio::buffer(options_.reject_line + "\n"), ignored);
      }
      socket.close(ignored);
    } else {
      asio::post(loop, [this, address, s = std::move(socket)]() mutable {
        auto conn = stream_factory_
                        ? std::make_shared<Connection>(stream_factory_(std::move(s)), options_)
                        : std::make_shared<Connection>(std::move(s), options_);
        conn->setCloseCallback([admission = admission_, address] { admission->release(address); });
        conn->start(factory_(conn));
      });
    }
    accept();
  });
}

}  // namespace parley::net
