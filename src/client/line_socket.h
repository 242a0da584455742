// LineSocket: the TCP connection to the server, one JSON line each way.
// Part of the `parley` executable, not of the library: it makes the system
// calls. Blocking writes (a chat line is small and the server reads
// promptly), non-blocking reads so the terminal loop can poll() it beside
// stdin.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "client/line_buffer.h"

namespace parley::client {

class LineSocket {
 public:
  LineSocket() = default;
  LineSocket(const LineSocket&) = delete;
  LineSocket& operator=(const LineSocket&) = delete;
  ~LineSocket() { close(); }

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
  int fd_ = -1;
  LineBuffer buffer_;
};

}  // namespace parley::client
