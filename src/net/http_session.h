// HttpSession: one HTTP/1.1 connection on the web listener, on its loop.
// Reads requests (headers only: bodies are refused), answers GETs for the
// web client's files from memory with keep-alive, and hands a WebSocket
// upgrade on /ws to the WebServer. Every request has a read deadline, so an
// idle or slow peer cannot hold a connection slot.
//
// Lifetime: shared_ptr held by its pending operation. Loop thread only.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>

#include "net/admission.h"

namespace parley::net {

class WebServer;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // `slot` keeps the connection counted under the limits while it lives.
  HttpSession(boost::asio::ip::tcp::socket socket, WebServer& server, AdmissionSlot slot);
  void start();

 private:
  void readRequest();
  void onRequest(const boost::system::error_code& ec);
  void respond(unsigned status, const std::string& content_type, std::string body, bool keep_alive,
               bool head_only);

  boost::beast::tcp_stream stream_;
  WebServer& server_;
  AdmissionSlot slot_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
  boost::beast::http::response<boost::beast::http::string_body> response_;
};

}  // namespace parley::net
