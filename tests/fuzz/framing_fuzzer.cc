// libFuzzer target: the line framing a connection applies to its input.
// The input picks a line limit, then a sequence of reads (chunks of any size,
// split anywhere, "\r\n" included) interleaved with partial drains and
// compactions, as a paused and resumed connection would do. What the framer
// hands up is checked against a plain reference model of the whole stream:
// the same lines, in order, and "too long" exactly when some line (finished
// or not) is longer than the limit. Any difference aborts (a finding), as
// does any crash or sanitizer report.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "net/line_framer.h"

namespace {

using parley::net::LineFramer;

struct Framed {
  std::vector<std::string> lines;
  bool too_long = false;
};

// The reference: split the whole stream at once, by the rules of
// PROTOCOL.md and line_framer.h.
Framed reference(const std::string& stream, size_t max_line) {
  Framed out;
  size_t start = 0;
  for (;;) {
    size_t nl = stream.find('\n', start);
    size_t len = (nl == std::string::npos ? stream.size() : nl) - start;
    if (len > max_line) {
      out.too_long = true;
      return out;
    }
    if (nl == std::string::npos) return out;
    std::string line = stream.substr(start, len);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.lines.push_back(line);
    start = nl + 1;
  }
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "framing differs from the reference: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  size_t max_line = in.ConsumeBool() ? in.ConsumeIntegralInRange<size_t>(0, 40)
                                     : in.ConsumeIntegralInRange<size_t>(0, 70000);
  LineFramer framer(max_line);
  std::string stream;  // everything appended
  Framed got;
  // Returns false once the framer reported a line too long (then it stops,
  // as the connection closes).
  auto drain = [&](size_t at_most) {
    for (size_t i = 0; i < at_most; ++i) {
      std::string_view line;
      LineFramer::Next next = framer.next(&line);
      if (next == LineFramer::Next::kNeedMore) return true;
      if (next == LineFramer::Next::kTooLong) {
        got.too_long = true;
        return false;
      }
      check(!line.empty(), "an empty line was handed up");
      got.lines.emplace_back(line);
    }
    return true;
  };
  bool open = true;
  while (open && in.remaining_bytes() > 0) {
    std::string chunk = in.ConsumeBytesAsString(in.ConsumeIntegralInRange<size_t>(0, 600));
    framer.append(chunk);
    stream += chunk;
    uint8_t action = in.ConsumeIntegral<uint8_t>();
    // Low bits: how many lines to take now (a paused connection takes
    // none); bit 7: compact afterwards (only legal once no view is held).
    open = drain(action & 0x3f);
    if (open && (action & 0x80)) framer.compact();
  }
  if (open) open = drain(SIZE_MAX);  // the end: everything complete is framed

  Framed want = reference(stream, max_line);
  check(got.too_long == want.too_long, "too-long verdict");
  check(got.lines == want.lines, "lines");
  if (open) {
    size_t tail =
        stream.size() - (stream.rfind('\n') == std::string::npos ? 0 : stream.rfind('\n') + 1);
    check(framer.buffered() == tail, "bytes left buffered");
    check(tail <= max_line, "an unfinished line over the limit was kept");
  }
  return 0;
}
