// WsClient: a blocking test client for the protocol over WebSocket (Beast),
// with timeouts; the WebSocket twin of LineClient: one JSON object per text
// message, request() matches responses by rid, events are kept for
// nextEventOf().
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace parley::testing {

class WsClient {
 public:
  using json = nlohmann::json;
  // Connects to ws://127.0.0.1:port`path` and completes the handshake
  // (connected() tells whether it worked).
  explicit WsClient(uint16_t port, const std::string& path = "/ws");
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  bool connected() const { return connected_; }
  void sendText(const std::string& text);
  // The next message as JSON, or nullopt on timeout/close.
  std::optional<json> read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  json request(json request, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::optional<json> nextEventOf(const std::string& kind,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True once the server has closed the WebSocket (within `timeout`); the
  // close code it sent is then in closeCode().
  bool closedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  int closeCode() const { return close_code_; }

  json registerUser(const std::string& name, const std::string& password = "password1");
  json login(const std::string& name, const std::string& password = "password1");

 private:
  // Runs one async read to completion or timeout. Empty on failure.
  std::optional<std::string> readText(std::chrono::milliseconds timeout);

  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_{io_};
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
  bool closed_ = false;
  int close_code_ = 0;
  int64_t next_rid_ = 1;
  std::deque<json> events_;
};

}  // namespace parley::testing
