// StaticFiles: a small directory of web assets (the browser client), read
// into memory once at startup so that serving a file never touches the disk
// on an event-loop thread. Immutable after load(): any thread may read it.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace parley::net {

class StaticFiles {
 public:
  struct File {
    std::string body;
    std::string content_type;
  };

  // Reads every regular file under `root` (recursively). Fails when `root`
  // is not a readable directory, or holds more than kMaxFiles files or a
  // file over kMaxFileBytes: a web root is a handful of small files, and a
  // mistaken --web-root (say, "/") must not be slurped into memory.
  static Result<std::shared_ptr<const StaticFiles>> load(const std::string& root);
  static constexpr size_t kMaxFiles = 256;
  static constexpr size_t kMaxFileBytes = 4 * 1024 * 1024;

  // The file for a request target: "/" is "/index.html", a query string is
  // ignored, and nothing outside the root can be named. Null if none.
  const File* find(std::string_view target) const;
  const std::string& root() const { return root_; }
  size_t size() const { return files_.size(); }

  // "text/html; charset=utf-8" for "x.html", and so on.
  static std::string contentType(std::string_view path);

 private:
  std::string root_;
  std::map<std::string, File, std::less<>> files_;  // "/index.html" -> file
};

using StaticFilesPtr = std::shared_ptr<const StaticFiles>;

}  // namespace parley::net
