#include "store/sqlite_checkpointer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

namespace parley {

SqliteCheckpointer::SqliteCheckpointer(const std::string& path, std::chrono::milliseconds interval,
                                       BetweenWrites between_writes, int restart_pages)
    : between_writes_(std::move(between_writes)), restart_pages_(restart_pages) {
  Status st = db_.open(path, /*read_only=*/false);
  // The database file's fsync is what makes a checkpoint safe to reset the
  // WAL after, so this connection syncs like the writer.
  if (st.ok()) st = db_.execScript("PRAGMA synchronous=FULL;");
  if (!st.ok()) {
    // The writer's backstop checkpoints then; nothing is at risk.
    spdlog::warn("sqlite checkpointer disabled: {}", st.toString());
    return;
  }
  thread_ = std::thread([this, interval] {
    pthread_setname_np(pthread_self(), "sqlite-ckpt");
    loop(interval);
  });
}

SqliteCheckpointer::~SqliteCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SqliteCheckpointer::loop(std::chrono::milliseconds interval) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
    lock.unlock();
    int frames = 0;
    int copied = 0;
    Status st = checkpoint(&frames, &copied);
    if (st.ok() && between_writes_ && frames >= restart_pages_) {
      // Before holding the writer, shrink what it will wait for: copy again
      // what was appended during the copy above (each round is shorter),
      // and sync the database file, which SQLite syncs only at the end of a
      // checkpoint that copied everything — that fsync was the bulk of the
      // writer's wait (5-14 ms for the ~10 MiB the rounds had copied).
      for (int round = 0; round < kCatchUpRounds && st.ok(); ++round) {
        int before = copied;
        st = checkpoint(&frames, &copied);
        if (copied - before < kCatchUpFrames) break;
      }
      if (st.ok()) st = syncDatabaseFile();
      // The rest — what was appended since — with the writer held, so that
      // no commit overtakes the copy.
      if (st.ok()) between_writes_([&] { st = checkpoint(&frames, &copied); });
    }
    if (!st.ok()) spdlog::warn("sqlite checkpoint: {}", st.toString());
    lock.lock();
  }
}

Status SqliteCheckpointer::syncDatabaseFile() {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db_.raw(), "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods == nullptr) {
    return Status::Internal("sqlite checkpointer: no database file handle");
  }
  if (file->pMethods->xSync(file, SQLITE_SYNC_NORMAL) != SQLITE_OK) {
    return Status::Unavailable("sqlite checkpointer: fsync of the database file failed");
  }
  return Status::Ok();
}

Status SqliteCheckpointer::checkpoint(int* frames, int* copied) {
  int rc = sqlite3_wal_checkpoint_v2(db_.raw(), "main", SQLITE_CHECKPOINT_PASSIVE, frames, copied);
  // BUSY: another checkpoint (the writer's backstop) is running; next time.
  if (rc == SQLITE_OK || rc == SQLITE_BUSY) return Status::Ok();
  return db_.error("wal_checkpoint");
}

}  // namespace parley
