// WalSync: makes everything written to a SQLite WAL so far durable, from any
// thread. SqliteWriter commits without syncing (synchronous=NORMAL: COMMIT
// returns once the frames are written, which a crash of the process cannot
// undo) and its completion thread calls sync() before it tells anyone that a
// batch is stored — so acknowledged messages survive power loss as with
// synchronous=FULL, while the writer already runs the next batch, and one
// fsync covers every batch committed meanwhile.
//
// It syncs through a descriptor of its own: Linux's fdatasync() flushes the
// file, whichever descriptor names it, and SQLite's own file object belongs
// to the writer thread. SQLite keeps the WAL (the same inode: reset and
// truncated, never replaced) while the store's connections are open.
#pragma once

#include <mutex>
#include <string>

#include "common/status.h"

namespace parley {

class WalSync {
 public:
  explicit WalSync(std::string wal_path) : path_(std::move(wal_path)) {}
  WalSync(const WalSync&) = delete;
  WalSync& operator=(const WalSync&) = delete;
  ~WalSync();

  // Every byte written to the WAL before the call is on disk when it returns
  // OK. The first call also syncs the directory, so the WAL file's own
  // name is durable.
  Status sync();

 private:
  std::string path_;
  std::mutex mu_;
  int fd_ = -1;  // guarded by mu_; opened at the first sync
};

}  // namespace parley
