#include "net/http_session.h"

#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "net/web_server.h"

namespace parley::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

// A browser sends its next request at once or keeps the connection idle;
// past this the connection is closed (browsers reconnect transparently).
constexpr std::chrono::seconds kRequestDeadline{30};
// Request headers are small (a browser sends ~1 KiB): a bound on memory.
constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
// The page may only talk to this server: scripts from here, and WebSocket
// connections (ws:/wss: to be explicit for older browsers).
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "frame-ancestors 'none'";

}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket socket, WebServer& server, AdmissionSlot slot)
    : stream_(std::move(socket)), server_(server), slot_(std::move(slot)) {}

void HttpSession::start() { readRequest(); }

void HttpSession::readRequest() {
  parser_.emplace();
  parser_->header_limit(kMaxHeaderBytes);
  parser_->body_limit(0);  // GET only: a request with a body is refused
  stream_.expires_after(kRequestDeadline);
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](const error_code& ec, size_t /*bytes*/) { self->onRequest(ec); });
}

void HttpSession::onRequest(const error_code& ec) {
  if (ec) {
    // Peer gone, deadline passed, or a malformed or oversized request:
    // nothing worth answering. Dropping the last reference closes it.
    error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    return;
  }
  auto request = parser_->release();
  std::string path(request.target().substr(0, request.target().find('?')));
  bool keep_alive = request.keep_alive();

  if (beast::websocket::is_upgrade(request)) {
    if (path != "/ws") {
      respond(404, "text/plain; charset=utf-8", "WebSocket endpoint is /ws\n", false, false);
      return;
    }
    stream_.expires_never();
    server_.upgrade(stream_.release_socket(), std::move(request), std::move(slot_));
    return;
  }
  bool head = request.method() == http::verb::head;
  if (request.method() != http::verb::get && !head) {
    respond(405, "text/plain; charset=utf-8", "GET only\n", false, false);
    return;
  }
  const StaticFiles* files = server_.files();
  if (!files) {
    respond(404, "text/plain; charset=utf-8",
            "This Parley server has no web client to serve (see --web-root); the WebSocket "
            "endpoint is /ws.\n",
            keep_alive, head);
    return;
  }
  const StaticFiles::File* file =
      files->find(std::string_view(request.target().data(), request.target().size()));
  if (!file) {
    respond(404, "text/plain; charset=utf-8", "not found\n", keep_alive, head);
    return;
  }
  respond(200, file->content_type, file->body, keep_alive, head);
}

void HttpSession::respond(unsigned status, const std::string& content_type, std::string body,
                          bool keep_alive, bool head_only) {
  response_ = {};
  response_.version(11);
  response_.result(status);
  response_.set(http::field::server, "parley");
  response_.set(http::field::content_type, content_type);
  // Always revalidate: a new server version's client is picked up at once.
  response_.set(http::field::cache_control, "no-cache");
  response_.set("X-Content-Type-Options", "nosniff");
  response_.set("Content-Security-Policy", kContentSecurityPolicy);
  response_.keep_alive(keep_alive);
  response_.body() = std::move(body);
  response_.prepare_payload();
  if (head_only) response_.body().clear();  // Content-Length stays the GET's
  stream_.expires_after(kRequestDeadline);
  http::async_write(
      stream_, response_, [self = shared_from_this(), keep_alive](const error_code& ec, size_t) {
        if (!ec && keep_alive) {
          self->readRequest();
          return;
        }
        error_code ignored;
        self->stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
      });
}

}  // namespace parley::net
