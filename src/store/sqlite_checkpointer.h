// SqliteCheckpointer: copies the WAL back into the database file on a thread
// of its own. SQLite's default is for the committing connection to do it
// every 1,000 pages, which puts the copy and the database file's fsync on
// the writer thread — the one serial stage of every message. Here a
// separate connection runs a PASSIVE checkpoint (it never blocks the writer
// or readers) ten times a second; the writer keeps a far larger automatic
// checkpoint only as a backstop, should this thread fall behind.
//
// Starting the WAL over. SQLite reuses the WAL from its start only when a
// write transaction begins after a checkpoint that copied every frame. A
// writer committing hundreds of times a second always appends a frame or
// two while a checkpoint runs, so the WAL never started over: it grew to
// the backstop's size, and once a second (at 10,000 msg/s) the writer's own
// checkpoint held every message for 10-14 ms. So once the WAL has grown past
// kRestartPages, and after catching up concurrently (short PASSIVE rounds,
// then an fsync of the database file), this thread copies the frames
// appended meanwhile while the writer waits between two batches
// (`between_writes`): the writer's next transaction then starts the WAL
// over. The wait is that last copy and its fsyncs: mostly 2-7 ms, every
// ~0.65 s at 10,000 msg/s (docs/performance.md, seventh round).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite_db.h"

namespace parley {

class SqliteCheckpointer {
 public:
  // The WAL pages the writer may leave before checkpointing itself.
  static constexpr int kWriterBackstopPages = 16384;  // 32 MiB of 2 KiB pages
  // WAL frames past which a checkpoint ends with the writer held, so that
  // the WAL starts over (half the backstop: well before the writer's own).
  static constexpr int kRestartPages = kWriterBackstopPages / 2;
  // Catch-up rounds before the writer is held: at most this many, and
  // only while a round still copied this many frames or more.
  static constexpr int kCatchUpRounds = 3;
  static constexpr int kCatchUpFrames = 64;

  // Runs a function while no write transaction is open or can begin
  // (SqliteWriter::runBetweenBatches).
  using BetweenWrites = std::function<void(const std::function<void()>&)>;

  // Opens its own connection to `path`; checkpoints every `interval`. Without
  // `between_writes` the WAL starts over only after the writer's backstop.
  // `restart_pages`: see kRestartPages (tests use fewer).
  SqliteCheckpointer(const std::string& path, std::chrono::milliseconds interval,
                     BetweenWrites between_writes = nullptr, int restart_pages = kRestartPages);
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;
  ~SqliteCheckpointer();

 private:
  void loop(std::chrono::milliseconds interval);
  // One PASSIVE checkpoint; `frames` and `copied` are SQLite's counts of
  // the WAL's frames and of those now in the database file.
  Status checkpoint(int* frames, int* copied);
  // fsync of the database file (through SQLite's own handle).
  Status syncDatabaseFile();

  SqliteDb db_;
  const BetweenWrites between_writes_;
  const int restart_pages_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace parley
