#include "store/sqlite_wal_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace parley {
namespace {

Status syncError(const char* what, const std::string& path) {
  return Status::Unavailable(std::string(what) + " " + path + ": " + std::strerror(errno));
}

}  // namespace

WalSync::~WalSync() {
  if (fd_ >= 0) ::close(fd_);
}

Status WalSync::open() {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return syncError("cannot open", path_);
  std::string dir = std::filesystem::path(path_).parent_path().string();
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || ::fsync(dir_fd) != 0) {
    Status st = syncError("cannot sync the directory of", path_);
    if (dir_fd >= 0) ::close(dir_fd);
    ::close(fd);
    return st;
  }
  ::close(dir_fd);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  return Status::Ok();
}

Status WalSync::sync() {
  if (fd_ < 0) return Status::Unavailable("the WAL of " + path_ + " is not open");
  if (::fdatasync(fd_) != 0) return syncError("fdatasync", path_);
  return Status::Ok();
}

}  // namespace parley
