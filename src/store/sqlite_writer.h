// SqliteWriter: the one thread that writes to a SqliteStore's file. Writes
// are jobs in a bounded queue; the thread takes every job queued (up to
// kMaxBatch), runs them in ONE transaction (should one fail after changing
// something, the batch runs again with each job inside its own SAVEPOINT, so a
// failing job undoes only itself; one that refuses before changing anything
// just leaves its error), commits, and only once the commit is durable tells
// each job how it ended. This is group commit without a thread per waiting write: callers may
// queue a job and return (SqliteStore's asynchronous appends), so a batch can
// hold thousands of messages, not just one per blocking-pool thread.
//
// Telling the jobs (their finish(): building message events, publishing,
// replying) runs on a second thread, batch after batch in commit order, so
// the writer — the one serial stage — starts its next batch at once. That
// thread also makes the commits durable: the writer's connection commits
// without an fsync (synchronous=NORMAL; the frames are in the file, safe from
// a crash of the process), and the completion thread calls `make_durable`
// (an fsync of the WAL) before it tells a batch, one call for every batch
// committed meanwhile. Nobody hears "stored" before the fsync, as with
// synchronous=FULL, but the fsync no longer stalls the writer. Readers of
// the store show only messages up to durableMessageId(), which the
// completion thread moves after each fsync. At most kMaxUntold committed
// batches wait for the completion thread, besides the ones it is syncing
// and telling (it takes all that wait at once); past that the writer waits.
//
// With a sync interval, the completion thread starts an fsync no sooner than
// that long after the previous one started (unless the writer has stopped,
// or kMaxHeldBatches are waiting): the commits of the interval share one
// fsync. It takes them into its hands as they come, so the writer goes on
// meanwhile. After a quiet spell the next commit is synced at once. This is
// PostgreSQL's commit_delay and MySQL's binlog_group_commit_sync_delay, but
// waiting only when fsyncs come back to back. It trades a little median
// latency for fewer disk requests, which matters where each request costs
// far more than its own time (docs/performance.md, eighteenth round).
//
// Being the only writer of the file, the thread also keeps three caches that
// stay exact because every change goes through it: each user's last seq (the
// id of the newest message in its stream, read from the database once, then
// kept; nothing is written per recipient), each group's member list
// (dropped whenever membership changes) and the pairs known to be in
// direct_peers.
//
// Thread safety: submit() from any thread. Job::run and the cache methods
// run on the writer thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/model.h"
#include "common/status.h"
#include "store/sqlite_db.h"

namespace parley {

class SqliteWriter {
 public:
  class Job {
   public:
    virtual ~Job() = default;
    // Inside the batch transaction, on the writer thread. May run twice (when
    // another job of its batch failed, the batch runs again with savepoints),
    // so it writes only to the database and to its own results, which it
    // sets afresh each time.
    virtual Status run(SqliteWriter& writer, SqliteDb& db) = 0;
    // After the batch committed durably (or failed), on the completion
    // thread, in commit order: `status` is run()'s, or the commit's error.
    // Must not block.
    virtual void finish(const Status& status) = 0;
    // The id of the message run() stored, 0 for none. Once the batch has
    // committed and been synced, readers show messages up to the newest.
    virtual Seq storedMessageId() const { return 0; }
  };
  using JobPtr = std::unique_ptr<Job>;

  // Jobs committed together at most; bounds the wait of the batch's first.
  static constexpr size_t kMaxBatch = 2048;
  // Committed batches waiting for the completion thread, at most (more may
  // be in its hands, being synced and told: up to as many, or those of a
  // sync interval).
  static constexpr size_t kMaxUntold = 4;
  // Committed batches the completion thread gathers during a sync interval,
  // at most: past that it syncs them early.
  static constexpr size_t kMaxHeldBatches = 64;

  // Makes every commit so far durable (SqliteStore: WalSync, an fsync of
  // the WAL). Called on the completion thread; a failure is fatal (see
  // completionLoop).
  using MakeDurable = std::function<Status()>;

  // Switches `db` to synchronous=NORMAL: `make_durable` does the syncing, at
  // most once per `sync_interval` while commits keep coming (0: as soon as a
  // commit waits; see above).
  SqliteWriter(SqliteDb& db, size_t max_queued, MakeDurable make_durable,
               std::chrono::microseconds sync_interval = std::chrono::microseconds(0));
  SqliteWriter(const SqliteWriter&) = delete;
  SqliteWriter& operator=(const SqliteWriter&) = delete;
  // Runs what is queued, tells every job how it ended, then joins both threads.
  ~SqliteWriter();
  // The same, earlier: jobs submitted afterwards finish at once with
  // Unavailable. Idempotent.
  void stop();

  // Runs `fn` on the caller's thread while the writer is between batches:
  // no write transaction is open, and none begins until `fn` returns (jobs
  // submitted meanwhile wait in the queue). The checkpointer uses it to
  // finish a checkpoint that no commit overtakes, so that the writer's next
  // transaction can start the WAL over (see SqliteCheckpointer). One caller
  // at a time.
  void runBetweenBatches(const std::function<void()>& fn);

  // Wraps the run of each batch's finish() calls (Store::setCompletionScope).
  void setCompletionScope(std::function<void(const std::function<void()>&)> scope);

  // Queues `job`. When the queue is full or the writer is stopping the job
  // is finished at once with Unavailable (on the caller's thread).
  void submit(JobPtr job);
  // Jobs queued and not yet taken into a batch (a moment ago). Any thread.
  size_t queued() const { return queued_.load(std::memory_order_relaxed); }

  // --- writer thread only, for jobs ---------------------------------------
  // Gives `user` the message `seq` (its id) and returns the seq it had before
  // (NotFound for an unknown user). Undone if the job fails.
  Result<Seq> advance(SqliteDb& db, UserId user, Seq seq);
  // The highest seq given to `user` so far, committed or in this batch.
  Result<Seq> lastSeq(SqliteDb& db, UserId user);
  // The members of `group` (sorted), from the cache or the database.
  Result<const std::vector<UserId>*> members(SqliteDb& db, GroupId group);
  // The newest message id whose commit has been made durable. Readers show
  // nothing newer: a row committed but not yet synced could vanish in a
  // power loss, and SQLite would then hand its id out again — to a message
  // a client that saw the first would drop as a duplicate.
  Seq durableMessageId() const { return durable_id_.load(std::memory_order_acquire); }

  // Membership of `group` changed: reload it next time.
  void forgetMembers(GroupId group) { members_.erase(group); }
  // `peer` sent `user` a direct message: makes sure direct_peers says so
  // (a row per pair, written the first time; the user's stream reads the
  // chats of its peers). Remembered, so later messages cost nothing.
  Status notePeer(SqliteDb& db, UserId user, UserId peer);

 private:
  // lastSeq, not counting messages with ids >= `below` on a cache miss.
  Result<Seq> lastSeqBefore(SqliteDb& db, UserId user, Seq below);
  // A batch that has committed (or failed) and the outcome of each job.
  struct Untold {
    std::vector<JobPtr> batch;
    std::vector<Status> results;
    Status outcome;     // the commit's; when not ok, every job failed with it
    Seq newest_id = 0;  // the newest message id it stored (0: none)
  };
  // The newest message id committed: the largest rowid of messages (0 when
  // there is no such table, as for a writer tested alone). At start only;
  // afterwards each batch's jobs say what they stored.
  Seq newestMessageId();
  // make_durable_, and a failure is fatal (see completionLoop).
  void makeDurableOrDie();
  void loop();
  void runBatch(std::vector<JobPtr>& batch);
  // Queues a finished batch for the completion thread (waits for room).
  void handOver(Untold untold);
  void completionLoop();
  void tell(Untold& untold);
  // The batch again, each job in its own SAVEPOINT (after a job failed).
  Status runWithSavepoints(std::vector<JobPtr>& batch, std::vector<Status>& results);
  // Commits; rolls back (and forgets the caches) on failure.
  Status commit();
  void forgetAll();
  Status exec(const char* sql);

  SqliteDb& db_;
  const size_t max_queued_;
  const MakeDurable make_durable_;
  const std::chrono::microseconds sync_interval_;
  std::atomic<Seq> durable_id_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<JobPtr> queue_;           // guarded by mu_
  std::atomic<size_t> queued_{0};       // queue_.size(), written under mu_
  bool stopping_ = false;               // guarded by mu_
  bool paused_ = false;                 // guarded by mu_: runBetweenBatches is running
  bool in_batch_ = false;               // guarded by mu_: the writer is running a batch
  std::condition_variable between_cv_;  // in_batch_ went false
  // Set under mu_ before the first batch; read by the completion thread
  // (after the writer took a batch under mu_ and handed it over under
  // untold_mu_).
  std::function<void(const std::function<void()>&)> completion_scope_;
  std::thread thread_;

  std::mutex untold_mu_;
  std::condition_variable untold_cv_;  // a batch to tell; room for one more
  std::deque<Untold> untold_;          // guarded by untold_mu_, oldest first
  bool writer_done_ = false;           // guarded by untold_mu_: no batch will come
  // When the completion thread last started make_durable_ (its own); none
  // yet, and the first sync never waits.
  std::optional<std::chrono::steady_clock::time_point> last_sync_start_;
  std::thread completion_thread_;

  // Writer-thread state.
  std::unordered_map<UserId, Seq> last_seq_;
  std::vector<std::pair<UserId, Seq>> undo_;  // last seqs before the current job
  std::unordered_map<GroupId, std::vector<UserId>> members_;
  struct PairHash {
    size_t operator()(const std::pair<UserId, UserId>& p) const {
      return std::hash<UserId>()(p.first) * 31 + std::hash<UserId>()(p.second);
    }
  };
  std::unordered_set<std::pair<UserId, UserId>, PairHash> known_peers_;  // in direct_peers
  static constexpr size_t kMaxCachedUsers = 1 << 20;  // then the caches start over
};

}  // namespace parley
