// LineClient: a blocking test client for the JSON-lines protocol, with
// timeouts. request() adds a rid and returns the matching response, keeping
// the events that arrive meanwhile for nextEvent().
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

struct ssl_st;
struct ssl_ctx_st;

namespace parley::testing {

using nlohmann::json;
using namespace std::chrono_literals;

class LineClient {
 public:
  // `source`: a local address to connect from (e.g. 127.0.0.2), or "".
  explicit LineClient(uint16_t port, const std::string& host = "127.0.0.1",
                      const std::string& source = "");
  ~LineClient();
  // A client over TLS that trusts `ca_file` (PEM: e.g. the server's
  // self-signed certificate). connected() is false if the handshake failed.
  static std::unique_ptr<LineClient> overTls(uint16_t port, const std::string& ca_file);
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  void sendRaw(const std::string& bytes);
  void sendLine(const std::string& line) { sendRaw(line + "\n"); }
  // The next line as JSON (events and responses alike), or nullopt on timeout/close.
  std::optional<json> readLine(std::chrono::milliseconds timeout = 5s);
  // Sends `request` with a fresh rid; returns the response with that rid.
  json request(json request, std::chrono::milliseconds timeout = 10s);
  // The next pushed event (from the backlog first), or nullopt.
  std::optional<json> nextEvent(std::chrono::milliseconds timeout = 5s);
  // The next event of `kind`, skipping others (kept), or nullopt.
  std::optional<json> nextEventOf(const std::string& kind, std::chrono::milliseconds timeout = 5s);
  // True once the server has closed the connection (within `timeout`).
  bool closedByPeer(std::chrono::milliseconds timeout = 5s);
  void close();

  // Shortcuts that assert success.
  json registerUser(const std::string& name, const std::string& password = "password1");
  json login(const std::string& name, const std::string& password = "password1");

 private:
  std::optional<std::string> readRawLine(std::chrono::milliseconds timeout);
  // Reads what arrived into buffer_; false at EOF or error.
  bool receive();
  int fd_ = -1;
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  int64_t next_rid_ = 1000;
  std::string buffer_;
  std::deque<json> events_;
  bool eof_ = false;
};

}  // namespace parley::testing
