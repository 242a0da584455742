// TLS for client connections (Boost.Asio ssl over OpenSSL). A TlsContext is
// loaded once from a PEM certificate chain and key; it wraps each accepted
// socket into a ByteStream that Connection uses like plain TCP. OpenSSL
// headers stay in tls_stream.cc.
//
// Thread safety: a TlsContext may wrap sockets from any thread once loaded;
// each stream is loop-thread only, as every ByteStream.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "common/status.h"
#include "net/byte_stream.h"

namespace parley::net {

class TlsContext {
 public:
  // Reads the certificate chain and private key (PEM) and checks that they
  // match. BadRequest with OpenSSL's reason if a file is missing or wrong.
  static Result<std::shared_ptr<TlsContext>> loadServer(const std::string& cert_file,
                                                        const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A server-side TLS stream over `socket`; its handshake() runs the TLS
  // handshake. The context must outlive the stream.
  ByteStreamPtr wrap(boost::asio::ip::tcp::socket socket);

 private:
  struct Impl;
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::net
