// LineSocket: the TCP connection to the server, one JSON line each way,
// optionally over TLS (OpenSSL; the server's certificate is verified against
// the system's CAs or --tls-ca, and must name --host). Part of the `parley`
// executable, not of the library: it makes the system calls. Blocking writes
// (a chat line is small and the server reads promptly), non-blocking reads so
// the terminal loop can poll() it beside stdin.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "client/line_buffer.h"

struct ssl_st;
struct ssl_ctx_st;

namespace parley::client {

class LineSocket {
 public:
  LineSocket() = default;
  LineSocket(const LineSocket&) = delete;
  LineSocket& operator=(const LineSocket&) = delete;
  ~LineSocket();

  // Connections from now on use TLS, trusting the CA certificates in
  // `ca_file` (PEM), or the system's when it is empty.
  void useTls(const std::string& ca_file);

  // Connects to `host` (a name or an address) trying each of its addresses,
  // each within `timeout`. False with `error` set when none answered.
  bool connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
               std::string* error);
  void close();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Writes `line` + "\n" completely. False if the connection broke.
  bool sendLine(const std::string& line);
  // Reads what is available without blocking. False when the server closed
  // the connection or it broke (lines received before that still pop).
  bool readAvailable();
  std::optional<std::string> popLine() { return buffer_.pop(); }
  // The server sent more than the line limit without a newline.
  bool overflowed() const { return buffer_.overflowed(); }

 private:
  bool startTls(const std::string& host, std::chrono::milliseconds timeout, std::string* error);
  bool sendTls(const std::string& data);
  bool readTls();

  int fd_ = -1;
  LineBuffer buffer_;
  bool tls_ = false;
  std::string tls_ca_;
  ssl_ctx_st* ctx_ = nullptr;  // made at the first TLS connect
  ssl_st* ssl_ = nullptr;      // the TLS session of this connection
};

}  // namespace parley::client
