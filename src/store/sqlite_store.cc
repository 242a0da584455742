#include "store/sqlite_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

#include "common/metrics.h"
#include "store/chat_key.h"
#include "store/sqlite_checkpointer.h"
#include "store/sqlite_schema.h"

namespace parley {
namespace {

// Writes waiting for the writer thread before new ones are refused
// (unavailable): bounds memory when clients send faster than the disk syncs.
constexpr size_t kMaxQueuedWrites = 100000;

// A write a caller waits for (the blocking API).
class WaitedJob final : public SqliteWriter::Job {
 public:
  explicit WaitedJob(std::function<Status(SqliteDb&)> fn) : fn_(std::move(fn)) {}
  Status run(SqliteWriter&, SqliteDb& db) override { return fn_(db); }
  void finish(const Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    result_ = status;
    done_ = true;
    cv_.notify_one();
  }
  Status wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    return result_;
  }

 private:
  std::function<Status(SqliteDb&)> fn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Status result_;
};

// The blocking API over the writer's queued jobs: calls `start` with a
// completion and waits until the writer thread has run it.
template <typename T, typename Start>
Result<T> waitForResult(Start start) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<T>> result;
  start([&](Result<T> r) {
    std::lock_guard<std::mutex> lock(mu);
    result.emplace(std::move(r));
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return result.has_value(); });
  return std::move(*result);
}

// Prepares `sql` on `db` or returns the error from the enclosing function.
#define PREPARE(var, db, sql)                               \
  auto var##_prepared = (db).prepare(sql);                  \
  if (!var##_prepared.ok()) return var##_prepared.status(); \
  Stmt var = (db).stmt(var##_prepared.value())

// The columns of a message row joined with names, shared by history and replay.
constexpr const char* kMessageColumns =
    "m.id, su.name, COALESCE(ru.name, ''), COALESCE(g.name, ''), m.body, m.ts";
Message readMessage(const Stmt& s, int first) {
  return Message{s.int64(first),    s.text(first + 1), s.text(first + 2),
                 s.text(first + 3), s.text(first + 4), s.int64(first + 5)};
}

// Starts `user`'s span of `group` after the newest message: from now on the
// group's messages are in the user's stream. REPLACE: a user who left and
// joins again before anything was said reopens the empty span.
Status openSpan(SqliteDb& db, GroupId group, UserId user) {
  PREPARE(s, db,
          "INSERT OR REPLACE INTO group_spans(user_id, group_id, after_id, until_id) "
          "VALUES (?, ?, (SELECT COALESCE(MAX(id), 0) FROM messages), NULL)");
  return s.bind(1, user).bind(2, group).exec();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       size_t read_connections,
                                                       const StoreOptions& options) {
  Metrics* metrics = options.metrics;
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->path_ = path;
  store->writer_db_ = std::make_unique<SqliteDb>();
  SqliteDb& w = *store->writer_db_;
  Status st = w.open(path, /*read_only=*/false);
  if (!st.ok()) return st;
  // WAL: readers never block the writer. synchronous=FULL while the schema
  // is set up; the writer then commits without syncing and fsyncs the WAL
  // on its completion thread before anyone hears "stored" (SqliteWriter), so
  // an acknowledged message survives power loss, not just a crash.
  // 64 MiB of page cache: with SQLite's default 2 MiB the writer re-read
  // index pages from the OS on every batch. Checkpoints are the
  // checkpointer thread's; the writer's own is a backstop. The
  // checkpointer starts the WAL over once it passes kRestartPages (~17 MB
  // of file with 2 KiB pages, reused from its start); journal_size_limit
  // trims a longer one back when it is reset.
  // 2 KiB pages, for a new file (an existing one keeps its own): a commit
  // rewrites every page it touches, in the WAL and again at the checkpoint,
  // and a batch of messages touches one index leaf per conversation, so
  // smaller pages cut the bytes written per message by a quarter to a third
  // (6.7 KB to 4.6 KB over 2,000 connections). 1 KiB pages halved them but
  // cost ~54 B per idle connection in page-cache headers (the token pages
  // that resume reads); 2 KiB cost ~12 (docs/performance.md, change 28).
  std::string pragmas =
      "PRAGMA page_size=2048; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "PRAGMA foreign_keys=ON;"
      "PRAGMA cache_size=-65536; PRAGMA journal_size_limit=67108864;"
      "PRAGMA wal_autocheckpoint=" +
      std::to_string(SqliteCheckpointer::kWriterBackstopPages) +
      ";"
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);";
  st = w.execScript(pragmas.c_str());
  if (!st.ok()) return st;
  int64_t version = 0;
  {
    PREPARE(q, w, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (q.step()) version = q.int64(0);
    if (!q.status().ok()) return q.status();
  }
  constexpr int64_t kLatest = std::size(sqlite_schema::kMigrations);
  if (version > kLatest) {
    return Status::Internal("database schema version " + std::to_string(version) +
                            " is newer than this server understands (" + std::to_string(kLatest) +
                            ")");
  }
  for (int64_t v = version; v < kLatest; ++v) {
    // Some migrations rebuild a table (schema 6: ~2 s per million messages);
    // an operator watching a slow start should see why.
    if (version > 0) spdlog::info("upgrading {} to schema {}", path, v + 1);
    std::string script = std::string("BEGIN IMMEDIATE;") + sqlite_schema::kMigrations[v] +
                         "INSERT INTO schema_version VALUES (" + std::to_string(v + 1) +
                         "); COMMIT;";
    st = w.execScript(script.c_str());
    if (!st.ok()) {
      (void)w.execScript("ROLLBACK");
      return Status(st.code(),
                    "migration to schema " + std::to_string(v + 1) + ": " + st.message());
    }
  }
  for (size_t i = 0; i < std::max<size_t>(1, read_connections); ++i) {
    auto r = std::make_unique<SqliteDb>();
    st = r->open(path, /*read_only=*/true);
    if (!st.ok()) return st;
    // 1 MiB of page cache per reader instead of SQLite's 2 MiB: readers do
    // point lookups and short range scans, the kernel's page cache already
    // holds the file for all of them, and four private caches filled with
    // the same token and user pages were ~490 bytes per connection of an
    // idle server's 19,000 (resume touches every token). Resume throughput
    // was unchanged (7,400-8,700 logins/s either way).
    st = r->execScript("PRAGMA cache_size=-1024;");
    if (!st.ok()) return st;
    store->free_readers_.push_back(std::move(r));
  }
  {
    // Schema 4 stopped writing the inbox; what an upgrade left in it is
    // read at replay, and nothing when it is empty (every new database).
    PREPARE(q, w, "SELECT EXISTS (SELECT 1 FROM inbox)");
    store->legacy_inbox_ = q.step() && q.int64(0) != 0;
    if (!q.status().ok()) return q.status();
  }
  // SQLite's own name for the WAL: it follows a symbolic link to the file.
  store->wal_sync_ =
      std::make_unique<WalSync>(sqlite3_filename_wal(sqlite3_db_filename(w.raw(), "main")));
  st = store->wal_sync_->open();
  if (!st.ok()) return st;
  // Both disk waits are timed: the latency a client sees is mostly them when
  // the disk is slow (docs/performance.md, ninth round).
  LatencyBuckets* sync_time = metrics ? &metrics->store_wal_sync : nullptr;
  LatencyBuckets* hold_time = metrics ? &metrics->store_writer_hold : nullptr;
  store->writer_ = std::make_unique<SqliteWriter>(
      w, kMaxQueuedWrites,
      [sync = store->wal_sync_.get(), sync_time] {
        auto started = std::chrono::steady_clock::now();
        Status st = sync->sync();
        if (sync_time) sync_time->observe(std::chrono::steady_clock::now() - started);
        return st;
      },
      options.wal_sync_interval);
  store->checkpointer_ = std::make_unique<SqliteCheckpointer>(
      path, std::chrono::milliseconds(100),
      [writer = store->writer_.get(), hold_time](const std::function<void()>& fn) {
        writer->runBetweenBatches([&fn, hold_time] {
          auto started = std::chrono::steady_clock::now();
          fn();
          if (hold_time) hold_time->observe(std::chrono::steady_clock::now() - started);
        });
      });
  return store;
}

SqliteStore::~SqliteStore() = default;

bool SqliteStore::backlogged() const {
  // Two full batches waiting: the writer is behind. Pipelining connections
  // hold back here, far below the queue's bound, so an overload keeps the
  // queue short; with the line at a quarter of the queue the same overload
  // carried 5-10% less (docs/performance.md, ninth round).
  return writer_->queued() >= 2 * SqliteWriter::kMaxBatch;
}

void SqliteStore::setCompletionScope(CompletionScope scope) {
  writer_->setCompletionScope(std::move(scope));
}

// --- the two access paths ------------------------------------------------------

Status SqliteStore::write(WriteFn fn) {
  // The job lives on this stack until finish() has run: wait() returns only
  // after it, and the writer drops its pointer right after finish().
  auto job = std::make_unique<WaitedJob>(std::move(fn));
  WaitedJob* raw = job.get();
  struct NoDelete final : SqliteWriter::Job {
    explicit NoDelete(WaitedJob* j) : job(j) {}
    Status run(SqliteWriter& w, SqliteDb& db) override { return job->run(w, db); }
    void finish(const Status& st) override { job->finish(st); }
    WaitedJob* job;
  };
  writer_->submit(std::make_unique<NoDelete>(raw));
  return raw->wait();
}

Status SqliteStore::read(const ReadFn& fn) {
  std::unique_ptr<SqliteDb> db;
  {
    std::unique_lock<std::mutex> lock(read_mu_);
    read_cv_.wait(lock, [this] { return !free_readers_.empty(); });
    db = std::move(free_readers_.back());
    free_readers_.pop_back();
  }
  Status st = fn(*db);
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    free_readers_.push_back(std::move(db));
  }
  read_cv_.notify_one();
  return st;
}

// --- users -------------------------------------------------------------------

Result<User> SqliteStore::createUser(const std::string& name, const std::string& password_hash,
                                     TimestampMs now) {
  User user;
  Status st = write([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "INSERT INTO users(name, password_hash, created_ms) VALUES (?, ?, ?)");
    Status r = s.bind(1, name).bind(2, password_hash).bind(3, now).exec();
    if (r.isConflict()) return Status::Conflict("name " + name + " is taken");
    if (!r.ok()) return r;
    user = User{db.lastInsertId(), name};
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return user;
}

Result<UserCredentials> SqliteStore::findCredentials(const std::string& name) {
  UserCredentials creds;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT id, name, password_hash FROM users WHERE name = ?");
    s.bind(1, name);
    if (!s.step()) return s.status().ok() ? Status::NotFound("no user " + name) : s.status();
    creds = UserCredentials{User{s.int64(0), s.text(1)}, s.text(2)};
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return creds;
}

Result<User> SqliteStore::findUser(const std::string& name) {
  auto creds = findCredentials(name);
  if (!creds.ok()) return creds.status();
  return creds->user;
}

Result<User> SqliteStore::findUserById(UserId id) {
  User user;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT id, name FROM users WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return s.status().ok() ? Status::NotFound("no user id") : s.status();
    user = User{s.int64(0), s.text(1)};
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return user;
}

// --- friends -----------------------------------------------------------------

Status SqliteStore::addFriendship(UserId a, UserId b, TimestampMs now, size_t max_friends) {
  return write([&](SqliteDb& db) -> Status {
    // On the writer thread, inside its transaction: nothing is added between
    // these counts and the inserts.
    if (max_friends > 0) {
      PREPARE(known, db, "SELECT 1 FROM friendships WHERE user_id = ? AND friend_id = ?");
      known.bind(1, a).bind(2, b);
      if (known.step()) return Status::Conflict("already friends");
      if (!known.status().ok()) return known.status();
      for (UserId side : {a, b}) {
        PREPARE(count, db, "SELECT COUNT(*) FROM friendships WHERE user_id = ?");
        count.bind(1, side);
        if (!count.step())
          return count.status().ok() ? Status::Internal("no count") : count.status();
        if (static_cast<size_t>(count.int64(0)) >= max_friends) {
          return Status::Forbidden("the friend limit is reached");
        }
      }
    }
    PREPARE(s, db, "INSERT INTO friendships(user_id, friend_id, created_ms) VALUES (?, ?, ?)");
    Status r = s.bind(1, a).bind(2, b).bind(3, now).exec();
    if (!r.ok()) return r;
    PREPARE(t, db, "INSERT INTO friendships(user_id, friend_id, created_ms) VALUES (?, ?, ?)");
    return t.bind(1, b).bind(2, a).bind(3, now).exec();
  });
}

Result<bool> SqliteStore::areFriends(UserId a, UserId b) {
  bool found = false;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT 1 FROM friendships WHERE user_id = ? AND friend_id = ?");
    s.bind(1, a).bind(2, b);
    found = s.step();
    return s.status();
  });
  if (!st.ok()) return st;
  return found;
}

Result<std::vector<User>> SqliteStore::listFriends(UserId user) {
  std::vector<User> out;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db,
            "SELECT u.id, u.name FROM friendships f JOIN users u ON u.id = f.friend_id "
            "WHERE f.user_id = ? ORDER BY u.name");
    s.bind(1, user);
    while (s.step()) out.push_back(User{s.int64(0), s.text(1)});
    return s.status();
  });
  if (!st.ok()) return st;
  return out;
}

// --- groups ------------------------------------------------------------------

Result<Group> SqliteStore::createGroup(const std::string& name, const std::string& desc,
                                       UserId owner, TimestampMs now) {
  SqliteWriter* writer = writer_.get();
  Group group;
  Status st = write([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "INSERT INTO chat_groups(name, description, created_ms) VALUES (?, ?, ?)");
    Status r = s.bind(1, name).bind(2, desc).bind(3, now).exec();
    if (r.isConflict()) return Status::Conflict("group name " + name + " is taken");
    if (!r.ok()) return r;
    group = Group{db.lastInsertId(), name, desc};
    writer->forgetMembers(group.id);
    PREPARE(m, db,
            "INSERT INTO group_members(group_id, user_id, role, joined_ms) "
            "VALUES (?, ?, 'owner', ?)");
    r = m.bind(1, group.id).bind(2, owner).bind(3, now).exec();
    if (!r.ok()) return r;
    return openSpan(db, group.id, owner);
  });
  if (!st.ok()) return st;
  return group;
}

Result<Group> SqliteStore::findGroup(const std::string& name) {
  Group group;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT id, name, description FROM chat_groups WHERE name = ?");
    s.bind(1, name);
    if (!s.step()) return s.status().ok() ? Status::NotFound("no group " + name) : s.status();
    group = Group{s.int64(0), s.text(1), s.text(2)};
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return group;
}

Status SqliteStore::addMember(GroupId group, UserId user, TimestampMs now, size_t max_members) {
  SqliteWriter* writer = writer_.get();
  return write([&](SqliteDb& db) -> Status {
    // Counted inside the writer's transaction: no join comes in between.
    if (max_members > 0) {
      PREPARE(in, db, "SELECT 1 FROM group_members WHERE group_id = ? AND user_id = ?");
      in.bind(1, group).bind(2, user);
      if (in.step()) return Status::Conflict("already a member");
      if (!in.status().ok()) return in.status();
      PREPARE(count, db, "SELECT COUNT(*) FROM group_members WHERE group_id = ?");
      count.bind(1, group);
      if (!count.step()) return count.status().ok() ? Status::Internal("no count") : count.status();
      if (static_cast<size_t>(count.int64(0)) >= max_members) {
        return Status::Forbidden("the group is full");
      }
    }
    writer->forgetMembers(group);
    PREPARE(s, db,
            "INSERT INTO group_members(group_id, user_id, role, joined_ms) "
            "VALUES (?, ?, 'member', ?)");
    Status r = s.bind(1, group).bind(2, user).bind(3, now).exec();
    if (!r.ok()) return r;
    return openSpan(db, group, user);
  });
}

Status SqliteStore::removeMember(GroupId group, UserId user) {
  SqliteWriter* writer = writer_.get();
  return write([&](SqliteDb& db) -> Status {
    writer->forgetMembers(group);
    PREPARE(s, db, "DELETE FROM group_members WHERE group_id = ? AND user_id = ?");
    Status r = s.bind(1, group).bind(2, user).exec();
    if (!r.ok()) return r;
    if (db.changes() == 0) return Status::NotFound("not a member");
    // The group's messages so far stay in the user's stream (those not yet
    // acked are still owed); later ones are not.
    PREPARE(close, db,
            "UPDATE group_spans SET until_id = (SELECT COALESCE(MAX(id), 0) FROM messages) "
            "WHERE user_id = ? AND group_id = ? AND until_id IS NULL");
    r = close.bind(1, user).bind(2, group).exec();
    if (!r.ok()) return r;
    PREPARE(empty, db,
            "DELETE FROM group_spans WHERE user_id = ? AND group_id = ? AND until_id <= after_id");
    return empty.bind(1, user).bind(2, group).exec();
  });
}

Result<std::string> SqliteStore::memberRole(GroupId group, UserId user) {
  std::string role;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT role FROM group_members WHERE group_id = ? AND user_id = ?");
    s.bind(1, group).bind(2, user);
    if (!s.step()) return s.status().ok() ? Status::NotFound("not a member") : s.status();
    role = s.text(0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return role;
}

Result<std::vector<Group>> SqliteStore::listGroups(UserId user) {
  std::vector<Group> out;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db,
            "SELECT g.id, g.name, g.description FROM group_members m "
            "JOIN chat_groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.name");
    s.bind(1, user);
    while (s.step()) out.push_back(Group{s.int64(0), s.text(1), s.text(2)});
    return s.status();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<Member>> SqliteStore::listMembers(GroupId group) {
  std::vector<Member> out;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db,
            "SELECT u.id, u.name, m.role FROM group_members m JOIN users u ON u.id = m.user_id "
            "WHERE m.group_id = ? ORDER BY m.joined_ms, u.id");
    s.bind(1, group);
    while (s.step()) out.push_back(Member{User{s.int64(0), s.text(1)}, s.text(2)});
    return s.status();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<UserId>> SqliteStore::memberIds(GroupId group) {
  std::vector<UserId> out;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT user_id FROM group_members WHERE group_id = ?");
    s.bind(1, group);
    while (s.step()) out.push_back(s.int64(0));
    return s.status();
  });
  if (!st.ok()) return st;
  return out;
}

// --- messages ----------------------------------------------------------------

namespace {

// An append queued for the writer: stores the message once. Its id is each
// recipient's seq; the writer moves each recipient's last seq to it, which
// is all the per-recipient work there is (nothing is written per recipient).
class AppendJob final : public SqliteWriter::Job {
 public:
  AppendJob(bool group, int64_t target, UserId from, std::string text, TimestampMs ts,
            Store::AppendDone done)
      : group_(group),
        target_(target),
        from_(from),
        text_(std::move(text)),
        ts_(ts),
        done_(std::move(done)) {}

  Status run(SqliteWriter& writer, SqliteDb& db) override {
    out_ = Store::Appended{};
    const std::vector<UserId>* members = nullptr;
    if (group_) {
      auto m = writer.members(db, target_);
      if (!m.ok()) return m.status();
      members = m.value();
      // Checked here, in the storing transaction: a member who just left
      // cannot slip between a check and the store.
      if (!std::binary_search(members->begin(), members->end(), from_)) {
        return Status::NotFound("not a member");
      }
    }
    // Declared before the statement, which reads it uncopied until it goes.
    const std::string chat = group_ ? groupChatKey(target_) : directChatKey(from_, target_);
    PREPARE(m, db,
            "INSERT INTO messages(chat, sender_id, recipient_id, group_id, body, ts) "
            "VALUES (?, ?, ?, ?, ?, ?)");
    m.bindUncopied(1, chat).bind(2, from_);
    if (group_) {
      m.bindNull(3).bind(4, target_);
    } else {
      m.bind(3, target_).bindNull(4);
    }
    Status r = m.bindUncopied(5, text_).bind(6, ts_).exec();
    if (!r.ok()) return r;
    out_.id = db.lastInsertId();
    if (!group_) {
      Status noted = writer.notePeer(db, target_, from_);
      if (!noted.ok()) return noted;
    }
    auto give = [&](UserId user) -> Status {
      auto prev = writer.advance(db, user, out_.id);
      if (!prev.ok())
        return prev.status().isNotFound() ? Status::NotFound("no recipient") : prev.status();
      out_.slots.push_back(InboxSlot{user, out_.id, prev.value()});
      return Status::Ok();
    };
    if (!group_) return give(target_);
    out_.slots.reserve(members->size());
    for (UserId member : *members) {
      if (member == from_) continue;
      Status st = give(member);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  Seq storedMessageId() const override { return out_.id; }

  void finish(const Status& status) override {
    if (status.ok()) {
      done_(std::move(out_));
    } else {
      done_(status);
    }
  }

 private:
  const bool group_;
  const int64_t target_;  // the recipient, or the group
  const UserId from_;
  const std::string text_;
  const TimestampMs ts_;
  Store::AppendDone done_;
  Store::Appended out_;
};

}  // namespace

void SqliteStore::appendDirectAsync(UserId from, UserId to, std::string text, TimestampMs ts,
                                    AppendDone done) {
  writer_->submit(
      std::make_unique<AppendJob>(false, to, from, std::move(text), ts, std::move(done)));
}

void SqliteStore::appendGroupAsync(GroupId group, UserId from, std::string text, TimestampMs ts,
                                   AppendDone done) {
  writer_->submit(
      std::make_unique<AppendJob>(true, group, from, std::move(text), ts, std::move(done)));
}

Result<Store::Appended> SqliteStore::waitFor(
    void (SqliteStore::*append)(UserId, UserId, std::string, TimestampMs, AppendDone), UserId a,
    UserId b, const std::string& text, TimestampMs ts) {
  return waitForResult<Appended>(
      [&](AppendDone done) { (this->*append)(a, b, text, ts, std::move(done)); });
}

Result<Store::Appended> SqliteStore::appendDirect(UserId from, UserId to, const std::string& text,
                                                  TimestampMs ts) {
  return waitFor(&SqliteStore::appendDirectAsync, from, to, text, ts);
}

Result<Store::Appended> SqliteStore::appendGroup(GroupId group, UserId from,
                                                 const std::string& text, TimestampMs ts) {
  return waitFor(&SqliteStore::appendGroupAsync, group, from, text, ts);
}

Result<std::vector<Delivery>> SqliteStore::inboxAfter(UserId user, Seq after_seq, int limit) {
  // The stream is the union of a few id-ordered index ranges: each direct
  // chat with a user who wrote to it and each span of group membership
  // (both without the user's own messages), the legacy inbox. Each is read up to
  // `limit` rows, and the merge keeps the `limit` lowest ids.
  // One read transaction: every range from the same snapshot, or a message
  // committed between two of them could be skipped.
  static const std::string columns = std::string("SELECT ") + kMessageColumns +
                                     " FROM messages m JOIN users su ON su.id = m.sender_id"
                                     " LEFT JOIN users ru ON ru.id = m.recipient_id"
                                     " LEFT JOIN chat_groups g ON g.id = m.group_id";
  static const std::string span_sql = columns +
                                      " WHERE m.chat = ? AND m.id > ? AND m.id <= ?"
                                      " AND m.sender_id <> ? ORDER BY m.id LIMIT ?";
  static const std::string legacy_sql =
      columns + " JOIN inbox i ON i.message_id = m.id WHERE i.user_id = ? AND m.id > ?" +
      " ORDER BY m.id LIMIT ?";
  std::vector<Delivery> out;
  Status st = read([&](SqliteDb& db) -> Status {
    {
      PREPARE(begin, db, "BEGIN");
      Status begun = begin.exec();
      if (!begun.ok()) return begun;
    }
    auto run = [&]() -> Status {
      auto collect = [&](Stmt& s) -> Status {
        while (s.step()) {
          Message m = readMessage(s, 0);
          Seq seq = m.id;
          out.push_back(Delivery{seq, std::move(m)});
        }
        return s.status();
      };
      // A direct chat is a span without bounds.
      struct Span {
        std::string chat;
        Seq after, until;
      };
      std::vector<Span> spans;
      {
        PREPARE(s, db, "SELECT peer_id FROM direct_peers WHERE user_id = ?");
        s.bind(1, user);
        while (s.step()) spans.push_back(Span{directChatKey(user, s.int64(0)), 0, INT64_MAX});
        if (!s.status().ok()) return s.status();
      }
      {
        PREPARE(
            s, db,
            "SELECT group_id, after_id, COALESCE(until_id, 9223372036854775807) "
            "FROM group_spans WHERE user_id = ? AND COALESCE(until_id, 9223372036854775807) > ?");
        s.bind(1, user).bind(2, after_seq);
        while (s.step()) spans.push_back(Span{groupChatKey(s.int64(0)), s.int64(1), s.int64(2)});
        if (!s.status().ok()) return s.status();
      }
      // Nothing newer than what is durable (SqliteWriter::durableMessageId).
      // Once `limit` rows are in hand, only lower ids can still make the
      // page: later ranges stop at the highest id kept, so a user with a
      // thousand conversations reads about one page of rows, not a page
      // per conversation.
      Seq bound = writer_->durableMessageId();
      auto keepLowest = [&] {
        if (limit <= 0 || out.size() < static_cast<size_t>(limit)) return;
        auto nth = out.begin() + (limit - 1);
        std::nth_element(out.begin(), nth, out.end(),
                         [](const Delivery& a, const Delivery& b) { return a.seq < b.seq; });
        bound = nth->seq;
        out.erase(nth + 1, out.end());
      };
      for (const Span& span : spans) {
        Seq from = std::max(after_seq, span.after), until = std::min(span.until, bound);
        if (until <= from) continue;
        PREPARE(s, db, span_sql.c_str());
        s.bind(1, span.chat).bind(2, from).bind(3, until).bind(4, user).bind(5, limit);
        Status r = collect(s);
        if (!r.ok()) return r;
        keepLowest();
      }
      if (!legacy_inbox_) return Status::Ok();
      PREPARE(s, db, legacy_sql.c_str());
      s.bind(1, user).bind(2, after_seq).bind(3, limit);
      return collect(s);
    };
    Status r = run();
    // Always end the read transaction: a pooled connection left inside one
    // would serve an old snapshot and keep the WAL from being reset.
    auto commit = db.prepare("COMMIT");
    Status ended = commit.ok() ? db.stmt(commit.value()).exec() : db.execScript("COMMIT");
    if (!ended.ok()) (void)db.execScript("ROLLBACK");
    return r.ok() ? ended : r;
  });
  if (!st.ok()) return st;
  std::sort(out.begin(), out.end(),
            [](const Delivery& a, const Delivery& b) { return a.seq < b.seq; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Delivery& a, const Delivery& b) { return a.seq == b.seq; }),
            out.end());
  if (out.size() > static_cast<size_t>(std::max(limit, 0))) out.resize(limit);
  return out;
}

Result<Seq> SqliteStore::ackPoint(UserId user) {
  Seq seq = 0;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT ack_seq FROM users WHERE id = ?");
    s.bind(1, user);
    if (!s.step()) return s.status().ok() ? Status::NotFound("no user id") : s.status();
    seq = s.int64(0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return seq;
}

namespace {

// An ack queued for the writer, answered after the commit.
class AckJob final : public SqliteWriter::Job {
 public:
  AckJob(UserId user, Seq up_to, Store::AckDone done)
      : user_(user), up_to_(up_to), done_(std::move(done)) {}

  Status run(SqliteWriter& writer, SqliteDb& db) override {
    // Forward only, and never past what was assigned: acking "the future"
    // must not swallow messages that have not arrived yet. The writer's
    // last seq counts appends of this very batch too.
    auto last = writer.lastSeq(db, user_);
    if (!last.ok()) return last.status();
    PREPARE(s, db,
            "UPDATE users SET ack_seq = MAX(ack_seq, MIN(?, ?)) WHERE id = ? RETURNING ack_seq");
    s.bind(1, up_to_).bind(2, last.value()).bind(3, user_);
    if (!s.step()) return s.status().ok() ? Status::NotFound("no user id") : s.status();
    acked_ = s.int64(0);
    while (s.step()) {
    }
    return s.status();
  }

  void finish(const Status& status) override {
    if (status.ok()) {
      done_(acked_);
    } else {
      done_(status);
    }
  }

 private:
  const UserId user_;
  const Seq up_to_;
  Store::AckDone done_;
  Seq acked_ = 0;
};

}  // namespace

void SqliteStore::ackAsync(UserId user, Seq up_to, AckDone done) {
  writer_->submit(std::make_unique<AckJob>(user, up_to, std::move(done)));
}

Result<Seq> SqliteStore::ack(UserId user, Seq up_to) {
  return waitForResult<Seq>([&](AckDone done) { ackAsync(user, up_to, std::move(done)); });
}

Result<std::vector<Message>> SqliteStore::directHistory(UserId a, UserId b,
                                                        std::optional<MessageId> before,
                                                        int limit) {
  static const std::string sql = std::string("SELECT ") + kMessageColumns +
                                 " FROM messages m JOIN users su ON su.id = m.sender_id"
                                 " LEFT JOIN users ru ON ru.id = m.recipient_id"
                                 " LEFT JOIN chat_groups g ON g.id = m.group_id"
                                 " WHERE m.chat = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?";
  std::vector<Message> out;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, sql.c_str());
    s.bind(1, directChatKey(a, b))
        .bind(2, std::min(before.value_or(INT64_MAX), writer_->durableMessageId() + 1))
        .bind(3, limit);
    while (s.step()) out.push_back(readMessage(s, 0));
    return s.status();
  });
  if (!st.ok()) return st;
  std::reverse(out.begin(), out.end());  // newest last
  return out;
}

Result<std::vector<Message>> SqliteStore::groupHistory(GroupId group,
                                                       std::optional<MessageId> before, int limit) {
  static const std::string sql = std::string("SELECT ") + kMessageColumns +
                                 " FROM messages m JOIN users su ON su.id = m.sender_id"
                                 " LEFT JOIN users ru ON ru.id = m.recipient_id"
                                 " LEFT JOIN chat_groups g ON g.id = m.group_id"
                                 " WHERE m.chat = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?";
  std::vector<Message> out;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, sql.c_str());
    s.bind(1, groupChatKey(group))
        .bind(2, std::min(before.value_or(INT64_MAX), writer_->durableMessageId() + 1))
        .bind(3, limit);
    while (s.step()) out.push_back(readMessage(s, 0));
    return s.status();
  });
  if (!st.ok()) return st;
  std::reverse(out.begin(), out.end());
  return out;
}

// --- tokens --------------------------------------------------------------------

Status SqliteStore::saveToken(const std::string& token_hash, UserId user, TimestampMs expires) {
  return write([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "INSERT INTO tokens(token_hash, user_id, expires_ms) VALUES (?, ?, ?)");
    return s.bind(1, token_hash).bind(2, user).bind(3, expires).exec();
  });
}

Result<UserId> SqliteStore::tokenUser(const std::string& token_hash, TimestampMs now) {
  UserId user = 0;
  Status st = read([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT user_id FROM tokens WHERE token_hash = ? AND expires_ms > ?");
    s.bind(1, token_hash).bind(2, now);
    if (!s.step()) return s.status().ok() ? Status::NotFound("no such token") : s.status();
    user = s.int64(0);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return user;
}

Status SqliteStore::deleteToken(const std::string& token_hash) {
  return write([&](SqliteDb& db) -> Status {
    PREPARE(s, db, "DELETE FROM tokens WHERE token_hash = ?");
    return s.bind(1, token_hash).exec();
  });
}

Result<int64_t> SqliteStore::purgeExpiredTokens(TimestampMs now, int limit) {
  int64_t deleted = 0;
  Status st = write([&](SqliteDb& db) -> Status {
    // Debian's SQLite has no DELETE ... LIMIT; the subquery walks the
    // tokens_by_expiry index instead.
    PREPARE(s, db,
            "DELETE FROM tokens WHERE token_hash IN (SELECT token_hash FROM tokens "
            "WHERE expires_ms <= ? ORDER BY expires_ms LIMIT ?)");
    Status done = s.bind(1, now).bind(2, int64_t{limit}).exec();
    deleted = db.changes();
    return done;
  });
  if (!st.ok()) return st;
  return deleted;
}

Status SqliteStore::ping() {
  return read([](SqliteDb& db) -> Status {
    PREPARE(s, db, "SELECT 1");
    s.step();
    return s.status();
  });
}

}  // namespace parley
