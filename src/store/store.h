// Store: the durable truth of Parley (users, friendships, groups, messages,
// per-recipient inboxes, resume tokens). The store is the message queue:
// a message is "sent" when appendDirect/appendGroup returns OK, and a
// recipient's replay reads its inbox after its ack point.
//
// Every method blocks (SQL, fsync) and must be called from the blocking pool,
// never from an event-loop thread. Implementations are safe for concurrent
// use from many threads.
//
// Errors: NotFound and Conflict are kept apart from failures; Unavailable
// means the database cannot be reached right now (the caller reports it to
// the client and the server keeps running).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/status.h"

namespace parley {

struct Metrics;

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  virtual ~Store() = default;

  // --- users -----------------------------------------------------------
  // Names compare case-insensitively ("Alice" and "alice" are one user).
  // Conflict if the name is taken.
  virtual Result<User> createUser(const std::string& name, const std::string& password_hash,
                                  TimestampMs now) = 0;
  // NotFound if no such user.
  virtual Result<UserCredentials> findCredentials(const std::string& name) = 0;
  virtual Result<User> findUser(const std::string& name) = 0;
  virtual Result<User> findUserById(UserId id) = 0;

  // --- friends (mutual) --------------------------------------------------
  // Conflict if already friends; Forbidden if either has `max_friends`
  // friends already (0: no limit). The count is taken in the transaction that
  // adds the friendship, so concurrent requests cannot pass the limit together.
  virtual Status addFriendship(UserId a, UserId b, TimestampMs now, size_t max_friends) = 0;
  // Without a limit.
  Status addFriendship(UserId a, UserId b, TimestampMs now) { return addFriendship(a, b, now, 0); }
  virtual Result<bool> areFriends(UserId a, UserId b) = 0;
  // Sorted by name.
  virtual Result<std::vector<User>> listFriends(UserId user) = 0;

  // --- groups --------------------------------------------------------------
  // Creates the group with `owner` as its first member (role "owner").
  // Conflict if the name is taken.
  virtual Result<Group> createGroup(const std::string& name, const std::string& desc, UserId owner,
                                    TimestampMs now) = 0;
  virtual Result<Group> findGroup(const std::string& name) = 0;
  // Conflict if already a member; Forbidden if the group has `max_members`
  // members already (0: no limit), counted in the transaction that adds the
  // member, so concurrent joins cannot overfill it.
  virtual Status addMember(GroupId group, UserId user, TimestampMs now, size_t max_members) = 0;
  // Without a limit.
  Status addMember(GroupId group, UserId user, TimestampMs now) {
    return addMember(group, user, now, 0);
  }
  // NotFound if not a member.
  virtual Status removeMember(GroupId group, UserId user) = 0;
  // The role ("owner"/"member"), or NotFound if not a member.
  virtual Result<std::string> memberRole(GroupId group, UserId user) = 0;
  virtual Result<std::vector<Group>> listGroups(UserId user) = 0;
  virtual Result<std::vector<Member>> listMembers(GroupId group) = 0;
  virtual Result<std::vector<UserId>> memberIds(GroupId group) = 0;

  // --- messages ------------------------------------------------------------
  // Stores a direct message and puts it in the recipient's inbox under the
  // recipient's next seq, in one transaction. On OK the message is durable.
  // `slot` receives the recipient's (user, seq).
  struct Appended {
    MessageId id = 0;
    std::vector<InboxSlot> slots;
  };
  virtual Result<Appended> appendDirect(UserId from, UserId to, const std::string& text,
                                        TimestampMs ts) = 0;
  // Stores a group message once and gives every member except the sender an
  // inbox slot referencing it, in one transaction. NotFound when `from` is
  // not a member (checked in the same transaction, so a concurrent leave
  // cannot slip between check and store).
  virtual Result<Appended> appendGroup(GroupId group, UserId from, const std::string& text,
                                       TimestampMs ts) = 0;

  // The same two appends without waiting for the commit, when the store
  // queues writes for a writer thread of its own (queuesAppends(); acks
  // too, see ackAsync): `done` runs exactly once, after the commit, on a
  // store thread (or in the call, with Unavailable, if the store refuses
  // the write: queue full, shutting down) — and must not block. A store that does not queue runs
  // the append in the call and calls `done` before returning, so its callers must be on the
  // blocking pool.
  using AppendDone = std::function<void(Result<Appended>)>;
  virtual bool queuesAppends() const { return false; }
  virtual void appendDirectAsync(UserId from, UserId to, std::string text, TimestampMs ts,
                                 AppendDone done) {
    done(appendDirect(from, to, text, ts));
  }
  virtual void appendGroupAsync(GroupId group, UserId from, std::string text, TimestampMs ts,
                                AppendDone done) {
    done(appendGroup(group, from, text, ts));
  }

  // True while writes arrive faster than the store takes them, so that its
  // bounded queue may fill: callers that keep several writes in flight
  // should add no more until they hear back, rather than have them refused
  // as unavailable. Any thread; cheap (an atomic load).
  virtual bool backlogged() const { return false; }

  // A commit's completions (the `done` of every append it held, the waiters
  // of its writes) run inside `scope`, on the store's thread: it is called
  // with a function that runs them all. The server opens an event-loop post
  // batch there, so a commit wakes each loop once. Default: run them
  // plainly. Set before the store is used.
  using CompletionScope = std::function<void(const std::function<void()>& run_all)>;
  virtual void setCompletionScope(CompletionScope scope) { (void)scope; }

  // The user's inbox entries with seq > after_seq, oldest first, at most
  // `limit` of them.
  virtual Result<std::vector<Delivery>> inboxAfter(UserId user, Seq after_seq, int limit) = 0;
  // The user's ack point (every seq <= it is done).
  virtual Result<Seq> ackPoint(UserId user) = 0;
  // Moves the ack point forward to min(up_to, highest seq assigned); never
  // backwards. Returns the new ack point.
  virtual Result<Seq> ack(UserId user, Seq up_to) = 0;
  // The same without waiting, like the appends: when the store queues
  // (queuesAppends()), `done` runs once on a store thread after the commit;
  // otherwise in the call (so callers must then be on the blocking pool).
  using AckDone = std::function<void(Result<Seq>)>;
  virtual void ackAsync(UserId user, Seq up_to, AckDone done) { done(ack(user, up_to)); }

  // Direct conversation between a and b, or a group's messages: the `limit`
  // newest with id < before (all ids when before is empty), oldest first.
  virtual Result<std::vector<Message>> directHistory(UserId a, UserId b,
                                                     std::optional<MessageId> before,
                                                     int limit) = 0;
  virtual Result<std::vector<Message>> groupHistory(GroupId group, std::optional<MessageId> before,
                                                    int limit) = 0;

  // --- resume tokens ---------------------------------------------------------
  // Tokens are stored by hash; the plain token only ever exists on the wire.
  virtual Status saveToken(const std::string& token_hash, UserId user, TimestampMs expires) = 0;
  // NotFound if unknown or expired at `now`.
  virtual Result<UserId> tokenUser(const std::string& token_hash, TimestampMs now) = 0;
  virtual Status deleteToken(const std::string& token_hash) = 0;
  // Deletes at most `limit` tokens that expired at or before `now` and
  // returns how many. Called at each login, so the table holds little more
  // than live tokens however long the server runs.
  virtual Result<int64_t> purgeExpiredTokens(TimestampMs now, int limit) = 0;

  // Runs every write already queued (and its completion) and refuses later
  // ones with Unavailable: the last step of a shutdown before the threads
  // the completions post to go away. Default: nothing is queued.
  virtual void drain() {}

  // A cheap round trip, for health checks.
  virtual Status ping() = 0;
};

using StorePtr = std::unique_ptr<Store>;

// How the store is opened, beyond its URL.
struct StoreOptions {
  // Optional, outlives the store: where the embedded store times its disk
  // (Metrics::store_wal_sync, store_writer_hold).
  Metrics* metrics = nullptr;
  // The embedded store's least time between the starts of two WAL fsyncs
  // (SqliteWriter; `--wal-sync-interval-us`). MariaDB's own settings decide
  // its flushes, so anything but 0 with a mysql:// URL is BadRequest.
  std::chrono::microseconds wal_sync_interval{0};
};

// Opens the store named by `url`:
//   sqlite:PATH (or a bare path)           embedded SQLite file, WAL
//   mysql://user:pass@host:port/database   MySQL / MariaDB
// Creates or migrates the schema. Returns Unavailable/Internal on failure.
Result<StorePtr> openStore(const std::string& url, const StoreOptions& options = {});

}  // namespace parley
