#include "store/mysql_conn.h"

#include <errmsg.h>
#include <mysqld_error.h>

#include <cstring>

namespace parley {

Result<MysqlConfig> parseMysqlUrl(const std::string& url) {
  const std::string prefix = "mysql://";
  if (url.rfind(prefix, 0) != 0) return Status::BadRequest("a MySQL URL starts with mysql://");
  std::string rest = url.substr(prefix.size());
  MysqlConfig c;
  size_t at = rest.rfind('@');
  if (at == std::string::npos) return Status::BadRequest("MySQL URL needs user@host");
  std::string cred = rest.substr(0, at);
  std::string hostpart = rest.substr(at + 1);
  size_t colon = cred.find(':');
  c.user = cred.substr(0, colon);
  if (colon != std::string::npos) c.password = cred.substr(colon + 1);
  size_t slash = hostpart.find('/');
  if (slash == std::string::npos || slash + 1 >= hostpart.size()) {
    return Status::BadRequest("MySQL URL needs /database");
  }
  c.database = hostpart.substr(slash + 1);
  std::string hostport = hostpart.substr(0, slash);
  size_t pc = hostport.rfind(':');
  c.host = hostport.substr(0, pc);
  if (pc != std::string::npos) {
    try {
      c.port = static_cast<unsigned>(std::stoul(hostport.substr(pc + 1)));
    } catch (const std::exception&) {
      return Status::BadRequest("bad port in MySQL URL");
    }
  }
  if (c.user.empty() || c.host.empty()) return Status::BadRequest("MySQL URL needs user and host");
  return c;
}

Status MysqlConn::ensureConnected() {
  if (mysql_) return Status::Ok();
  mysql_ = mysql_init(nullptr);
  if (!mysql_) return Status::Internal("mysql_init: out of memory");
  unsigned ct = config_.connect_timeout, io = config_.io_timeout;
  mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
  mysql_options(mysql_, MYSQL_OPT_READ_TIMEOUT, &io);
  mysql_options(mysql_, MYSQL_OPT_WRITE_TIMEOUT, &io);
  mysql_options(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // We reconnect ourselves: an automatic reconnect in the middle of a
  // transaction would silently lose its first half.
  my_bool reconnect = 0;
  mysql_options(mysql_, MYSQL_OPT_RECONNECT, &reconnect);
  if (!mysql_real_connect(mysql_, config_.host.c_str(), config_.user.c_str(),
                          config_.password.c_str(), config_.database.c_str(), config_.port, nullptr,
                          0)) {
    std::string msg = mysql_error(mysql_);
    disconnect();
    return Status::Unavailable("cannot connect to MySQL at " + config_.host + ":" +
                               std::to_string(config_.port) + ": " + msg);
  }
  autocommit_ = true;
  return Status::Ok();
}

void MysqlConn::disconnect() {
  for (auto& [sql, stmt] : stmts_) mysql_stmt_close(stmt);
  stmts_.clear();
  if (mysql_) mysql_close(mysql_);
  mysql_ = nullptr;
}

Status MysqlConn::fail(const char* what, unsigned err, const std::string& msg) {
  std::string text = std::string(what) + ": " + msg;
  retryable_ = false;
  last_error_ = err;
  switch (err) {
    case ER_DUP_ENTRY:
      return Status::Conflict(text);
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
      retryable_ = true;
      return Status::Unavailable(text);
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case ER_CONNECTION_KILLED:
    case ER_SERVER_SHUTDOWN:
      // The connection is useless now; drop it so the next call reconnects.
      retryable_ = true;
      disconnect();
      return Status::Unavailable(text);
    default:
      if (err >= 2000 && err < 3000) {  // other client-side (connection) errors
        retryable_ = true;
        disconnect();
        return Status::Unavailable(text);
      }
      return Status::Internal(text);
  }
}

Status MysqlConn::exec(const char* sql, const std::vector<SqlValue>& params,
                       std::vector<SqlRow>* rows) {
  // retryable() speaks of this statement only: a flag left over from an
  // earlier failure on this pooled connection would make run() repeat a
  // unit of work that failed for a reason of its own ("the group is full").
  retryable_ = false;
  Status st = ensureConnected();
  if (!st.ok()) return st;
  MYSQL_STMT* stmt = nullptr;
  if (auto it = stmts_.find(sql); it != stmts_.end()) {
    stmt = it->second;
  } else {
    stmt = mysql_stmt_init(mysql_);
    if (!stmt) return Status::Internal("mysql_stmt_init: out of memory");
    if (mysql_stmt_prepare(stmt, sql, std::strlen(sql)) != 0) {
      unsigned err = mysql_stmt_errno(stmt);
      std::string msg = mysql_stmt_error(stmt);
      mysql_stmt_close(stmt);
      return fail("prepare", err, msg);
    }
    stmts_.emplace(sql, stmt);
  }

  // Value-initialized, i.e. zeroed, as the C API expects of unused fields.
  std::vector<MYSQL_BIND> binds(params.size());
  std::vector<unsigned long> lengths(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const SqlValue& v = params[i];
    MYSQL_BIND& b = binds[i];
    switch (v.kind) {
      case SqlValue::Kind::kNull:
        b.buffer_type = MYSQL_TYPE_NULL;
        break;
      case SqlValue::Kind::kInt:
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = const_cast<int64_t*>(&v.i);
        break;
      case SqlValue::Kind::kText:
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = const_cast<char*>(v.s.data());
        lengths[i] = v.s.size();
        b.buffer_length = v.s.size();
        b.length = &lengths[i];
        break;
    }
  }
  if (!binds.empty() && mysql_stmt_bind_param(stmt, binds.data()) != 0) {
    return fail("bind", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
  }
  if (mysql_stmt_execute(stmt) != 0) {
    return fail("execute", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
  }
  affected_rows_ = mysql_stmt_affected_rows(stmt);
  insert_id_ = mysql_stmt_insert_id(stmt);

  MYSQL_RES* meta = mysql_stmt_result_metadata(stmt);
  if (!meta) return drainResults(stmt);  // no result set
  // Buffer the whole result so each column's longest value is known, then
  // fetch every column as text.
  my_bool update_max = 1;
  mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
  if (mysql_stmt_store_result(stmt) != 0) {
    mysql_free_result(meta);
    return fail("store_result", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
  }
  unsigned ncols = mysql_num_fields(meta);
  MYSQL_FIELD* fields = mysql_fetch_fields(meta);
  std::vector<MYSQL_BIND> out(ncols);
  std::vector<std::vector<char>> bufs(ncols);
  std::vector<unsigned long> out_len(ncols);
  std::vector<my_bool> is_null(ncols);
  for (unsigned c = 0; c < ncols; ++c) {
    bufs[c].resize(fields[c].max_length + 1);
    out[c].buffer_type = MYSQL_TYPE_STRING;
    out[c].buffer = bufs[c].data();
    out[c].buffer_length = bufs[c].size();
    out[c].length = &out_len[c];
    out[c].is_null = &is_null[c];
  }
  mysql_stmt_bind_result(stmt, out.data());
  int rc;
  while ((rc = mysql_stmt_fetch(stmt)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
    if (!rows) continue;
    SqlRow row(ncols);
    for (unsigned c = 0; c < ncols; ++c) {
      if (!is_null[c]) row[c] = std::string(bufs[c].data(), out_len[c]);
    }
    rows->push_back(std::move(row));
  }
  mysql_free_result(meta);
  mysql_stmt_free_result(stmt);
  if (rc == 1) return fail("fetch", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
  return drainResults(stmt);
}

Status MysqlConn::drainResults(MYSQL_STMT* stmt) {
  // A CALL answers with the procedure's result set and then a status of its
  // own; until both are read the connection takes no other command.
  while (mysql_stmt_more_results(stmt)) {
    int rc = mysql_stmt_next_result(stmt);
    if (rc > 0) return fail("next_result", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
    if (rc < 0) break;
    if (mysql_stmt_field_count(stmt) > 0) {
      if (mysql_stmt_store_result(stmt) != 0) {
        return fail("store_result", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
      }
      mysql_stmt_free_result(stmt);
    }
  }
  return Status::Ok();
}

Status MysqlConn::execDefinition(const char* sql) {
  Status st = exec(sql, {});
  if (st.ok() || last_error_ != ER_UNSUPPORTED_PS) return st;
  // MySQL cannot prepare CREATE PROCEDURE (MariaDB can since 10.6). The
  // text is the program's own constant, never data, so the plain query
  // interface carries it there.
  if (mysql_real_query(mysql_, sql, std::strlen(sql)) != 0) {
    return fail("query", mysql_errno(mysql_), mysql_error(mysql_));
  }
  return Status::Ok();
}

Status MysqlConn::begin() {
  // Usually off already: the last transaction ended with commit() or
  // rollback(), and the next statement starts a new one.
  return setAutocommit(false);
}

Status MysqlConn::commit() {
  if (!mysql_) return Status::Unavailable("connection lost before commit");
  if (mysql_commit(mysql_) != 0) {
    Status st = fail("commit", mysql_errno(mysql_), mysql_error(mysql_));
    // The connection goes back to the pool either way: leave nothing open
    // for its next user. A no-op if fail() dropped the connection.
    rollback();
    return st;
  }
  return Status::Ok();
}

void MysqlConn::rollback() {
  if (!mysql_) return;
  mysql_rollback(mysql_);
}

Status MysqlConn::autocommit() { return setAutocommit(true); }

Status MysqlConn::setAutocommit(bool on) {
  retryable_ = false;  // as in exec()
  Status st = ensureConnected();
  if (!st.ok() || autocommit_ == on) return st;
  if (mysql_autocommit(mysql_, on ? 1 : 0) != 0) {
    return fail(on ? "autocommit" : "begin", mysql_errno(mysql_), mysql_error(mysql_));
  }
  autocommit_ = on;
  return Status::Ok();
}

}  // namespace parley
