// LineBuffer: bytes in, complete lines out. Used for the server socket and
// for stdin when it is a pipe (one buffer per source, so poll() sees every
// byte that is not yet a line: nothing hides in a stdio buffer). No I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace parley::client {

class LineBuffer {
 public:
  // `max_line`: a partial line longer than this is an error (overflowed()).
  // The server's history answers can reach a few MiB (200 messages of 4096
  // code points, escaped), so the default leaves room for that.
  explicit LineBuffer(size_t max_line = 16 << 20) : max_line_(max_line) {}

  void append(const char* data, size_t n) { data_.append(data, n); }
  // The next complete line without its "\n" (and without a "\r" before it).
  std::optional<std::string> pop();
  // What remains after the last '\n' (for input that ended without one);
  // empties the buffer.
  std::string takeRest();
  // True when more than max_line bytes wait without a '\n' (meaningful after
  // pop() returned nullopt, i.e. once everything appended was searched).
  bool overflowed() const;
  bool empty() const { return start_ >= data_.size(); }

 private:
  std::string data_;
  size_t start_ = 0;    // consumed prefix, erased lazily
  size_t scanned_ = 0;  // data_[start_, scanned_) holds no '\n'
  size_t max_line_;
};

}  // namespace parley::client
