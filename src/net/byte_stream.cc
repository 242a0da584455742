#include "net/byte_stream.h"

#include <array>
#include <boost/asio/write.hpp>

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// One read buffer per loop thread, shared by all its plain connections.
// Safe because the bytes are read synchronously inside the readiness
// handler and handed up before it returns; no async read ever targets it.
constexpr size_t kReadChunk = 64 * 1024;
thread_local std::array<char, kReadChunk> t_read_buffer;

class PlainStream final : public ByteStream {
 public:
  explicit PlainStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
    error_code ec;
    socket_.non_blocking(true, ec);
  }

  asio::ip::tcp::socket& socket() override { return socket_; }

  void handshake(UserPtr user) override { user->onHandshake(error_code()); }

  void readSome(UserPtr user) override {
    // Wait for readability instead of an async read into a private buffer:
    // the shared thread-local buffer is only touched inside this handler.
    socket_.async_wait(asio::ip::tcp::socket::wait_read, [this, user = std::move(user)](
                                                             const error_code& ec) mutable {
      if (ec) return user->onRead(ec, {});
      error_code read_ec;
      size_t n = socket_.read_some(asio::buffer(t_read_buffer), read_ec);
      if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) {
        return readSome(std::move(user));  // a spurious wake-up
      }
      user->onRead(read_ec, std::string_view(t_read_buffer.data(), n));
    });
  }

  void write(asio::const_buffer buffer, UserPtr user) override {
    asio::async_write(socket_, buffer, [user = std::move(user)](const error_code& ec, size_t) {
      user->onWritten(ec);
    });
  }

  void close() override {
    error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  asio::ip::tcp::socket socket_;
};

}  // namespace

ByteStreamPtr makePlainStream(asio::ip::tcp::socket socket) {
  return std::make_unique<PlainStream>(std::move(socket));
}

}  // namespace parley::net
