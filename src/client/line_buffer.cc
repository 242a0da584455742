#include "client/line_buffer.h"

#include <algorithm>

namespace parley::client {

std::optional<std::string> LineBuffer::pop() {
  // Resume the search where the last one stopped: a long line arriving in
  // many small reads is then scanned once, not once per read.
  size_t nl = data_.find('\n', std::max(start_, scanned_));
  if (nl == std::string::npos) {
    // Compact once everything before the partial line is consumed, so the
    // buffer does not grow with the whole history of the connection.
    data_.erase(0, start_);
    start_ = 0;
    scanned_ = data_.size();
    return std::nullopt;
  }
  size_t end = nl;
  if (end > start_ && data_[end - 1] == '\r') --end;
  std::string line = data_.substr(start_, end - start_);
  start_ = nl + 1;
  scanned_ = start_;
  return line;
}

std::string LineBuffer::takeRest() {
  std::string rest = data_.substr(start_);
  data_.clear();
  start_ = 0;
  scanned_ = 0;
  if (!rest.empty() && rest.back() == '\r') rest.pop_back();
  return rest;
}

bool LineBuffer::overflowed() const {
  return scanned_ >= data_.size() && data_.size() - start_ > max_line_;
}

}  // namespace parley::client
