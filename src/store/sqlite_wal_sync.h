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
// truncated, never replaced) while the store's connections are open. The
// path must be SQLite's own (sqlite3_filename_wal: it resolves symbolic
// links), and open() is called when the store opens, so a WAL that cannot be
// opened fails the start instead of the first fsync.
#pragma once

#include <string>

#include "common/status.h"

namespace parley {

class WalSync {
 public:
  explicit WalSync(std::string wal_path) : path_(std::move(wal_path)) {}
  WalSync(const WalSync&) = delete;
  WalSync& operator=(const WalSync&) = delete;
  ~WalSync();

  // Opens the WAL (it must exist) and syncs its directory, so the file's
  // own name is durable. Before the first sync().
  Status open();
  // Every byte written to the WAL before the call is on disk when it returns
  // OK.
  Status sync();

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace parley
