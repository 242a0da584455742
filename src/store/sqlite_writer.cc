#include "store/sqlite_writer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

namespace parley {
namespace {

// A request the job turned down (a conflict, a full group, a sender who is
// not a member): the database is fine. Errors of the database itself (busy,
// I/O, out of memory) are not refusals.
bool isRefusal(const Status& status) {
  return !status.ok() && !status.isUnavailable() && status.code() != Code::kInternal;
}

}  // namespace

SqliteWriter::SqliteWriter(SqliteDb& db, size_t max_queued, MakeDurable make_durable,
                           std::chrono::microseconds sync_interval)
    : db_(db),
      max_queued_(max_queued),
      make_durable_(std::move(make_durable)),
      sync_interval_(sync_interval) {
  // Should this fail, commits stay synchronous=FULL: slower, as safe.
  (void)db_.execScript("PRAGMA synchronous=NORMAL;");
  // What an earlier process committed may not be synced yet (it crashed, the
  // machine did not): sync it before showing it.
  makeDurableOrDie();
  durable_id_.store(newestMessageId(), std::memory_order_release);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sqlite-writer");
    loop();
  });
  completion_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sqlite-done");
    completionLoop();
  });
}

SqliteWriter::~SqliteWriter() { stop(); }

void SqliteWriter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  // The writer ran everything queued; the completion thread tells the rest.
  {
    std::lock_guard<std::mutex> lock(untold_mu_);
    writer_done_ = true;
  }
  untold_cv_.notify_all();
  if (completion_thread_.joinable()) completion_thread_.join();
}

void SqliteWriter::submit(JobPtr job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queue_.size() < max_queued_) {
      queue_.push_back(std::move(job));
      queued_.store(queue_.size(), std::memory_order_relaxed);
      // Only the first job of a batch needs to wake the thread; later ones
      // are found when it takes the queue.
      if (queue_.size() == 1) cv_.notify_one();
      return;
    }
  }
  job->finish(Status::Unavailable("the database is overloaded, retry later"));
}

void SqliteWriter::loop() {
  std::vector<JobPtr> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return (stopping_ || !queue_.empty()) && !paused_; });
      if (queue_.empty()) return;  // stopping, and everything queued has run
      if (queue_.size() <= kMaxBatch) {
        batch.swap(queue_);
      } else {
        auto split = queue_.begin() + static_cast<long>(kMaxBatch);
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(split));
        queue_.erase(queue_.begin(), split);
      }
      queued_.store(queue_.size(), std::memory_order_relaxed);
      in_batch_ = true;
    }
    runBatch(batch);
    batch.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_batch_ = false;
    }
    between_cv_.notify_all();
  }
}

Status SqliteWriter::exec(const char* sql) {
  auto prepared = db_.prepare(sql);
  if (!prepared.ok()) return prepared.status();
  return db_.stmt(prepared.value()).exec();
}

void SqliteWriter::runBatch(std::vector<JobPtr>& batch) {
  std::vector<Status> results(batch.size());
  // Optimistic pass: every job straight into one transaction. Jobs almost
  // never fail, and a SAVEPOINT/RELEASE pair per job cost the writer thread —
  // the one serial stage of the write path — as much as a message's inserts.
  Status outcome = exec("BEGIN IMMEDIATE");
  bool job_failed = false;
  if (outcome.ok()) {
    for (size_t i = 0; i < batch.size() && !job_failed; ++i) {
      undo_.clear();
      const int64_t changes_before = db_.totalChanges();
      results[i] = batch[i]->run(*this, db_);
      // A job that refused before changing anything (no row, no cached
      // seq) leaves the transaction as it found it: the batch goes on. Only
      // a job that failed part-way costs the batch its rollback, the run
      // again with savepoints and the caches — so a client repeating a
      // refused request (joining a group it is in) cannot make every
      // batch pay for that.
      job_failed =
          !results[i].ok() && !(isRefusal(results[i]) && undo_.empty() &&
                                db_.totalChanges() == changes_before && db_.inTransaction());
    }
    undo_.clear();
    if (job_failed) {
      // A failed job must undo only itself: drop the whole transaction and
      // run the batch again, each job inside its own savepoint (jobs only
      // write to the database and to their own results, so running them
      // again is safe). A batch of one has nothing else to keep: its error
      // is the answer.
      (void)exec("ROLLBACK");
      forgetAll();  // the caches may hold what was rolled back
      if (batch.size() > 1) outcome = runWithSavepoints(batch, results);
    } else {
      outcome = commit();
    }
  } else {
    forgetAll();
  }
  // Committed (or failed as a whole). The ids come from the jobs rather than
  // a query: a query that failed here would leave the batch's messages
  // hidden from readers until some later batch moved the mark past them.
  Seq newest = 0;
  if (outcome.ok()) {
    for (size_t i = 0; i < batch.size(); ++i) {
      if (results[i].ok()) newest = std::max(newest, batch[i]->storedMessageId());
    }
  }
  handOver(Untold{std::move(batch), std::move(results), outcome, newest});
}

void SqliteWriter::handOver(Untold untold) {
  std::unique_lock<std::mutex> lock(untold_mu_);
  untold_cv_.wait(lock, [this] { return untold_.size() < kMaxUntold; });
  untold_.push_back(std::move(untold));
  untold_cv_.notify_all();
}

void SqliteWriter::completionLoop() {
  std::deque<Untold> committed;
  std::unique_lock<std::mutex> lock(untold_mu_);
  while (true) {
    untold_cv_.wait(lock, [this] { return writer_done_ || !untold_.empty(); });
    if (untold_.empty()) return;  // the writer has stopped and all is told
    // Every batch committed so far: one fsync makes all of them durable.
    auto take = [&] {
      for (Untold& u : untold_) committed.push_back(std::move(u));
      untold_.clear();
      untold_cv_.notify_all();  // room for the writer
    };
    take();
    auto stores = [&] {
      return std::any_of(committed.begin(), committed.end(),
                         [](const Untold& u) { return u.outcome.ok(); });
    };
    if (sync_interval_.count() > 0 && last_sync_start_ && stores()) {
      // The interval's commits join this fsync. They are taken as they come,
      // so the writer never waits for room meanwhile; kMaxHeldBatches bounds
      // how many this thread holds (and the interval, at most a tenth of a
      // second in Config, how long). Failed batches alone need no fsync and
      // are told at once.
      const auto due = *last_sync_start_ + sync_interval_;
      while (
          !writer_done_ && committed.size() < kMaxHeldBatches &&
          untold_cv_.wait_until(lock, due, [this] { return writer_done_ || !untold_.empty(); })) {
        take();
      }
      take();
    }
    lock.unlock();
    Seq newest = 0;
    bool stored = false;
    for (const Untold& u : committed) {
      if (!u.outcome.ok()) continue;
      stored = true;
      newest = std::max(newest, u.newest_id);
    }
    if (stored) {
      last_sync_start_ = std::chrono::steady_clock::now();
      makeDurableOrDie();
      // Before anyone is told: a recipient's next read must see its event.
      if (newest > durable_id_.load(std::memory_order_relaxed)) {
        durable_id_.store(newest, std::memory_order_release);
      }
    }
    for (Untold& untold : committed) tell(untold);
    committed.clear();
    lock.lock();
  }
}

void SqliteWriter::tell(Untold& untold) {
  auto finish_all = [&] {
    for (size_t i = 0; i < untold.batch.size(); ++i) {
      untold.batch[i]->finish(untold.outcome.ok() ? untold.results[i] : untold.outcome);
    }
  };
  if (completion_scope_) {
    completion_scope_(finish_all);
  } else {
    finish_all();
  }
}

void SqliteWriter::runBetweenBatches(const std::function<void()>& fn) {
  std::unique_lock<std::mutex> lock(mu_);
  paused_ = true;
  between_cv_.wait(lock, [this] { return !in_batch_; });
  lock.unlock();
  fn();
  lock.lock();
  paused_ = false;
  bool work = !queue_.empty() || stopping_;
  lock.unlock();
  if (work) cv_.notify_one();
}

void SqliteWriter::setCompletionScope(std::function<void(const std::function<void()>&)> scope) {
  std::lock_guard<std::mutex> lock(mu_);
  completion_scope_ = std::move(scope);
}

Status SqliteWriter::runWithSavepoints(std::vector<JobPtr>& batch, std::vector<Status>& results) {
  Status outcome = exec("BEGIN IMMEDIATE");
  if (!outcome.ok()) {
    forgetAll();
    return outcome;
  }
  // Gives the whole batch up when a savepoint cannot be undone or released:
  // a failed job's rows must never commit while its sender hears it failed.
  auto abandon = [this](Status why) {
    (void)exec("ROLLBACK");
    forgetAll();
    undo_.clear();
    return why;
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    undo_.clear();
    Status saved = exec("SAVEPOINT job");
    results[i] = saved.ok() ? batch[i]->run(*this, db_) : saved;
    if (!results[i].ok()) {
      // This job's rows go; so do the last seqs it moved.
      Status undone = exec("ROLLBACK TO job");
      if (!undone.ok()) return abandon(undone);
      known_peers_.clear();  // it may have noted a pair that is gone again
      for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) last_seq_[it->first] = it->second;
    }
    Status released = exec("RELEASE job");
    if (!released.ok()) return abandon(released);
  }
  undo_.clear();
  return commit();
}

Status SqliteWriter::commit() {
  Status outcome = exec("COMMIT");
  if (!outcome.ok()) {
    (void)exec("ROLLBACK");
    forgetAll();  // the caches may hold what was rolled back
  }
  return outcome;
}

void SqliteWriter::forgetAll() {
  last_seq_.clear();
  members_.clear();
  known_peers_.clear();
}

Result<Seq> SqliteWriter::lastSeq(SqliteDb& db, UserId user) {
  return lastSeqBefore(db, user, INT64_MAX);
}

Result<Seq> SqliteWriter::lastSeqBefore(SqliteDb& db, UserId user, Seq below) {
  auto it = last_seq_.find(user);
  if (it != last_seq_.end()) return it->second;
  // Bounded cache: past its size, start over. Nothing is lost: the highest
  // seq is the newest message of the user's stream — its direct chats'
  // messages and its groups' messages within its spans of membership (not
  // its own in either), and
  // what is left of the legacy inbox — a few index descents away (this
  // connection sees the batch's uncommitted rows too). Below `below`: the
  // message being given to the user is already a row.
  if (last_seq_.size() >= kMaxCachedUsers) last_seq_.clear();
  auto prepared = db.prepare(
      "SELECT MAX("
      " COALESCE((SELECT MAX((SELECT m.id FROM messages m WHERE m.chat = 'd:' ||"
      "   MIN(u.id, p.peer_id) || ':' || MAX(u.id, p.peer_id) AND m.id < ?2"
      "   AND m.sender_id <> u.id ORDER BY m.id DESC LIMIT 1))"
      "  FROM direct_peers p WHERE p.user_id = u.id), 0),"
      " COALESCE((SELECT MAX((SELECT m.id FROM messages m WHERE m.chat = 'g:' || s.group_id"
      "   AND m.id > s.after_id AND m.id <= COALESCE(s.until_id, 9223372036854775807) AND m.id < ?2"
      "   AND m.sender_id <> s.user_id ORDER BY m.id DESC LIMIT 1))"
      "  FROM group_spans s WHERE s.user_id = u.id), 0),"
      " COALESCE((SELECT MAX(message_id) FROM inbox WHERE user_id = u.id AND message_id < ?2), 0))"
      " FROM users u WHERE u.id = ?1");
  if (!prepared.ok()) return prepared.status();
  Stmt s = db.stmt(prepared.value());
  s.bind(1, user).bind(2, below);
  if (!s.step()) return s.status().ok() ? Status::NotFound("no user id") : s.status();
  Seq seq = s.int64(0);
  last_seq_.emplace(user, seq);
  return seq;
}

Result<Seq> SqliteWriter::advance(SqliteDb& db, UserId user, Seq seq) {
  auto last = lastSeqBefore(db, user, seq);
  if (!last.ok()) return last.status();
  undo_.emplace_back(user, last.value());
  last_seq_[user] = seq;
  return last.value();
}

Result<const std::vector<UserId>*> SqliteWriter::members(SqliteDb& db, GroupId group) {
  auto it = members_.find(group);
  if (it != members_.end()) return &it->second;
  if (members_.size() >= kMaxCachedUsers) members_.clear();
  auto prepared =
      db.prepare("SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id");
  if (!prepared.ok()) return prepared.status();
  Stmt s = db.stmt(prepared.value());
  s.bind(1, group);
  std::vector<UserId> ids;
  while (s.step()) ids.push_back(s.int64(0));
  if (!s.status().ok()) return s.status();
  return &members_.emplace(group, std::move(ids)).first->second;
}

Status SqliteWriter::notePeer(SqliteDb& db, UserId user, UserId peer) {
  if (known_peers_.count({user, peer})) return Status::Ok();
  if (known_peers_.size() >= kMaxCachedUsers) known_peers_.clear();
  auto prepared = db.prepare("INSERT OR IGNORE INTO direct_peers(user_id, peer_id) VALUES (?, ?)");
  if (!prepared.ok()) return prepared.status();
  Stmt s = db.stmt(prepared.value());
  s.bind(1, user).bind(2, peer);
  Status st = s.exec();
  if (st.ok()) known_peers_.insert({user, peer});
  return st;
}

void SqliteWriter::makeDurableOrDie() {
  Status durable = make_durable_();
  if (durable.ok()) return;
  // The rows are committed, but they may not be on disk, and after a failed
  // fsync the kernel may have dropped them (Linux marks the pages clean).
  // Neither "stored" nor "failed" would be true; like PostgreSQL, stop, and
  // let a restart recover what the disk really holds (clients reconnect and
  // resend what was never acknowledged).
  spdlog::critical("cannot make committed messages durable ({}); stopping", durable.toString());
  std::abort();
}

Seq SqliteWriter::newestMessageId() {
  // The largest rowid: one step down the table's B-tree. No row (NULL, read
  // as 0) or no table (a database without messages, as in tests of the
  // writer alone): 0.
  auto prepared = db_.prepare("SELECT MAX(id) FROM messages");
  if (!prepared.ok()) return 0;
  Stmt s = db_.stmt(prepared.value());
  return s.step() ? s.int64(0) : 0;
}

}  // namespace parley
