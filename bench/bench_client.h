// BenchClient: one load-generator connection. Asio callbacks on the thread
// that runs its io_context; newline framing; a write buffer that coalesces
// everything queued while a write is in flight. Optionally binds to a given
// local address (127.0.0.x) so many connections can share one server port
// without running out of ephemeral ports.
#pragma once

#include <netinet/in.h>

#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace parley::bench {

class BenchClient : public std::enable_shared_from_this<BenchClient> {
 public:
  using BindAddressNoPort =
      boost::asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>;

  using LineFn = std::function<void(std::string_view)>;
  using ErrorFn = std::function<void(const std::string&)>;

  BenchClient(boost::asio::io_context& io, LineFn on_line, ErrorFn on_error)
      : socket_(io), on_line_(std::move(on_line)), on_error_(std::move(on_error)) {}

  // Fault injection (parley-soak): writes `bytes` — e.g. half a request —
  // straight to the socket, then closes it, like a client that dies in the
  // middle of a write.
  void abort(std::string_view bytes) {
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    socket_.write_some(boost::asio::buffer(bytes.data(), bytes.size()), ec);
    close();
  }

  void connect(const std::string& source, const std::string& host, uint16_t port,
               std::function<void()> on_connected) {
    namespace ip = boost::asio::ip;
    boost::system::error_code ec;
    socket_.open(ip::tcp::v4(), ec);
    if (!source.empty()) {
      socket_.set_option(ip::tcp::socket::reuse_address(true), ec);
      // Let connect() pick the port from the whole 4-tuple: a bind() to port
      // 0 must find a port free for any destination, a search that grows
      // with every open socket (3.4 ms per bind at 100,000 connections).
      socket_.set_option(BindAddressNoPort(true), ec);
      socket_.bind({ip::make_address(source), 0}, ec);
    }
    if (ec) return on_error_("bind " + source + ": " + ec.message());
    socket_.async_connect({ip::make_address(host), port},
                          [self = shared_from_this(), cb = std::move(on_connected)](auto ec) {
                            if (self->closed_) return;
                            if (ec) return self->on_error_("connect: " + ec.message());
                            self->socket_.set_option(boost::asio::ip::tcp::no_delay(true));
                            self->read();
                            cb();
                          });
  }

  void send(std::string_view line) {
    pending_.append(line);
    pending_.push_back('\n');
    if (!writing_) flush();
  }

  // After close() no callback reports an error: the caller hung up itself.
  void close() {
    closed_ = true;
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  void flush() {
    if (pending_.empty()) return;
    writing_ = true;
    inflight_.swap(pending_);
    pending_.clear();
    boost::asio::async_write(socket_, boost::asio::buffer(inflight_),
                             [self = shared_from_this()](auto ec, size_t) {
                               self->writing_ = false;
                               self->inflight_.clear();
                               if (self->closed_) return;
                               if (ec) return self->on_error_("write: " + ec.message());
                               self->flush();
                             });
  }
  void read() {
    socket_.async_read_some(boost::asio::buffer(buf_), [self = shared_from_this()](auto ec,
                                                                                   size_t n) {
      if (self->closed_) return;
      if (ec) return self->on_error_("read: " + ec.message());
      self->input_.append(self->buf_, n);
      size_t start = 0;
      for (size_t nl; (nl = self->input_.find('\n', start)) != std::string::npos; start = nl + 1) {
        self->on_line_(std::string_view(self->input_).substr(start, nl - start));
        if (self->closed_) return;  // the handler hung up
      }
      self->input_.erase(0, start);
      self->read();
    });
  }

  boost::asio::ip::tcp::socket socket_;
  LineFn on_line_;
  ErrorFn on_error_;
  char buf_[16384];
  std::string input_, pending_, inflight_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace parley::bench
