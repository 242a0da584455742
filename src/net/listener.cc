#include "net/listener.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

Listener::Listener(EventLoopPool& loops, std::string name, size_t max_connections,
                   size_t max_connections_per_address, OnAccepted on_accepted,
                   OnRejected on_rejected)
    : loops_(loops),
      name_(std::move(name)),
      on_accepted_(std::move(on_accepted)),
      on_rejected_(std::move(on_rejected)),
      admission_(std::make_shared<Admission>(max_connections, max_connections_per_address)) {}

Listener::~Listener() {
  stopAccepting();
  if (accept_thread_.joinable()) accept_thread_.join();
}

Status Listener::listen(const std::string& host, uint16_t port) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return Status::BadRequest("bad listen address '" + host + "': " + ec.message());
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + host + ":" + std::to_string(port) + " (" +
                               name_ + "): " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::Ok();
}

void Listener::start() {
  accept();
  accept_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), (name_ + "-acceptor").substr(0, 15).c_str());
    accept_context_.run();
  });
}

void Listener::stopAccepting() {
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

void Listener::accept() {
  asio::io_context& loop = loops_.next();
  // Accepting straight onto the chosen loop's context pins the socket there.
  acceptor_.async_accept(loop, [this, &loop](const error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      // Typically EMFILE: out of file descriptors. Retrying at once would
      // spin; wait a moment and let connections close.
      spdlog::warn("{}: accept failed: {}; retrying in 100 ms", name_, ec.message());
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
      on_rejected_(socket);
      error_code ignored;
      socket.close(ignored);
    } else {
      AdmissionSlot slot(admission_, std::move(address));
      asio::post(loop, [this, s = std::move(socket), slot = std::move(slot)]() mutable {
        on_accepted_(std::move(s), std::move(slot));
      });
    }
    accept();
  });
}

}  // namespace parley::net
