#include "store/mysql_store.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "store/chat_key.h"
#include "store/mysql_schema.h"

namespace parley {
namespace {

// Attempts for a unit of work that failed transiently (deadlock, lost
// connection). A commit that fails is never retried: it may have applied.
constexpr int kAttempts = 3;
// How long a caller waits for a pooled connection before `unavailable`.
constexpr std::chrono::seconds kPoolWait{5};

int64_t num(const std::optional<std::string>& v) { return v ? std::stoll(*v) : 0; }
std::string str(const std::optional<std::string>& v) { return v.value_or(""); }

#define MESSAGE_COLUMNS "m.id, su.name, COALESCE(ru.name, ''), COALESCE(g.name, ''), m.body, m.ts"
#define MESSAGE_JOINS                                     \
  " FROM messages m JOIN users su ON su.id = m.sender_id" \
  " LEFT JOIN users ru ON ru.id = m.recipient_id"         \
  " LEFT JOIN chat_groups g ON g.id = m.group_id"

Message readMessage(const SqlRow& r, size_t first) {
  return Message{num(r[first]),     str(r[first + 1]), str(r[first + 2]),
                 str(r[first + 3]), str(r[first + 4]), num(r[first + 5])};
}

}  // namespace

Result<std::unique_ptr<MysqlStore>> MysqlStore::open(const std::string& url, size_t pool_size) {
  auto config = parseMysqlUrl(url);
  if (!config.ok()) return config.status();
  std::unique_ptr<MysqlStore> store(new MysqlStore());
  for (size_t i = 0; i < std::max<size_t>(1, pool_size); ++i) {
    store->free_.push_back(std::make_unique<MysqlConn>(config.value()));
  }
  Status st = store->migrate();
  if (!st.ok()) return st;
  return store;
}

Result<std::unique_ptr<MysqlConn>> MysqlStore::acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, kPoolWait, [this] { return !free_.empty(); })) {
    return Status::Unavailable("no free database connection");
  }
  std::unique_ptr<MysqlConn> conn = std::move(free_.back());
  free_.pop_back();
  return conn;
}

void MysqlStore::release(std::unique_ptr<MysqlConn> conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

Status MysqlStore::run(bool transaction, const Work& work) {
  auto acquired = acquire();
  if (!acquired.ok()) return acquired.status();
  std::unique_ptr<MysqlConn> conn = std::move(acquired.value());
  Status st;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    st = transaction ? conn->begin() : conn->autocommit();
    if (!st.ok()) {
      if (conn->retryable() && attempt + 1 < kAttempts) continue;
      break;
    }
    st = work(*conn);
    if (st.ok() && transaction) {
      st = conn->commit();  // not retried on failure: it may have applied
      break;
    }
    if (transaction) conn->rollback();
    // Unavailable from ensureConnected (server down) is not retryable: fail
    // fast rather than make the client wait kAttempts * connect_timeout.
    if (st.ok() || !conn->retryable()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
  }
  release(std::move(conn));
  return st;
}

Status MysqlStore::runCommitting(const Work& work) {
  auto acquired = acquire();
  if (!acquired.ok()) return acquired.status();
  std::unique_ptr<MysqlConn> conn = std::move(acquired.value());
  Status st;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    // Autocommit on, as for any statement outside a transaction: the
    // procedure's own START TRANSACTION needs nothing else, and a SELECT
    // after its COMMIT must not open a transaction that the connection's
    // next user would find holding an old snapshot.
    st = conn->autocommit();
    if (st.ok()) st = work(*conn);
    // Retried only while the connection lives: then the failure came from
    // inside the procedure (a deadlock, a lock wait), which rolled back
    // before answering. A connection lost mid-call may have committed, like
    // a failed COMMIT: not retried, the client hears `unavailable`.
    if (st.ok() || !conn->retryable() || !conn->connected()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * (attempt + 1)));
  }
  release(std::move(conn));
  return st;
}

Status MysqlStore::migrate() {
  return run(false, [](MysqlConn& c) -> Status {
    Status st = c.exec(
        "CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL)"
        " ENGINE=InnoDB",
        {});
    if (!st.ok()) return st;
    // Several nodes may start at once: the advisory lock lets one migrate
    // while the others wait, then see the new version.
    std::vector<SqlRow> rows;
    st = c.exec("SELECT GET_LOCK('parley_migrate', 30)", {}, &rows);
    if (!st.ok()) return st;
    rows.clear();
    st = c.exec("SELECT COALESCE(MAX(version), 0) FROM schema_version", {}, &rows);
    if (st.ok()) {
      size_t version = static_cast<size_t>(num(rows[0][0]));
      if (version > mysql_schema::kMigrations.size()) {
        st = Status::Internal("database schema is newer than this server");
      }
      for (size_t v = version; st.ok() && v < mysql_schema::kMigrations.size(); ++v) {
        for (const char* sql : mysql_schema::kMigrations[v]) {
          st = c.execDefinition(sql);
          if (!st.ok()) break;
        }
        if (st.ok()) st = c.exec("INSERT INTO schema_version VALUES (?)", {int64_t(v + 1)});
      }
    }
    std::vector<SqlRow> ignored;
    (void)c.exec("SELECT RELEASE_LOCK('parley_migrate')", {}, &ignored);
    return st;
  });
}

// --- users -------------------------------------------------------------------

Result<User> MysqlStore::createUser(const std::string& name, const std::string& password_hash,
                                    TimestampMs now) {
  User user;
  Status st = run(false, [&](MysqlConn& c) -> Status {
    Status r = c.exec("INSERT INTO users(name, password_hash, created_ms) VALUES (?, ?, ?)",
                      {name, password_hash, now});
    if (r.isConflict()) return Status::Conflict("name " + name + " is taken");
    if (!r.ok()) return r;
    user = User{static_cast<UserId>(c.insertId()), name};
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return user;
}

Result<UserCredentials> MysqlStore::findCredentials(const std::string& name) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT id, name, password_hash FROM users WHERE name = ?", {name}, &rows);
  });
  if (!st.ok()) return st;
  if (rows.empty()) return Status::NotFound("no user " + name);
  return UserCredentials{User{num(rows[0][0]), str(rows[0][1])}, str(rows[0][2])};
}

Result<User> MysqlStore::findUser(const std::string& name) {
  auto creds = findCredentials(name);
  if (!creds.ok()) return creds.status();
  return creds->user;
}

Result<User> MysqlStore::findUserById(UserId id) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT id, name FROM users WHERE id = ?", {id}, &rows);
  });
  if (!st.ok()) return st;
  if (rows.empty()) return Status::NotFound("no user id");
  return User{num(rows[0][0]), str(rows[0][1])};
}

// --- friends -----------------------------------------------------------------

Status MysqlStore::addFriendship(UserId a, UserId b, TimestampMs now, size_t max_friends) {
  return run(true, [&](MysqlConn& c) -> Status {
    if (max_friends > 0) {
      // Both users' rows locked (in key order, one statement: no deadlock
      // between two requests naming the pair either way round) until the
      // commit, so no other friendship of theirs is added between the counts
      // and the inserts, on any node.
      std::vector<SqlRow> rows;
      Status r = c.exec("SELECT id FROM users WHERE id IN (?, ?) FOR UPDATE", {a, b}, &rows);
      if (!r.ok()) return r;
      rows.clear();
      r = c.exec("SELECT 1 FROM friendships WHERE user_id = ? AND friend_id = ?", {a, b}, &rows);
      if (!r.ok()) return r;
      if (!rows.empty()) return Status::Conflict("already friends");
      for (UserId side : {a, b}) {
        rows.clear();
        r = c.exec("SELECT COUNT(*) FROM friendships WHERE user_id = ?", {side}, &rows);
        if (!r.ok()) return r;
        if (rows.empty() || static_cast<size_t>(num(rows[0][0])) >= max_friends) {
          return Status::Forbidden("the friend limit is reached");
        }
      }
    }
    const char* sql = "INSERT INTO friendships(user_id, friend_id, created_ms) VALUES (?, ?, ?)";
    Status r = c.exec(sql, {a, b, now});
    if (!r.ok()) return r;
    return c.exec(sql, {b, a, now});
  });
}

Result<bool> MysqlStore::areFriends(UserId a, UserId b) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT 1 FROM friendships WHERE user_id = ? AND friend_id = ?", {a, b}, &rows);
  });
  if (!st.ok()) return st;
  return !rows.empty();
}

Result<std::vector<User>> MysqlStore::listFriends(UserId user) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec(
        "SELECT u.id, u.name FROM friendships f JOIN users u ON u.id = f.friend_id "
        "WHERE f.user_id = ? ORDER BY u.name",
        {user}, &rows);
  });
  if (!st.ok()) return st;
  std::vector<User> out;
  for (const auto& r : rows) out.push_back(User{num(r[0]), str(r[1])});
  return out;
}

// --- groups ------------------------------------------------------------------

Result<Group> MysqlStore::createGroup(const std::string& name, const std::string& desc,
                                      UserId owner, TimestampMs now) {
  Group group;
  Status st = run(true, [&](MysqlConn& c) -> Status {
    Status r = c.exec("INSERT INTO chat_groups(name, description, created_ms) VALUES (?, ?, ?)",
                      {name, desc, now});
    if (r.isConflict()) return Status::Conflict("group name " + name + " is taken");
    if (!r.ok()) return r;
    group = Group{static_cast<GroupId>(c.insertId()), name, desc};
    return c.exec(
        "INSERT INTO group_members(group_id, user_id, role, joined_ms) VALUES (?, ?, 'owner', ?)",
        {group.id, owner, now});
  });
  if (!st.ok()) return st;
  return group;
}

Result<Group> MysqlStore::findGroup(const std::string& name) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT id, name, description FROM chat_groups WHERE name = ?", {name}, &rows);
  });
  if (!st.ok()) return st;
  if (rows.empty()) return Status::NotFound("no group " + name);
  return Group{num(rows[0][0]), str(rows[0][1]), str(rows[0][2])};
}

Status MysqlStore::addMember(GroupId group, UserId user, TimestampMs now, size_t max_members) {
  const char* insert =
      "INSERT INTO group_members(group_id, user_id, role, joined_ms) VALUES (?, ?, 'member', ?)";
  if (max_members == 0) {
    return run(false, [&](MysqlConn& c) { return c.exec(insert, {group, user, now}); });
  }
  return run(true, [&](MysqlConn& c) -> Status {
    // The group's row locked until the commit: joins to one group take turns
    // (on every node), so none comes between the count and the insert. The
    // reads after it see the joins committed before: InnoDB takes a
    // transaction's snapshot at its first plain read, after the lock is held.
    std::vector<SqlRow> rows;
    Status r = c.exec("SELECT id FROM chat_groups WHERE id = ? FOR UPDATE", {group}, &rows);
    if (!r.ok()) return r;
    if (rows.empty()) return Status::NotFound("no such group");
    rows.clear();
    r = c.exec("SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?", {group, user},
               &rows);
    if (!r.ok()) return r;
    if (!rows.empty()) return Status::Conflict("already a member");
    rows.clear();
    r = c.exec("SELECT COUNT(*) FROM group_members WHERE group_id = ?", {group}, &rows);
    if (!r.ok()) return r;
    if (rows.empty() || static_cast<size_t>(num(rows[0][0])) >= max_members) {
      return Status::Forbidden("the group is full");
    }
    return c.exec(insert, {group, user, now});
  });
}

Status MysqlStore::removeMember(GroupId group, UserId user) {
  return run(false, [&](MysqlConn& c) -> Status {
    Status r =
        c.exec("DELETE FROM group_members WHERE group_id = ? AND user_id = ?", {group, user});
    if (!r.ok()) return r;
    return c.affectedRows() == 0 ? Status::NotFound("not a member") : Status::Ok();
  });
}

Result<std::string> MysqlStore::memberRole(GroupId group, UserId user) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT role FROM group_members WHERE group_id = ? AND user_id = ?",
                  {group, user}, &rows);
  });
  if (!st.ok()) return st;
  if (rows.empty()) return Status::NotFound("not a member");
  return str(rows[0][0]);
}

Result<std::vector<Group>> MysqlStore::listGroups(UserId user) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec(
        "SELECT g.id, g.name, g.description FROM group_members m "
        "JOIN chat_groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.name",
        {user}, &rows);
  });
  if (!st.ok()) return st;
  std::vector<Group> out;
  for (const auto& r : rows) out.push_back(Group{num(r[0]), str(r[1]), str(r[2])});
  return out;
}

Result<std::vector<Member>> MysqlStore::listMembers(GroupId group) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec(
        "SELECT u.id, u.name, m.role FROM group_members m JOIN users u ON u.id = m.user_id "
        "WHERE m.group_id = ? ORDER BY m.joined_ms, u.id",
        {group}, &rows);
  });
  if (!st.ok()) return st;
  std::vector<Member> out;
  for (const auto& r : rows) out.push_back(Member{User{num(r[0]), str(r[1])}, str(r[2])});
  return out;
}

Result<std::vector<UserId>> MysqlStore::memberIds(GroupId group) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT user_id FROM group_members WHERE group_id = ?", {group}, &rows);
  });
  if (!st.ok()) return st;
  std::vector<UserId> out;
  for (const auto& r : rows) out.push_back(num(r[0]));
  return out;
}

// --- messages ----------------------------------------------------------------

Result<Store::Appended> MysqlStore::appendDirect(UserId from, UserId to, const std::string& text,
                                                 TimestampMs ts) {
  std::vector<SqlRow> rows;
  Status st = runCommitting([&](MysqlConn& c) {
    rows.clear();
    return c.exec("CALL parley_append_direct(?, ?, ?, ?, ?)",
                  {directChatKey(from, to), from, to, text, ts}, &rows);
  });
  if (!st.ok()) return st;
  if (rows.size() != 1) return Status::Internal("parley_append_direct: unexpected answer");
  Appended out;
  out.id = static_cast<MessageId>(num(rows[0][0]));
  if (out.id == 0) return Status::NotFound("no recipient");
  Seq seq = num(rows[0][1]);
  out.slots.push_back(InboxSlot{to, seq, seq - 1});  // gap-free here
  return out;
}

Result<Store::Appended> MysqlStore::appendGroup(GroupId group, UserId from, const std::string& text,
                                                TimestampMs ts) {
  Appended out;
  Status st = run(true, [&](MysqlConn& c) -> Status {
    out = Appended{};
    std::vector<SqlRow> member;
    Status r = c.exec("SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?",
                      {group, from}, &member);
    if (!r.ok()) return r;
    if (member.empty()) return Status::NotFound("not a member");
    r = c.exec("INSERT INTO messages(chat, sender_id, group_id, body, ts) VALUES (?, ?, ?, ?, ?)",
               {groupChatKey(group), from, group, text, ts});
    if (!r.ok()) return r;
    out.id = static_cast<MessageId>(c.insertId());
    // Stored once; every member but the sender gets the next seq of its own
    // inbox and a row pointing at the message. Three statements whatever
    // the group size.
    r = c.exec(
        "UPDATE users u JOIN group_members m ON m.user_id = u.id "
        "SET u.last_seq = u.last_seq + 1 WHERE m.group_id = ? AND m.user_id <> ?",
        {group, from});
    if (!r.ok()) return r;
    r = c.exec(
        "INSERT INTO inbox(user_id, seq, message_id) "
        "SELECT u.id, u.last_seq, ? FROM users u JOIN group_members m ON m.user_id = u.id "
        "WHERE m.group_id = ? AND m.user_id <> ?",
        {out.id, group, from});
    if (!r.ok()) return r;
    std::vector<SqlRow> rows;
    r = c.exec("SELECT user_id, seq FROM inbox WHERE message_id = ?", {out.id}, &rows);
    if (!r.ok()) return r;
    for (const auto& row : rows) {
      out.slots.push_back(InboxSlot{num(row[0]), num(row[1]), num(row[1]) - 1});
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<Delivery>> MysqlStore::inboxAfter(UserId user, Seq after_seq, int limit) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT i.seq, " MESSAGE_COLUMNS
                  " FROM inbox i JOIN messages m ON m.id = i.message_id"
                  " JOIN users su ON su.id = m.sender_id"
                  " LEFT JOIN users ru ON ru.id = m.recipient_id"
                  " LEFT JOIN chat_groups g ON g.id = m.group_id"
                  " WHERE i.user_id = ? AND i.seq > ? ORDER BY i.seq LIMIT ?",
                  {user, after_seq, int64_t{limit}}, &rows);
  });
  if (!st.ok()) return st;
  std::vector<Delivery> out;
  for (const auto& r : rows) out.push_back(Delivery{num(r[0]), readMessage(r, 1)});
  return out;
}

Result<Seq> MysqlStore::ackPoint(UserId user) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT ack_seq FROM users WHERE id = ?", {user}, &rows);
  });
  if (!st.ok()) return st;
  if (rows.empty()) return Status::NotFound("no user id");
  return num(rows[0][0]);
}

Result<Seq> MysqlStore::ack(UserId user, Seq up_to) {
  std::vector<SqlRow> rows;
  Status st = run(true, [&](MysqlConn& c) -> Status {
    rows.clear();
    // Forward only, and never past what was assigned.
    Status r =
        c.exec("UPDATE users SET ack_seq = GREATEST(ack_seq, LEAST(?, last_seq)) WHERE id = ?",
               {up_to, user});
    if (!r.ok()) return r;
    return c.exec("SELECT ack_seq FROM users WHERE id = ?", {user}, &rows);
  });
  if (!st.ok()) return st;
  if (rows.empty()) return Status::NotFound("no user id");
  return num(rows[0][0]);
}

Result<std::vector<Message>> MysqlStore::directHistory(UserId a, UserId b,
                                                       std::optional<MessageId> before, int limit) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT " MESSAGE_COLUMNS MESSAGE_JOINS
                  " WHERE m.chat = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?",
                  {directChatKey(a, b), before.value_or(INT64_MAX), int64_t{limit}}, &rows);
  });
  if (!st.ok()) return st;
  std::vector<Message> out;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) out.push_back(readMessage(*it, 0));
  return out;
}

Result<std::vector<Message>> MysqlStore::groupHistory(GroupId group,
                                                      std::optional<MessageId> before, int limit) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT " MESSAGE_COLUMNS MESSAGE_JOINS
                  " WHERE m.chat = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?",
                  {groupChatKey(group), before.value_or(INT64_MAX), int64_t{limit}}, &rows);
  });
  if (!st.ok()) return st;
  std::vector<Message> out;
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) out.push_back(readMessage(*it, 0));
  return out;
}

// --- tokens --------------------------------------------------------------------

Status MysqlStore::saveToken(const std::string& token_hash, UserId user, TimestampMs expires) {
  return run(false, [&](MysqlConn& c) {
    return c.exec("INSERT INTO tokens(token_hash, user_id, expires_ms) VALUES (?, ?, ?)",
                  {token_hash, user, expires});
  });
}

Result<UserId> MysqlStore::tokenUser(const std::string& token_hash, TimestampMs now) {
  std::vector<SqlRow> rows;
  Status st = run(false, [&](MysqlConn& c) {
    rows.clear();
    return c.exec("SELECT user_id FROM tokens WHERE token_hash = ? AND expires_ms > ?",
                  {token_hash, now}, &rows);
  });
  if (!st.ok()) return st;
  if (rows.empty()) return Status::NotFound("no such token");
  return num(rows[0][0]);
}

Status MysqlStore::deleteToken(const std::string& token_hash) {
  return run(false, [&](MysqlConn& c) {
    return c.exec("DELETE FROM tokens WHERE token_hash = ?", {token_hash});
  });
}

Result<int64_t> MysqlStore::purgeExpiredTokens(TimestampMs now, int limit) {
  int64_t deleted = 0;
  Status st = run(false, [&](MysqlConn& c) {
    Status done = c.exec("DELETE FROM tokens WHERE expires_ms <= ? ORDER BY expires_ms LIMIT ?",
                         {now, int64_t{limit}});
    deleted = static_cast<int64_t>(c.affectedRows());
    return done;
  });
  if (!st.ok()) return st;
  return deleted;
}

Status MysqlStore::ping() {
  std::vector<SqlRow> rows;
  return run(false, [&](MysqlConn& c) { return c.exec("SELECT 1", {}, &rows); });
}

}  // namespace parley
