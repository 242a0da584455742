// MysqlConn: one MariaDB Connector/C connection with a cache of prepared
// statements, and MysqlQuery, which binds parameters, executes, and reads
// rows of one of them. Every statement Parley sends is a prepared statement;
// transactions use the API calls (mysql_autocommit/commit/rollback), not SQL.
//
// Not thread safe: MysqlStore's pool hands a connection to one thread at a time.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace parley {

struct MysqlConfig {
  std::string host = "127.0.0.1";
  unsigned port = 3306;
  std::string user;
  std::string password;
  std::string database;
  // How long a call may wait on a dead or unreachable server before it is
  // reported `unavailable` (seconds).
  unsigned connect_timeout = 2;
  unsigned io_timeout = 5;
};

// Parses mysql://user:pass@host:port/database (password and port optional).
Result<MysqlConfig> parseMysqlUrl(const std::string& url);

// A parameter or column value: NULL, an integer, or text.
struct SqlValue {
  enum class Kind { kNull, kInt, kText } kind = Kind::kNull;
  int64_t i = 0;
  std::string s;
  SqlValue() = default;
  SqlValue(int64_t v) : kind(Kind::kInt), i(v) {}                  // NOLINT
  SqlValue(std::string v) : kind(Kind::kText), s(std::move(v)) {}  // NOLINT
  SqlValue(const char* v) : kind(Kind::kText), s(v) {}             // NOLINT
};

using SqlRow = std::vector<std::optional<std::string>>;  // nullopt = NULL

class MysqlConn {
 public:
  explicit MysqlConn(MysqlConfig config) : config_(std::move(config)) {}
  MysqlConn(const MysqlConn&) = delete;
  MysqlConn& operator=(const MysqlConn&) = delete;
  ~MysqlConn() { disconnect(); }

  // Connects if not connected. Unavailable when the server cannot be reached.
  Status ensureConnected();
  void disconnect();
  bool connected() const { return mysql_ != nullptr; }

  // Executes `sql` with `params`; rows (if any) go to `rows`. Sets
  // affected_rows() and insertId(). Duplicate keys -> Conflict; lost
  // connection -> Unavailable (and the connection is dropped so the next
  // ensureConnected() reconnects); deadlock / lock wait -> Unavailable with
  // retryable() true.
  Status exec(const char* sql, const std::vector<SqlValue>& params,
              std::vector<SqlRow>* rows = nullptr);
  // A schema definition (migrations only): through exec(), or, where the
  // server cannot prepare it (MySQL's CREATE PROCEDURE), as a plain query.
  Status execDefinition(const char* sql);
  uint64_t affectedRows() const { return affected_rows_; }
  uint64_t insertId() const { return insert_id_; }
  // The last failure was transient (lost connection, deadlock): retry the
  // whole unit of work.
  bool retryable() const { return retryable_; }

  // A transaction: begin() turns autocommit off, commit() and rollback()
  // end the transaction and leave it off, so that a connection running one
  // write transaction after another pays no `SET autocommit` round trip in
  // either direction (two of a 1:1 send's six). Single statements outside
  // a transaction call autocommit() first: with autocommit off, a read
  // would open a transaction and pin the connection to its snapshot.
  Status begin();
  Status commit();
  void rollback();
  Status autocommit();

 private:
  Status fail(const char* what, unsigned err, const std::string& msg);
  // Reads the results that follow the first (a CALL's closing status).
  Status drainResults(MYSQL_STMT* stmt);
  // One round trip only when the session's setting differs.
  Status setAutocommit(bool on);

  MysqlConfig config_;
  MYSQL* mysql_ = nullptr;
  std::unordered_map<const char*, MYSQL_STMT*> stmts_;
  uint64_t affected_rows_ = 0;
  uint64_t insert_id_ = 0;
  bool retryable_ = false;
  unsigned last_error_ = 0;  // the server's or client's error number of the last failure
  bool autocommit_ = true;   // the session's setting (a new session's is on)
};

}  // namespace parley
