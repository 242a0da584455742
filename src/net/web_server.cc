#include "net/web_server.h"

#include <boost/asio/post.hpp>

#include "net/http_session.h"

namespace parley::net {
namespace asio = boost::asio;
using boost::system::error_code;

WebServer::WebServer(EventLoopPool& loops, ConnectionOptions options, StaticFilesPtr files,
                     HandlerFactory factory)
    : options_(std::move(options)),
      files_(std::move(files)),
      factory_(std::move(factory)),
      listener_(
          loops, "web", options_.max_connections, options_.max_connections_per_address,
          // The slot keeps the place under the limits for as long as the
          // HTTP session, or the WebSocket it becomes, holds it.
          [this](asio::ip::tcp::socket s, AdmissionSlot slot) {
            std::make_shared<HttpSession>(std::move(s), *this, std::move(slot))->start();
          },
          [this](asio::ip::tcp::socket& s) { onRejected(s); }) {}

WebServer::~WebServer() = default;

void WebServer::onRejected(asio::ip::tcp::socket& socket) {
  // A short 503 carrying the protocol's error object (a small write into an
  // empty socket buffer does not block); the listener then closes.
  const std::string& body = options_.reject_line;
  std::string reply =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(reply), ignored);
}

void WebServer::upgrade(asio::ip::tcp::socket socket, WebSocketConnection::UpgradeRequest request,
                        AdmissionSlot slot) {
  auto ws = std::make_shared<WebSocketConnection>(std::move(socket), options_);
  websockets_->fetch_add(1);
  // std::function wants a copyable callback: the slot moves into a shared one.
  ws->setCloseCallback([websockets = websockets_,
                        slot = std::make_shared<AdmissionSlot>(std::move(slot))]() mutable {
    websockets->fetch_sub(1);
    slot->release();
  });
  ws->start(std::move(request), factory_(ws));
}

}  // namespace parley::net
