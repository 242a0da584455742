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
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace parley::net {

class ByteStream {
 public:
  using Error = boost::system::error_code;
  // `data` is only valid during the call. EOF and resets arrive as errors.
  using ReadHandler = std::function<void(const Error& ec, std::string_view data)>;
  using WriteHandler = std::function<void(const Error& ec)>;
  using HandshakeHandler = std::function<void(const Error& ec)>;

  virtual ~ByteStream() = default;

  // The TCP socket underneath: executor, addresses, options, shutdown.
  virtual boost::asio::ip::tcp::socket& socket() = 0;
  // Runs once before any read or write: the TLS handshake as the server.
  // Plain TCP has none and calls `done` at once.
  virtual void handshake(HandshakeHandler done) = 0;
  // Waits until bytes arrive and hands them over (or an error).
  virtual void readSome(ReadHandler done) = 0;
  // Writes every byte of `buffers`, which stay valid until `done` runs.
  virtual void write(const std::vector<boost::asio::const_buffer>& buffers, WriteHandler done) = 0;
  // Closes the socket; pending operations complete with operation_aborted.
  virtual void close() = 0;
};

using ByteStreamPtr = std::unique_ptr<ByteStream>;

// Plain TCP. Reads wait for readability, then read into one buffer shared by
// every connection of the loop thread: an idle connection holds no buffer.
ByteStreamPtr makePlainStream(boost::asio::ip::tcp::socket socket);

}  // namespace parley::net
