// The WAL-buffering VFS: commits stay visible to other connections at once
// (whatever the synchronous setting), rolled-back and spilled transactions
// leave a sound database, and a large commit takes a handful of write calls.
#include "store/sqlite_wal_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace parley {
namespace {

class Conn {
 public:
  Conn(const std::string& path, const char* vfs, bool read_only = false) {
    int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    rc_ = sqlite3_open_v2(path.c_str(), &db_, flags, vfs);
  }
  ~Conn() { sqlite3_close(db_); }
  bool opened() const { return rc_ == SQLITE_OK; }

  void exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
  }
  // The first column of the first row, as text.
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return std::string("prepare: ") + sqlite3_errmsg(db_);
    }
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      auto text = sqlite3_column_text(stmt, 0);
      out = text ? reinterpret_cast<const char*>(text) : "NULL";
    } else {
      out = std::string("step: ") + sqlite3_errmsg(db_);
    }
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

class WalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("parley-walvfs-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_NE(walBufferingVfsName(), nullptr) << "the VFS did not register";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

// Rows 1..n, for INSERT ... SELECT (Debian's SQLite has no generate_series).
std::string upTo(int n) {
  return "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
         std::to_string(n) + ") ";
}

// Inserts `rows` rows of `bytes` random bytes each in one transaction.
std::string insertSql(int rows, int bytes) {
  return "BEGIN; INSERT INTO t(v) " + upTo(rows) + "SELECT randomblob(" + std::to_string(bytes) +
         ") FROM n; COMMIT;";
}

TEST_F(WalVfsTest, EveryCommitIsReadableByOtherConnectionsAtOnceUnderEverySyncSetting) {
  for (const char* sync : {"FULL", "NORMAL", "OFF"}) {
    SCOPED_TRACE(sync);
    std::string db = path((std::string("s-") + sync + ".db").c_str());
    Conn writer(db, walBufferingVfsName());
    ASSERT_TRUE(writer.opened());
    writer.exec(std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") + sync +
                "; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
    // One reader through the buffering VFS, one through SQLite's own: the
    // second reads the file itself, so the frames must be there.
    Conn buffered_reader(db, walBufferingVfsName(), /*read_only=*/true);
    Conn plain_reader(db, nullptr, /*read_only=*/true);
    ASSERT_TRUE(buffered_reader.opened() && plain_reader.opened());
    int64_t rows = 0, bytes = 0;
    // Small commits, commits of a few pages, and one of ~6 MiB (more than
    // the VFS gathers at once).
    for (auto [n, size] : {std::pair{1, 10}, {3, 3000}, {50, 500}, {1500, 4000}, {2, 100}}) {
      writer.exec(insertSql(n, size));
      rows += n;
      bytes += int64_t{n} * size;
      std::string expected = std::to_string(rows) + " " + std::to_string(bytes);
      std::string query = "SELECT COUNT(*) || ' ' || SUM(LENGTH(v)) FROM t";
      EXPECT_EQ(buffered_reader.scalar(query), expected);
      EXPECT_EQ(plain_reader.scalar(query), expected);
    }
    EXPECT_EQ(plain_reader.scalar("PRAGMA integrity_check"), "ok");
  }
}

TEST_F(WalVfsTest, SpilledAndRolledBackTransactionsLeaveASoundDatabase) {
  std::string db = path("spill.db");
  {
    Conn writer(db, walBufferingVfsName());
    ASSERT_TRUE(writer.opened());
    // A 20-page cache: a big transaction spills pages into the WAL before
    // it commits, and SQLite rewrites and re-reads some of them.
    writer.exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=20;"
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); CREATE INDEX t_v ON t(v);");
    writer.exec(insertSql(400, 300));
    writer.exec("BEGIN; INSERT INTO t(v) " + upTo(3000) +
                "SELECT randomblob(300) FROM n;"
                "UPDATE t SET v = randomblob(200) WHERE id % 3 = 0; ROLLBACK;");
    writer.exec(insertSql(2000, 700));
    writer.exec("UPDATE t SET v = randomblob(100) WHERE id % 2 = 0");
    EXPECT_EQ(writer.scalar("SELECT COUNT(*) FROM t"), "2400");
  }
  // Reopened by plain SQLite: recovery reads the WAL the VFS wrote.
  Conn reopened(db, nullptr);
  ASSERT_TRUE(reopened.opened());
  EXPECT_EQ(reopened.scalar("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(reopened.scalar("SELECT COUNT(*) FROM t"), "2400");
  EXPECT_EQ(reopened.scalar("SELECT COUNT(*) FROM t WHERE id % 2 = 0 AND LENGTH(v) = 100"), "1200");
}

TEST_F(WalVfsTest, WhatCommitReturnedIsInTheFileWhenTheProcessDiesWithoutSyncOrClose) {
  // A crash right after COMMIT, before any sync or close: with NORMAL or OFF
  // nothing else flushes. Covers the spill path too (a 20-page cache: pages
  // go to the WAL mid-transaction, change again, and SQLite rewrites their
  // frames and frame headers in place before it publishes the commit).
  for (const char* sync : {"NORMAL", "OFF"}) {
    for (int cache_pages : {20, 2000}) {
      SCOPED_TRACE(std::string(sync) + ", cache " + std::to_string(cache_pages));
      std::string db = path(("crash-" + std::string(sync) + std::to_string(cache_pages)).c_str());
      pid_t child = fork();
      ASSERT_GE(child, 0);
      if (child == 0) {
        sqlite3* c = nullptr;
        sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        walBufferingVfsName());
        std::string sql = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") + sync +
                          "; PRAGMA cache_size=" + std::to_string(cache_pages) +
                          "; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);"
                          "CREATE INDEX t_v ON t(v);" +
                          "BEGIN; INSERT INTO t(v) " + upTo(3000) +
                          "SELECT randomblob(300) FROM n;"
                          "UPDATE t SET v = randomblob(250) WHERE id % 7 = 0; COMMIT;";
        int rc = sqlite3_exec(c, sql.c_str(), nullptr, nullptr, nullptr);
        _exit(rc == SQLITE_OK ? 0 : 1);  // no close, no sync
      }
      int status = 0;
      ASSERT_EQ(waitpid(child, &status, 0), child);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's SQL failed";
      Conn reopened(db, nullptr);
      ASSERT_TRUE(reopened.opened());
      EXPECT_EQ(reopened.scalar("SELECT COUNT(*) FROM t"), "3000");
      EXPECT_EQ(reopened.scalar("SELECT COUNT(*) FROM t WHERE id % 7 = 0 AND LENGTH(v) = 250"),
                "428");
      EXPECT_EQ(reopened.scalar("PRAGMA integrity_check"), "ok");
    }
  }
}

// Write system calls this process has made (Linux task I/O accounting).
int64_t writeSyscalls() {
  std::ifstream io("/proc/self/io");
  std::string key;
  int64_t value = -1;
  while (io >> key >> value) {
    if (key == "syscw:") return value;
  }
  return -1;
}

TEST_F(WalVfsTest, ALargeCommitTakesAHandfulOfWriteCallsNotTwoPerPage) {
  if (writeSyscalls() < 0) GTEST_SKIP() << "no /proc/self/io on this kernel";
  auto calls_for_commit = [&](const char* name, const char* vfs) {
    Conn writer(path(name), vfs);
    EXPECT_TRUE(writer.opened());
    writer.exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
    int64_t before = writeSyscalls();
    writer.exec(insertSql(500, 3000));  // ~500 pages of 4 KiB
    return writeSyscalls() - before;
  };
  int64_t plain = calls_for_commit("plain.db", nullptr);
  int64_t buffered = calls_for_commit("buffered.db", walBufferingVfsName());
  EXPECT_GE(plain, 1000) << "SQLite's own VFS: a header and a page per frame";
  EXPECT_LE(buffered, 40) << "buffered: ~2 MB in 120 KiB writes";
}

}  // namespace
}  // namespace parley
