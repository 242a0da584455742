#include "store/sqlite_db.h"

#include "store/sqlite_wal_vfs.h"

namespace parley {
namespace {

// Process-wide SQLite settings, made before SQLite initializes (at the first
// open); returns the VFS every connection uses.
const char* configureSqliteOnce() {
  static const char* vfs = [] {
    // Memory statistics take a global mutex around every SQLite malloc and
    // free; Parley never reads them.
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return walBufferingVfsName();
  }();
  return vfs;
}

}  // namespace

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = db_.error("step");
  return false;
}

Status Stmt::exec() {
  while (step()) {
  }
  return status_;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  if (db_) sqlite3_close(db_);
}

Status SqliteDb::open(const std::string& path, bool read_only) {
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
              SQLITE_OPEN_NOMUTEX;  // one thread at a time, by construction
  if (sqlite3_open_v2(path.c_str(), &db_, flags, configureSqliteOnce()) != SQLITE_OK) {
    return Status::Unavailable("cannot open " + path + ": " +
                               (db_ ? sqlite3_errmsg(db_) : "out of memory"));
  }
  // Readers and the writer never wait on each other in WAL mode; the timeout
  // covers checkpoints and a second process opening the same file.
  sqlite3_busy_timeout(db_, 5000);
  return Status::Ok();
}

Status SqliteDb::execScript(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Status st = error(err ? err : "exec");
    sqlite3_free(err);
    return st;
  }
  return Status::Ok();
}

Result<sqlite3_stmt*> SqliteDb::prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    return error("prepare");
  }
  cache_.emplace(sql, stmt);
  return stmt;
}

Status SqliteDb::error(const char* what) const {
  int code = sqlite3_extended_errcode(db_);
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db_);
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      return Status::Conflict(msg);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return Status::Unavailable(msg);
    default:
      return Status::Internal(msg);
  }
}

}  // namespace parley
