#include "net/tcp_server.h"

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

TcpServer::TcpServer(EventLoopPool& loops, ConnectionOptions options, HandlerFactory factory)
    : options_(std::move(options)),
      factory_(std::move(factory)),
      listener_(
          loops, "tcp", options_.max_connections, options_.max_connections_per_address,
          [this](asio::ip::tcp::socket s, AdmissionSlot slot) {
            onAccepted(std::move(s), std::move(slot));
          },
          [this](asio::ip::tcp::socket& s) { onRejected(s); }) {}

TcpServer::~TcpServer() = default;

void TcpServer::onAccepted(asio::ip::tcp::socket socket, AdmissionSlot slot) {
  auto conn = stream_factory_
                  ? std::make_shared<Connection>(stream_factory_(std::move(socket)), options_)
                  : std::make_shared<Connection>(std::move(socket), options_);
  // The place under the limits is given back when the connection closes.
  conn->holdAdmission(std::move(slot));
  conn->start(factory_(conn));
}

void TcpServer::onRejected(asio::ip::tcp::socket& socket) {
  // Say why in one line (a small write into an empty socket buffer does not
  // block). Over TLS a plain line would be garbage to the client, and a
  // handshake is what a flood should not get: just hang up.
  if (stream_factory_) return;
  error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(options_.reject_line + "\n"), ignored);
}

}  // namespace parley::net
