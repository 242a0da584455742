#include "store/sqlite_checkpointer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

namespace parley {

SqliteCheckpointer::SqliteCheckpointer(const std::string& path,
                                       std::chrono::milliseconds interval) {
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
    Status st = db_.execScript("PRAGMA wal_checkpoint(PASSIVE);");
    if (!st.ok()) spdlog::warn("sqlite checkpoint: {}", st.toString());
    lock.lock();
  }
}

}  // namespace parley
