// SqliteDb: one SQLite connection with a cache of prepared statements, and
// Stmt, a scoped handle that binds, steps and resets one of them. Used only by
// SqliteStore; every SQL statement in Parley is a prepared statement.
//
// Not thread safe: one thread uses a SqliteDb at a time.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace parley {

class SqliteDb;

class Stmt {
 public:
  // Resets on entry as well as on exit: a cached statement may be handed out
  // again while an earlier Stmt of it is still in scope.
  Stmt(SqliteDb& db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  // Binds by 1-based index; chainable.
  Stmt& bind(int index, int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Stmt& bind(int index, std::string_view value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // Binds without a copy, for the hot path: `value` must stay alive and
  // unchanged until this Stmt is destroyed (or the index bound again).
  Stmt& bindUncopied(int index, std::string_view value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bindNull(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
  }

  // Steps once: true with a row, false when done. Errors land in status().
  bool step();
  // Runs to completion (for statements without rows).
  Status exec();
  const Status& status() const { return status_; }

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : "";
  }
  bool isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  SqliteDb& db_;
  sqlite3_stmt* stmt_;
  Status status_;
};

class SqliteDb {
 public:
  SqliteDb() = default;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  Status open(const std::string& path, bool read_only);
  // Runs SQL text without parameters (schema, pragmas, transaction control).
  Status execScript(const char* sql);
  // A cached prepared statement for `sql` (a string that lives forever).
  Result<sqlite3_stmt*> prepare(const char* sql);
  Stmt stmt(sqlite3_stmt* s) { return Stmt(*this, s); }

  // Turns the last error into a Status (constraint violations -> Conflict,
  // busy/locked/IO -> Unavailable).
  Status error(const char* what) const;
  int64_t lastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  // Rows changed by every statement completed on this connection so far (a
  // statement that failed and was undone adds nothing).
  int64_t totalChanges() const { return sqlite3_total_changes64(db_); }
  // A transaction is open (SQLite ends one by itself after some errors).
  bool inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }
  sqlite3* raw() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

}  // namespace parley
