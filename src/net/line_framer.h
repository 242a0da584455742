// nextLine: the framing step of net::Connection, apart so that it can be
// measured (bench/micro) and reasoned about on its own. Finds the next
// complete "\n"-terminated line in `input` at or after `*offset`, without
// copying: the line is a view into `input`.
#pragma once

#include <cstddef>
#include <cstring>
#include <string_view>

namespace parley::net {

enum class Framed {
  kLine,        // `line` holds one line (without "\n"), *offset moved past it
  kIncomplete,  // no "\n" after *offset yet: read more
  kTooLong,     // the line at *offset is longer than max_line bytes
};

struct Frame {
  Framed result;
  std::string_view line;
};

inline Frame nextLine(std::string_view input, size_t* offset, size_t max_line) {
  const char* begin = input.data() + *offset;
  size_t left = input.size() - *offset;
  // memchr is vectorised in glibc: much faster than a byte loop on long lines.
  const void* nl = left ? std::memchr(begin, '\n', left) : nullptr;
  if (nl == nullptr) return Frame{Framed::kIncomplete, {}};
  size_t len = static_cast<size_t>(static_cast<const char*>(nl) - begin);
  if (len > max_line) return Frame{Framed::kTooLong, {}};
  *offset += len + 1;
  return Frame{Framed::kLine, std::string_view(begin, len)};
}

}  // namespace parley::net
