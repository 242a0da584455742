#include "net/byte_stream.h"

#include <array>
#include <boost/asio/write.hpp>
#include <cstddef>
#include <new>

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// One read buffer per loop thread, shared by all its plain connections.
// Safe because the bytes are read synchronously inside the readiness
// handler and handed up before it returns; no async read ever targets it.
constexpr size_t kReadChunk = 64 * 1024;
thread_local std::array<char, kReadChunk> t_read_buffer;

// An allocator for Asio handlers whose operations should take exactly their
// own size from malloc rather than a recycled block (see ReadinessHandler).
template <typename T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() = default;
  template <typename U>
  ExactAllocator(const ExactAllocator<U>&) {}  // NOLINT: rebinding is implicit
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, size_t n) { ::operator delete(p, n * sizeof(T)); }
  friend bool operator==(const ExactAllocator&, const ExactAllocator&) { return true; }
};

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
    // the shared thread-local buffer is only touched inside the handler.
    socket_.async_wait(asio::ip::tcp::socket::wait_read, ReadinessHandler{this, std::move(user)});
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
  // Allocates its wait exactly: an idle connection keeps one pending, and
  // through Asio's default, a thread's recycled blocks (reused whenever large
  // enough), it sat in whatever block the loop thread had last freed (206 B on
  // average in heaptrack; the operation is 128).
  struct ReadinessHandler {
    using allocator_type = ExactAllocator<void>;
    allocator_type get_allocator() const noexcept { return {}; }

    void operator()(const error_code& ec) {
      if (ec) return user->onRead(ec, {});
      error_code read_ec;
      size_t n = stream->socket_.read_some(asio::buffer(t_read_buffer), read_ec);
      if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) {
        return stream->readSome(std::move(user));  // a spurious wake-up
      }
      user->onRead(read_ec, std::string_view(t_read_buffer.data(), n));
    }

    PlainStream* stream;
    UserPtr user;
  };

  asio::ip::tcp::socket socket_;
};

}  // namespace

ByteStreamPtr makePlainStream(asio::ip::tcp::socket socket) {
  return std::make_unique<PlainStream>(std::move(socket));
}

}  // namespace parley::net
