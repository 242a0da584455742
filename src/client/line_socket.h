// LineSocket: a plain TCP connection to the server that sends lines and
// splits what arrives into lines. Non-blocking reads, so the terminal loop
// can poll() it beside stdin.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace parley::client {

class LineSocket {
 public:
  LineSocket() = default;
  LineSocket(const LineSocket&) = delete;
  LineSocket& operator=(const LineSocket&) = delete;
  ~LineSocket() { close(); }

  // Connects (IPv4/IPv6, name or address). False with `error` set on failure.
  bool connect(const std::string& host, uint16_t port, std::string* error);
  void close();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Sends `line` + "\n" (blocking until written). False if the connection broke.
  bool sendLine(const std::string& line);
  // Reads what is available and appends complete lines to `lines`. False
  // when the server closed the connection or it broke.
  bool readLines(std::vector<std::string>* lines);

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace parley::client
