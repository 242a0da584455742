// AckedLog: every message the server acknowledged, as "recipient id" lines
// appended to a file that outlives a server crash. `parley-soak --verify`
// reads it after the restart and logs each recipient in to check that each
// of its messages is delivered. Lines are written in whole-line chunks with
// O_APPEND, so several writers never split one another's lines.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <string>

namespace parley::bench {

class AckedLog {
 public:
  AckedLog() = default;
  AckedLog(const AckedLog&) = delete;
  AckedLog& operator=(const AckedLog&) = delete;
  ~AckedLog() {
    flush();
    if (fd_ >= 0) ::close(fd_);
  }

  bool open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd_ >= 0;
  }
  bool isOpen() const { return fd_ >= 0; }
  void add(const std::string& recipient, int64_t id) {
    if (fd_ < 0) return;
    pending_ += recipient + " " + std::to_string(id) + "\n";
    if (pending_.size() > 64 * 1024) flush();
  }
  void flush() {
    size_t off = 0;
    while (fd_ >= 0 && off < pending_.size()) {
      ssize_t n = ::write(fd_, pending_.data() + off, pending_.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    pending_.clear();
  }

  // recipient -> ids, from a log written by add().
  static std::map<std::string, std::set<int64_t>> read(const std::string& path) {
    std::map<std::string, std::set<int64_t>> out;
    std::ifstream in(path);
    std::string name;
    int64_t id = 0;
    while (in >> name >> id) out[name].insert(id);
    return out;
  }

 private:
  int fd_ = -1;
  std::string pending_;
};

}  // namespace parley::bench
