// SqliteWriter's durability contract: a job hears how it ended only after a
// make_durable call that followed its commit, and a commit that cannot be
// made durable stops the process rather than answer either way.
#include "store/sqlite_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite_checkpointer.h"
#include "store/sqlite_db.h"

namespace parley {
namespace {

std::atomic<int> g_durable_calls{0};

// Inserts one row; remembers how many make_durable calls there had been
// when it ran (before its commit) and when it was told.
class CountingJob final : public SqliteWriter::Job {
 public:
  struct Seen {
    int at_run = -1;
    int at_finish = -1;
    bool ok = false;
  };
  explicit CountingJob(Seen* seen) : seen_(seen) {}
  Status run(SqliteWriter&, SqliteDb& db) override {
    seen_->at_run = g_durable_calls.load();
    auto insert = db.prepare("INSERT INTO t(v) VALUES (1)");
    if (!insert.ok()) return insert.status();
    return db.stmt(insert.value()).exec();
  }
  void finish(const Status& status) override {
    seen_->at_finish = g_durable_calls.load();
    seen_->ok = status.ok();
  }

 private:
  Seen* seen_;
};

std::string tempDb(const char* name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("parley-writer-" + std::to_string(getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return (dir / "w.db").string();
}

TEST(SqliteWriterTest, NoJobIsToldBeforeAMakeDurableCallThatFollowedItsCommit) {
  std::string path = tempDb("durable");
  SqliteDb db;
  ASSERT_TRUE(db.open(path, /*read_only=*/false).ok());
  ASSERT_TRUE(db.execScript("PRAGMA journal_mode=WAL; CREATE TABLE t(v INTEGER);").ok());
  constexpr int kJobs = 5000;
  std::vector<CountingJob::Seen> seen(kJobs);
  {
    SqliteWriter writer(db, kJobs, [] {
      g_durable_calls.fetch_add(1);
      return Status::Ok();
    });
    for (auto& s : seen) writer.submit(std::make_unique<CountingJob>(&s));
  }  // the destructor runs and tells everything queued
  int batches_synced = g_durable_calls.load();
  EXPECT_GE(batches_synced, 1);
  EXPECT_LE(batches_synced, kJobs);
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(seen[i].ok) << "job " << i;
    ASSERT_GT(seen[i].at_finish, seen[i].at_run) << "job " << i << " was told before a sync";
  }
  auto count = db.prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.ok());
  Stmt s = db.stmt(count.value());
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.int64(0), kJobs);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

// A job that only records that it ran.
class FlagJob final : public SqliteWriter::Job {
 public:
  explicit FlagJob(std::atomic<bool>* ran) : ran_(ran) {}
  Status run(SqliteWriter&, SqliteDb&) override {
    ran_->store(true);
    return Status::Ok();
  }
  void finish(const Status&) override {}

 private:
  std::atomic<bool>* ran_;
};

TEST(SqliteWriterTest, NoBatchBeginsWhileAFunctionRunsBetweenBatches) {
  std::string path = tempDb("between");
  SqliteDb db;
  ASSERT_TRUE(db.open(path, /*read_only=*/false).ok());
  ASSERT_TRUE(db.execScript("PRAGMA journal_mode=WAL;").ok());
  SqliteWriter writer(db, 100, [] { return Status::Ok(); });
  std::atomic<bool> ran{false};
  writer.runBetweenBatches([&] {
    writer.submit(std::make_unique<FlagJob>(&ran));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(ran.load()) << "a batch ran while the writer was held";
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ran.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(ran.load()) << "the job queued meanwhile never ran";
  writer.stop();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(SqliteWriterTest, QueuedCountsTheJobsWaitingForABatch) {
  // What SqliteStore::backlogged() reads to make pipelining connections
  // hold back before the bounded queue refuses anyone.
  std::string path = tempDb("queued");
  SqliteDb db;
  ASSERT_TRUE(db.open(path, /*read_only=*/false).ok());
  ASSERT_TRUE(db.execScript("PRAGMA journal_mode=WAL;").ok());
  SqliteWriter writer(db, 100, [] { return Status::Ok(); });
  EXPECT_EQ(writer.queued(), 0u);
  std::vector<std::atomic<bool>> ran(5);
  writer.runBetweenBatches([&] {
    for (auto& r : ran) writer.submit(std::make_unique<FlagJob>(&r));
    EXPECT_EQ(writer.queued(), 5u);
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ran.back().load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(ran.back().load());
  EXPECT_EQ(writer.queued(), 0u) << "taken into a batch";
  writer.stop();
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

// Inserts `value` into u (unique) and counts its runs; `refuse` makes it
// fail with a conflict, before writing (`write_first` false) or after
// writing a row of its own.
class ScriptedJob final : public SqliteWriter::Job {
 public:
  struct Seen {
    std::atomic<int> runs{0};
    std::atomic<bool> told{false};
    Status result;
  };
  ScriptedJob(int value, bool refuse, bool write_first, Seen* seen)
      : value_(value), refuse_(refuse), write_first_(write_first), seen_(seen) {}
  Status run(SqliteWriter&, SqliteDb& db) override {
    seen_->runs++;
    if (refuse_ && !write_first_) return Status::Conflict("refused before writing");
    auto insert = db.prepare("INSERT INTO u(v) VALUES (?)");
    if (!insert.ok()) return insert.status();
    Status st = db.stmt(insert.value()).bind(1, value_).exec();
    if (!st.ok()) return st;
    return refuse_ ? Status::Conflict("refused after writing") : Status::Ok();
  }
  void finish(const Status& status) override {
    seen_->result = status;
    seen_->told = true;
  }

 private:
  const int value_;
  const bool refuse_;
  const bool write_first_;
  Seen* seen_;
};

// Runs the jobs as one batch (queued while the writer is held) and returns
// the values committed.
std::vector<int64_t> runOneBatch(const char* name,
                                 const std::vector<std::unique_ptr<ScriptedJob>>& jobs) {
  std::string path = tempDb(name);
  SqliteDb db;
  EXPECT_TRUE(db.open(path, /*read_only=*/false).ok());
  EXPECT_TRUE(db.execScript("PRAGMA journal_mode=WAL; CREATE TABLE u(v INTEGER UNIQUE);").ok());
  std::vector<ScriptedJob::Seen*> seen;
  {
    SqliteWriter writer(db, 100, [] { return Status::Ok(); });
    writer.runBetweenBatches([&] {
      for (const auto& job : jobs) {
        // The writer owns what it is given; the test keeps the originals.
        struct Borrowed final : SqliteWriter::Job {
          explicit Borrowed(ScriptedJob* j) : job(j) {}
          Status run(SqliteWriter& w, SqliteDb& d) override { return job->run(w, d); }
          void finish(const Status& st) override { job->finish(st); }
          ScriptedJob* job;
        };
        writer.submit(std::make_unique<Borrowed>(job.get()));
      }
    });
    writer.stop();
  }
  std::vector<int64_t> values;
  auto select = db.prepare("SELECT v FROM u ORDER BY v");
  EXPECT_TRUE(select.ok());
  Stmt s = db.stmt(select.value());
  while (s.step()) values.push_back(s.int64(0));
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  return values;
}

TEST(SqliteWriterTest, AJobRefusingBeforeItWritesLeavesTheBatchAlone) {
  ScriptedJob::Seen a, b, c;
  std::vector<std::unique_ptr<ScriptedJob>> jobs;
  jobs.push_back(std::make_unique<ScriptedJob>(1, false, false, &a));
  jobs.push_back(std::make_unique<ScriptedJob>(2, true, false, &b));
  jobs.push_back(std::make_unique<ScriptedJob>(3, false, false, &c));
  EXPECT_EQ(runOneBatch("refuse-clean", jobs), (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(a.result.ok());
  EXPECT_TRUE(b.result.isConflict());
  EXPECT_TRUE(c.result.ok());
  EXPECT_EQ(a.runs.load(), 1) << "no rollback and second run for the others";
  EXPECT_EQ(c.runs.load(), 1);
}

TEST(SqliteWriterTest, AConstraintErrorThatSqliteUndidIsARefusalToo) {
  // The duplicate insert failed, and SQLite undid that statement: nothing
  // of the job is left, so the batch goes on as for any refusal.
  ScriptedJob::Seen a, dup, c;
  std::vector<std::unique_ptr<ScriptedJob>> jobs;
  jobs.push_back(std::make_unique<ScriptedJob>(1, false, false, &a));
  jobs.push_back(std::make_unique<ScriptedJob>(1, false, false, &dup));
  jobs.push_back(std::make_unique<ScriptedJob>(3, false, false, &c));
  EXPECT_EQ(runOneBatch("refuse-constraint", jobs), (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(dup.result.isConflict());
  EXPECT_EQ(a.runs.load(), 1);
  EXPECT_EQ(c.runs.load(), 1);
}

// Moves user 1's seq to 5 in the writer's cache, writes no row, then
// refuses; or (`probe`) only reads user 1's seq, as the next message to
// that user would.
class SeqJob final : public SqliteWriter::Job {
 public:
  SeqJob(bool probe, Seq* seen) : probe_(probe), seen_(seen) {}
  Status run(SqliteWriter& writer, SqliteDb& db) override {
    if (probe_) {
      auto last = writer.lastSeq(db, 1);
      if (!last.ok()) return last.status();
      *seen_ = last.value();
      return Status::Ok();
    }
    auto before = writer.advance(db, 1, 5);
    if (!before.ok()) return before.status();
    return Status::Conflict("refused after moving a seq");
  }
  void finish(const Status&) override {}

 private:
  const bool probe_;
  Seq* seen_;
};

TEST(SqliteWriterTest, AJobThatMovedASeqAndRefusedDoesNotLeaveItMoved) {
  // No row changed, but the writer's cache of last seqs did: that is not a
  // clean refusal. Were it taken for one, the next message to the user
  // would get prev = 5, a seq that was never stored.
  std::string path = tempDb("refuse-seq");
  SqliteDb db;
  ASSERT_TRUE(db.open(path, /*read_only=*/false).ok());
  ASSERT_TRUE(db.execScript("PRAGMA journal_mode=WAL;"
                            "CREATE TABLE users(id INTEGER PRIMARY KEY);"
                            "CREATE TABLE direct_peers(user_id, peer_id);"
                            "CREATE TABLE group_spans(user_id, group_id, after_id, until_id);"
                            "CREATE TABLE messages(id INTEGER PRIMARY KEY, chat, sender_id);"
                            "CREATE TABLE inbox(user_id, message_id);"
                            "INSERT INTO users(id) VALUES (1);")
                  .ok());
  Seq seen = -1;
  {
    SqliteWriter writer(db, 100, [] { return Status::Ok(); });
    writer.runBetweenBatches([&] {
      writer.submit(std::make_unique<SeqJob>(false, nullptr));
      writer.submit(std::make_unique<SeqJob>(true, &seen));
    });
    writer.stop();
  }
  EXPECT_EQ(seen, 0) << "user 1 has no message; the refused job's seq must not show";
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(SqliteWriterTest, AJobFailingAfterItWroteUndoesOnlyItself) {
  // A job that wrote a row and then failed makes the batch run again with
  // savepoints, and its row is gone.
  ScriptedJob::Seen x, y, z;
  std::vector<std::unique_ptr<ScriptedJob>> jobs;
  jobs.push_back(std::make_unique<ScriptedJob>(1, false, false, &x));
  jobs.push_back(std::make_unique<ScriptedJob>(2, true, true, &y));
  jobs.push_back(std::make_unique<ScriptedJob>(3, false, false, &z));
  EXPECT_EQ(runOneBatch("refuse-late", jobs), (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(x.result.ok());
  EXPECT_TRUE(y.result.isConflict());
  EXPECT_TRUE(z.result.ok());
  EXPECT_EQ(x.runs.load(), 2) << "the optimistic pass, then the one with savepoints";
}

// Inserts one ~3 KB row (about a WAL frame), taking 100 us so that the
// writer appends ~10 frames a millisecond, a pace a checkpoint cycle can
// keep up with; its finish() makes room for the feeder's next job.
class BlobJob final : public SqliteWriter::Job {
 public:
  explicit BlobJob(std::counting_semaphore<>* room) : room_(room) {}
  Status run(SqliteWriter&, SqliteDb& db) override {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    auto insert = db.prepare("INSERT INTO t(v) VALUES (randomblob(3000))");
    if (!insert.ok()) return insert.status();
    return db.stmt(insert.value()).exec();
  }
  void finish(const Status&) override { room_->release(); }

 private:
  std::counting_semaphore<>* room_;
};

// The size of the WAL file after 4,000 jobs fed to a writer that never
// idles (64 in flight: while one batch is told the next is queued), with a
// checkpointer every 5 ms that may hold the writer (`hold`) once the WAL
// passes 200 frames. The writer has no automatic checkpoint of its own. The
// WAL file keeps its largest size: after a restart it is rewritten from its
// start, never shortened.
uintmax_t walBytesUnderABusyWriter(const char* name, bool hold) {
  std::string path = tempDb(name);
  SqliteDb db;
  EXPECT_TRUE(db.open(path, /*read_only=*/false).ok());
  EXPECT_TRUE(db.execScript("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"
                            "CREATE TABLE t(v BLOB);")
                  .ok());
  constexpr int kJobs = 4000;
  constexpr int kInFlight = 64;
  std::counting_semaphore<> room(kInFlight);
  {
    SqliteWriter writer(db, kJobs, [] { return Status::Ok(); });
    SqliteCheckpointer::BetweenWrites between;
    if (hold) {
      between = [&writer](const std::function<void()>& fn) { writer.runBetweenBatches(fn); };
    }
    SqliteCheckpointer checkpointer(path, std::chrono::milliseconds(5), between,
                                    /*restart_pages=*/200);
    for (int i = 0; i < kJobs; ++i) {
      room.acquire();
      writer.submit(std::make_unique<BlobJob>(&room));
    }
    writer.stop();
  }
  uintmax_t bytes = std::filesystem::file_size(path + "-wal");
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
  return bytes;
}

// A writer that never idles leaves a checkpoint no moment to catch up, so
// SQLite never starts the WAL over by itself: the checkpointer must hold the
// writer for its last copy once the WAL is long.
TEST(SqliteCheckpointerTest, TheWalStartsOverUnderAWriterThatNeverIdles) {
  // The control needs a writer that really never idles; on a loaded
  // machine (ctest -j) the feeder can be descheduled long enough for a
  // passive checkpoint to catch up once, which starts the WAL over. Take the
  // longest of a few tries.
  constexpr uintmax_t kFrame = 4096 + 24;
  uintmax_t never_held = 0;
  for (int attempt = 0; attempt < 3 && never_held <= 2000 * kFrame; ++attempt) {
    never_held = std::max(never_held, walBytesUnderABusyWriter("restart-control", /*hold=*/false));
  }
  uintmax_t held = walBytesUnderABusyWriter("restart", /*hold=*/true);
  // The workload itself: ~4,000 frames when the WAL never starts over.
  ASSERT_GT(never_held, 2000 * kFrame) << "the workload wrote less than expected";
  EXPECT_LT(held, never_held / 3) << "the WAL never started over (" << held / kFrame << " frames; "
                                  << never_held / kFrame << " without the hold)";
}

// Inserts one message row (its id: one more than the largest, as in the store).
class MessageJob final : public SqliteWriter::Job {
 public:
  explicit MessageJob(std::atomic<bool>* told) : told_(told) {}
  Status run(SqliteWriter&, SqliteDb& db) override {
    auto insert = db.prepare("INSERT INTO messages(body) VALUES ('hi')");
    if (!insert.ok()) return insert.status();
    Status st = db.stmt(insert.value()).exec();
    id_ = st.ok() ? db.lastInsertId() : 0;
    return st;
  }
  void finish(const Status&) override { told_->store(true); }
  Seq storedMessageId() const override { return id_; }

 private:
  std::atomic<bool>* told_;
  Seq id_ = 0;
};

TEST(SqliteWriterTest, TheDurableMessageIdMovesOnlyAfterTheSyncThatCoversIt) {
  std::string path = tempDb("watermark");
  SqliteDb db;
  ASSERT_TRUE(db.open(path, /*read_only=*/false).ok());
  ASSERT_TRUE(db.execScript("PRAGMA journal_mode=WAL;"
                            "CREATE TABLE messages(id INTEGER PRIMARY KEY, body);"
                            "INSERT INTO messages(body) VALUES ('before');")
                  .ok());
  std::mutex mu;
  std::condition_variable cv;
  int syncs = 0;
  bool release = false;
  std::atomic<bool> told{false};
  {
    // The first sync (at construction) passes; the second waits for the test.
    SqliteWriter writer(db, 10, [&] {
      std::unique_lock<std::mutex> lock(mu);
      if (++syncs >= 2) {
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
      }
      return Status::Ok();
    });
    EXPECT_EQ(writer.durableMessageId(), 1) << "what the file held at start";
    writer.submit(std::make_unique<MessageJob>(&told));
    {
      std::unique_lock<std::mutex> lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return syncs >= 2; }));
    }
    // Committed (another connection sees row 2), not yet synced.
    SqliteDb reader;
    ASSERT_TRUE(reader.open(path, /*read_only=*/true).ok());
    auto count = reader.prepare("SELECT COUNT(*) FROM messages");
    ASSERT_TRUE(count.ok());
    {
      Stmt s = reader.stmt(count.value());
      ASSERT_TRUE(s.step());
      EXPECT_EQ(s.int64(0), 2);
    }
    EXPECT_EQ(writer.durableMessageId(), 1);
    EXPECT_FALSE(told.load());
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!told.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(told.load());
    EXPECT_EQ(writer.durableMessageId(), 2) << "moved before the job was told";
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

// --- the sync interval -------------------------------------------------------

// What a writer with a sync interval did: when each make_durable call began,
// and which jobs have run (their batch is taken) and been told.
struct SyncLog {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::chrono::steady_clock::time_point> syncs;  // the constructor's first
  std::vector<bool> ran, told;

  explicit SyncLog(size_t jobs) : ran(jobs), told(jobs) {}
  SqliteWriter::MakeDurable makeDurable() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu);
      syncs.push_back(std::chrono::steady_clock::now());
      return Status::Ok();
    };
  }
  void mark(std::vector<bool>& flags, size_t job) {
    std::lock_guard<std::mutex> lock(mu);
    flags[job] = true;
    cv.notify_all();
  }
  // Waits (10 s at most: a bound on a hang, not a timing) for `flags[job]`.
  bool await(const std::vector<bool>& flags, size_t job) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return flags[job]; });
  }
  size_t syncCount() {
    std::lock_guard<std::mutex> lock(mu);
    return syncs.size();
  }
};

class LoggedJob final : public SqliteWriter::Job {
 public:
  LoggedJob(SyncLog* log, size_t index) : log_(log), index_(index) {}
  Status run(SqliteWriter&, SqliteDb& db) override {
    auto insert = db.prepare("INSERT INTO t(v) VALUES (1)");
    if (!insert.ok()) return insert.status();
    Status st = db.stmt(insert.value()).exec();
    log_->mark(log_->ran, index_);
    return st;
  }
  void finish(const Status& status) override {
    EXPECT_TRUE(status.ok()) << status.toString();
    log_->mark(log_->told, index_);
  }

 private:
  SyncLog* log_;
  size_t index_;
};

std::string tableDb(const char* name, SqliteDb* db) {
  std::string path = tempDb(name);
  EXPECT_TRUE(db->open(path, /*read_only=*/false).ok());
  EXPECT_TRUE(db->execScript("PRAGMA journal_mode=WAL; CREATE TABLE t(v INTEGER);").ok());
  return path;
}

constexpr auto kHour = std::chrono::hours(1);

// Job 0, told (its sync is the writer's first, which never waits).
void runJobZero(SqliteWriter& writer, SyncLog& log) {
  writer.submit(std::make_unique<LoggedJob>(&log, 0));
  ASSERT_TRUE(log.await(log.told, 0));
}

// Jobs 1..n, each in a batch of its own: queued once the one before has run.
void runSeparateBatches(SqliteWriter& writer, SyncLog& log, size_t n) {
  for (size_t i = 1; i <= n; ++i) {
    writer.submit(std::make_unique<LoggedJob>(&log, i));
    ASSERT_TRUE(log.await(log.ran, i)) << "batch " << i << " never ran";
  }
}

TEST(SqliteWriterSyncIntervalTest, TheFirstCommitAfterAQuietSpellIsSyncedAtOnce) {
  SqliteDb db;
  std::string path = tableDb("interval-quiet", &db);
  SyncLog log(1);
  {
    SqliteWriter writer(db, 10, log.makeDurable(), kHour);
    writer.submit(std::make_unique<LoggedJob>(&log, 0));
    EXPECT_TRUE(log.await(log.told, 0)) << "the first sync waited for the interval";
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(SqliteWriterSyncIntervalTest, SyncsStartTheIntervalApartAndCoverTheCommitsOfIt) {
  SqliteDb db;
  std::string path = tableDb("interval-apart", &db);
  constexpr auto kInterval = std::chrono::milliseconds(400);
  SyncLog log(3);
  {
    SqliteWriter writer(db, 10, log.makeDurable(), kInterval);
    ASSERT_NO_FATAL_FAILURE(runJobZero(writer, log));
    ASSERT_EQ(log.syncCount(), 2u) << "the constructor's sync and job 0's";
    // Two batches, committed within the interval that began with job 0's sync.
    ASSERT_NO_FATAL_FAILURE(runSeparateBatches(writer, log, 2));
    ASSERT_TRUE(log.await(log.told, 1));
    ASSERT_TRUE(log.await(log.told, 2));
    std::lock_guard<std::mutex> lock(log.mu);
    ASSERT_GE(log.syncs.size(), 3u);
    // The log's times are taken inside make_durable, a little after the
    // writer's own: the slack is for a thread preempted in between.
    constexpr auto kSlack = std::chrono::milliseconds(100);
    EXPECT_GE(log.syncs[2] - log.syncs[1], kInterval - kSlack) << "a sync started early";
    // Job 2's commit could only miss the interval on a machine stalled for
    // most of 400 ms; then it has a sync of its own, after the interval again.
    if (log.syncs.size() == 4) {
      EXPECT_GE(log.syncs[3] - log.syncs[2], kInterval - kSlack);
    }
    EXPECT_LE(log.syncs.size(), 4u);
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(SqliteWriterSyncIntervalTest, TheWriterGoesOnCommittingThroughoutTheInterval) {
  SqliteDb db;
  std::string path = tableDb("interval-writer", &db);
  // More batches than the hand-over queue holds (kMaxUntold): the writer
  // would wait for room if the completion thread left them there.
  constexpr size_t kBatches = SqliteWriter::kMaxUntold + 2;
  SyncLog log(kBatches + 1);
  {
    SqliteWriter writer(db, 10, log.makeDurable(), kHour);
    ASSERT_NO_FATAL_FAILURE(runJobZero(writer, log));
    ASSERT_NO_FATAL_FAILURE(runSeparateBatches(writer, log, kBatches));
    {
      std::lock_guard<std::mutex> lock(log.mu);
      EXPECT_EQ(log.syncs.size(), 2u) << "a sync inside the interval";
      for (size_t i = 1; i <= kBatches; ++i) EXPECT_FALSE(log.told[i]) << "told unsynced: " << i;
    }
    writer.stop();  // syncs at once (below), and tells them all
    for (size_t i = 1; i <= kBatches; ++i) EXPECT_TRUE(log.await(log.told, i)) << "job " << i;
    EXPECT_EQ(log.syncCount(), 3u) << "one sync for all the interval's batches";
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(SqliteWriterSyncIntervalTest, TheBatchesHeldDuringAnIntervalAreBounded) {
  SqliteDb db;
  std::string path = tableDb("interval-held", &db);
  constexpr size_t kBatches = SqliteWriter::kMaxHeldBatches;
  SyncLog log(kBatches + 1);
  {
    SqliteWriter writer(db, 10, log.makeDurable(), kHour);
    ASSERT_NO_FATAL_FAILURE(runJobZero(writer, log));
    // kMaxHeldBatches batches inside the hour: synced and told without it.
    ASSERT_NO_FATAL_FAILURE(runSeparateBatches(writer, log, kBatches));
    for (size_t i = 1; i <= kBatches; ++i) EXPECT_TRUE(log.await(log.told, i)) << "job " << i;
    EXPECT_EQ(log.syncCount(), 3u);
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(SqliteWriterSyncIntervalTest, AStopDoesNotWaitOutTheInterval) {
  SqliteDb db;
  std::string path = tableDb("interval-stop", &db);
  SyncLog log(2);
  {
    SqliteWriter writer(db, 10, log.makeDurable(), kHour);
    ASSERT_NO_FATAL_FAILURE(runJobZero(writer, log));
    ASSERT_NO_FATAL_FAILURE(runSeparateBatches(writer, log, 1));
    std::thread stopper([&] { writer.stop(); });
    EXPECT_TRUE(log.await(log.told, 1)) << "the stop waited for the interval";
    stopper.join();
    EXPECT_EQ(log.syncCount(), 3u) << "job 1 was told without a sync of its own";
  }
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(SqliteWriterDeathTest, ACommitThatCannotBeMadeDurableStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::string path = tempDb("fsync-fails");
  // spdlog's default logger writes to stdout, so the signal is what is checked.
  EXPECT_EXIT(
      {
        SqliteDb db;
        (void)db.open(path, /*read_only=*/false);
        (void)db.execScript("PRAGMA journal_mode=WAL; CREATE TABLE t(v INTEGER);");
        CountingJob::Seen seen;
        SqliteWriter writer(db, 10, [] { return Status::Unavailable("fdatasync: EIO"); });
        writer.submit(std::make_unique<CountingJob>(&seen));
        writer.stop();
      },
      ::testing::KilledBySignal(SIGABRT), "");
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

}  // namespace
}  // namespace parley
