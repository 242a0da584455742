// ByteStream: the bytes under a Connection — plain TCP, or TLS over TCP —
// so that the framing, the write queue and the timers exist once, whatever
// carries them (Redis's ConnectionType table in C++ form). A stream does
// I/O only; every decision (limits, closing) stays in Connection.
//
// Thread safety: loop-thread only, like the Connection that owns it. At most
// one readSome() and one write() may be pending at a time.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <string_view>

namespace parley::net {

class ByteStream {
 public:
  using Error = boost::system::error_code;

  // Receives the completions (the Connection). Each pending operation holds
  // the user by shared_ptr, which keeps it alive until the operation is
  // done; since that pointer is all an operation captures, starting a read
  // or a write allocates nothing beyond Asio's recycled operation memory
  // (a std::function holding a shared_ptr cost a malloc per call, and one
  // more per idle connection for its pending read).
  class User {
   public:
    virtual ~User() = default;
    virtual void onHandshake(const Error& ec) = 0;
    // `data` is only valid during the call. EOF and resets arrive as errors.
    virtual void onRead(const Error& ec, std::string_view data) = 0;
    virtual void onWritten(const Error& ec) = 0;
  };
  using UserPtr = std::shared_ptr<User>;

  virtual ~ByteStream() = default;

  // The TCP socket underneath: executor, addresses, options, shutdown.
  virtual boost::asio::ip::tcp::socket& socket() = 0;
  // Runs once before any read or write: the TLS handshake as the server.
  // Plain TCP has none and reports success at once.
  virtual void handshake(UserPtr user) = 0;
  // Waits until bytes arrive and hands them over (or an error).
  virtual void readSome(UserPtr user) = 0;
  // Writes every byte of `buffer`, which stays valid until onWritten.
  virtual void write(boost::asio::const_buffer buffer, UserPtr user) = 0;
  // Closes the socket; pending operations complete with operation_aborted.
  virtual void close() = 0;
};

using ByteStreamPtr = std::unique_ptr<ByteStream>;

// Plain TCP. Reads wait for readability, then read into one buffer shared by
// every connection of the loop thread: an idle connection holds no buffer.
ByteStreamPtr makePlainStream(boost::asio::ip::tcp::socket socket);

}  // namespace parley::net
