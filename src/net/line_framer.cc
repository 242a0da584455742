#include "net/line_framer.h"

#include <algorithm>

namespace parley::net {
LineFramer::Next LineFramer::next(std::string_view* line) {
  for (;;) {
    // Resume the search where the last one stopped: a long line arriving in
    // small reads is scanned once, not once per read.
    size_t nl = input_.find('\n', std::max(offset_, scanned_));
    if (nl == std::string::npos) {
      scanned_ = input_.size();
      // The limit counts the bytes before "\n", so an unfinished line is
      // already too long once it holds more than the limit.
      return buffered() > max_line_ ? Next::kTooLong : Next::kNeedMore;
    }
    std::string_view found(input_.data() + offset_, nl - offset_);
    offset_ = nl + 1;
    scanned_ = offset_;
    if (found.size() > max_line_) return Next::kTooLong;
    if (!found.empty() && found.back() == '\r') found.remove_suffix(1);
    if (found.empty()) continue;  // blank lines (e.g. from telnet) are ignored
    *line = found;
    return Next::kLine;
  }
}

void LineFramer::compact() {
  if (offset_ == input_.size()) {
    // Given back whenever empty: an idle connection holds no input buffer
    // (tens of thousands of them add up; a busy one pays a malloc per read).
    std::string().swap(input_);
  } else if (offset_ > 0) {
    input_.erase(0, offset_);
  }
  scanned_ -= std::min(scanned_, offset_);
  offset_ = 0;
}

}  // namespace parley::net
