// SqliteCheckpointer: copies the WAL back into the database file on a thread
// of its own. SQLite's default is for the committing connection to do it
// every 1,000 pages, which puts the copy and the database file's fsync on
// the writer thread — the one serial stage of every message. Here a
// separate connection runs a PASSIVE checkpoint (it never blocks the writer
// or readers) a few times a second; the writer keeps a far larger automatic
// checkpoint only as a backstop, should this thread fall behind.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite_db.h"

namespace parley {

class SqliteCheckpointer {
 public:
  // Opens its own connection to `path`; checkpoints every `interval`.
  SqliteCheckpointer(const std::string& path, std::chrono::milliseconds interval);
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;
  ~SqliteCheckpointer();

  // The WAL pages the writer may leave before checkpointing itself.
  static constexpr int kWriterBackstopPages = 16384;  // 64 MiB of 4 KiB pages

 private:
  void loop(std::chrono::milliseconds interval);

  SqliteDb db_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace parley
