#include "net/tls_stream.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace parley::net {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

namespace {

// Decrypted bytes are read into a buffer of the connection's own (an async
// read is pending on it, so it cannot be shared as plain TCP's is). Records
// are at most 16 KiB; a smaller buffer only means more reads per record.
constexpr size_t kTlsReadChunk = 8 * 1024;

class TlsStream final : public ByteStream {
 public:
  TlsStream(asio::ip::tcp::socket socket, ssl::context& context)
      : stream_(std::move(socket), context), input_(new char[kTlsReadChunk]) {}

  asio::ip::tcp::socket& socket() override { return stream_.next_layer(); }

  void handshake(UserPtr user) override {
    stream_.async_handshake(
        ssl::stream_base::server,
        [user = std::move(user)](const error_code& ec) { user->onHandshake(ec); });
  }

  void readSome(UserPtr user) override {
    stream_.async_read_some(asio::buffer(input_.get(), kTlsReadChunk),
                            [this, user = std::move(user)](const error_code& ec, size_t n) {
                              user->onRead(ec, std::string_view(input_.get(), ec ? 0 : n));
                            });
  }

  void write(asio::const_buffer buffer, UserPtr user) override {
    // The connection hands over its queued lines as one buffer, so an
    // ssl::stream encrypts them into full records, not one per line.
    asio::async_write(stream_, buffer, [user = std::move(user)](const error_code& ec, size_t) {
      user->onWritten(ec);
    });
  }

  void close() override {
    // No close_notify: sending one means waiting for the peer's, and a
    // closing connection must not wait on a peer. Every line the client
    // received is complete, so a truncated stream loses nothing.
    error_code ec;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

 private:
  ssl::stream<asio::ip::tcp::socket> stream_;
  std::unique_ptr<char[]> input_;
};

std::string opensslError(const error_code& ec) {
  unsigned long e = ERR_get_error();
  if (e == 0) return ec.message();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

struct TlsContext::Impl {
  ssl::context context{ssl::context::tls_server};
};

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::loadServer(const std::string& cert_file,
                                                           const std::string& key_file) {
  auto impl = std::make_unique<Impl>();
  ssl::context& ctx = impl->context;
  error_code ec;
  // TLS 1.2 and later only; the rest are OpenSSL's defaults (ciphers,
  // curves). Compression off (CRIME).
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                      ssl::context::no_compression,
                  ec);
  // Idle connections give their read/write buffers back (about 34 KiB
  // each): a chat server holds many connections that are mostly idle.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  ctx.use_certificate_chain_file(cert_file, ec);
  if (ec) return Status::BadRequest("TLS certificate " + cert_file + ": " + opensslError(ec));
  ctx.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return Status::BadRequest("TLS key " + key_file + ": " + opensslError(ec));
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return Status::BadRequest("TLS key " + key_file + " does not match the certificate " +
                              cert_file);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

ByteStreamPtr TlsContext::wrap(asio::ip::tcp::socket socket) {
  return std::make_unique<TlsStream>(std::move(socket), impl_->context);
}

}  // namespace parley::net
