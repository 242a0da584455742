#include "ws_client.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

namespace parley::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using boost::system::error_code;

WsClient::WsClient(uint16_t port, const std::string& path) {
  error_code ec;
  ws_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return;
  bool done = false;
  ws_.async_handshake("127.0.0.1:" + std::to_string(port), path, [&](error_code e) {
    ec = e;
    done = true;
  });
  io_.run_for(std::chrono::seconds(5));
  connected_ = done && !ec;
}

WsClient::~WsClient() {
  error_code ec;
  ws_.next_layer().close(ec);
}

void WsClient::sendText(const std::string& text) {
  ws_.text(true);
  error_code ec;
  ws_.write(asio::buffer(text), ec);  // small messages: the socket buffer takes them at once
  EXPECT_FALSE(ec) << "WebSocket write failed: " << ec.message();
}

std::optional<std::string> WsClient::readText(std::chrono::milliseconds timeout) {
  if (closed_) return std::nullopt;
  bool done = false;
  error_code result;
  buffer_.clear();
  ws_.async_read(buffer_, [&](error_code e, size_t) {
    result = e;
    done = true;
  });
  io_.restart();
  io_.run_for(timeout);
  if (!done) {
    // Timed out: cancel the read and let it finish, so the stream stays usable.
    error_code ignored;
    ws_.next_layer().cancel(ignored);
    io_.restart();
    io_.run();
    return std::nullopt;
  }
  if (result) {
    if (result == websocket::error::closed) close_code_ = ws_.reason().code;
    closed_ = true;
    return std::nullopt;
  }
  return beast::buffers_to_string(buffer_.data());
}

std::optional<WsClient::json> WsClient::read(std::chrono::milliseconds timeout) {
  auto text = readText(timeout);
  if (!text) return std::nullopt;
  return json::parse(*text, nullptr, /*allow_exceptions=*/false);
}

WsClient::json WsClient::request(json request, std::chrono::milliseconds timeout) {
  int64_t rid = next_rid_++;
  request["rid"] = rid;
  sendText(request.dump());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto j = read(std::max(left, std::chrono::milliseconds(1)));
    if (!j) {
      ADD_FAILURE() << "no response to " << request.dump();
      return json::object();
    }
    if (j->contains("event")) {
      events_.push_back(*j);
      continue;
    }
    EXPECT_EQ((*j)["rid"], rid) << "response out of order: " << j->dump();
    return *j;
  }
}

std::optional<WsClient::json> WsClient::nextEventOf(const std::string& kind,
                                                    std::chrono::milliseconds timeout) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if ((*it)["event"] == kind) {
      json e = *it;
      events_.erase(it);
      return e;
    }
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto j = read(left);
    if (!j) return std::nullopt;
    if ((*j)["event"] == kind) return j;
    if (j->contains("event")) events_.push_back(*j);
  }
}

bool WsClient::closedByPeer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_ && std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    readText(std::max(left, std::chrono::milliseconds(1)));
  }
  return closed_;
}

WsClient::json WsClient::registerUser(const std::string& name, const std::string& password) {
  json r = request({{"op", "register"}, {"name", name}, {"password", password}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  return r;
}

WsClient::json WsClient::login(const std::string& name, const std::string& password) {
  json r = request({{"op", "login"}, {"name", name}, {"password", password}});
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
  return r;
}

}  // namespace parley::testing
