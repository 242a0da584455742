// SqliteWriter's durability contract: a job hears how it ended only after a
// make_durable call that followed its commit, and a commit that cannot be
// made durable stops the process rather than answer either way.
#include "store/sqlite_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

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
