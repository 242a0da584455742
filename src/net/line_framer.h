// LineFramer: splits a byte stream into lines. A line ends in "\n"; a
// trailing "\r" is dropped (telnet, Windows nc) and blank lines are skipped.
// A line longer than the limit is refused as soon as that is certain, even
// before its end arrives, so a peer can never grow the buffer past the limit
// plus one read. No sockets here: Connection feeds it, and the framing fuzzer
// (tests/fuzz/framing_fuzzer.cc) drives it directly.
//
// Not thread safe; owned by one connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace parley::net {

class LineFramer {
 public:
  enum class Next {
    kLine,      // *line holds the next complete line
    kNeedMore,  // no complete line buffered
    kTooLong,   // a line (complete or not) is longer than the limit
  };

  explicit LineFramer(size_t max_line_bytes) : max_line_(max_line_bytes) {}

  // The limit applies to lines framed from now on (it changes at login).
  void setMaxLine(size_t max_line_bytes) { max_line_ = max_line_bytes; }
  size_t maxLine() const { return max_line_; }

  // Adds received bytes. May move the buffer: views from next() die.
  void append(std::string_view bytes) { input_.append(bytes); }

  // The next complete line, without its "\n" (or "\r\n"). The view stays
  // valid until the next append() or compact(). After kTooLong the stream cannot be framed any
  // further (the rest of the overlong line is unknown): stop calling.
  Next next(std::string_view* line);

  // Forgets the bytes of lines already returned; invalidates their views.
  // Gives the buffer back once it is empty, so idle peers hold none.
  void compact();

  // Bytes received and not yet returned as a line.
  size_t buffered() const { return input_.size() - offset_; }

 private:
  size_t max_line_;
  std::string input_;   // received bytes; [offset_, size) are not framed yet
  size_t offset_ = 0;   // start of the first unreturned line
  size_t scanned_ = 0;  // [offset_, scanned_) is known to hold no "\n"
};

}  // namespace parley::net
