// SqliteStore: the embedded default Store. One SQLite file in WAL mode; a
// write is acknowledged only after an fsync of the WAL that followed its
// commit, so an acknowledged message survives a process crash and a power
// loss. fsync per message would be slow, so writes are group committed by
// one writer thread (SqliteWriter): every write queued while a commit runs
// goes into the next transaction (run again with a SAVEPOINT per write if
// one of them fails, so it undoes only itself), and the fsync runs on a
// completion thread while the writer goes on (SqliteWriter). Appends can be queued
// without waiting (appendDirectAsync/appendGroupAsync), so a batch is not
// limited by how many threads are waiting. One process owns the file.
// Reads use a small pool of read-only connections (WAL lets them run beside
// the writer).
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite_checkpointer.h"
#include "store/sqlite_db.h"
#include "store/sqlite_wal_sync.h"
#include "store/sqlite_writer.h"
#include "store/store.h"

namespace parley {

class SqliteStore final : public Store {
 public:
  static constexpr size_t kReadConnections = 4;

  // Opens or creates the database at `path`; creates or migrates the schema.
  // `options`: see openStore.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   size_t read_connections = kReadConnections,
                                                   const StoreOptions& options = {});
  ~SqliteStore() override;

  Result<User> createUser(const std::string& name, const std::string& password_hash,
                          TimestampMs now) override;
  Result<UserCredentials> findCredentials(const std::string& name) override;
  Result<User> findUser(const std::string& name) override;
  Result<User> findUserById(UserId id) override;
  using Store::addFriendship;  // the overload without a limit
  Status addFriendship(UserId a, UserId b, TimestampMs now, size_t max_friends) override;
  Result<bool> areFriends(UserId a, UserId b) override;
  Result<std::vector<User>> listFriends(UserId user) override;
  Result<Group> createGroup(const std::string& name, const std::string& desc, UserId owner,
                            TimestampMs now) override;
  Result<Group> findGroup(const std::string& name) override;
  using Store::addMember;
  Status addMember(GroupId group, UserId user, TimestampMs now, size_t max_members) override;
  Status removeMember(GroupId group, UserId user) override;
  Result<std::string> memberRole(GroupId group, UserId user) override;
  Result<std::vector<Group>> listGroups(UserId user) override;
  Result<std::vector<Member>> listMembers(GroupId group) override;
  Result<std::vector<UserId>> memberIds(GroupId group) override;
  Result<Appended> appendDirect(UserId from, UserId to, const std::string& text,
                                TimestampMs ts) override;
  Result<Appended> appendGroup(GroupId group, UserId from, const std::string& text,
                               TimestampMs ts) override;
  bool queuesAppends() const override { return true; }
  bool backlogged() const override;
  void setCompletionScope(CompletionScope scope) override;
  void drain() override { writer_->stop(); }
  void appendDirectAsync(UserId from, UserId to, std::string text, TimestampMs ts,
                         AppendDone done) override;
  void appendGroupAsync(GroupId group, UserId from, std::string text, TimestampMs ts,
                        AppendDone done) override;
  Result<std::vector<Delivery>> inboxAfter(UserId user, Seq after_seq, int limit) override;
  Result<Seq> ackPoint(UserId user) override;
  Result<Seq> ack(UserId user, Seq up_to) override;
  void ackAsync(UserId user, Seq up_to, AckDone done) override;
  Result<std::vector<Message>> directHistory(UserId a, UserId b, std::optional<MessageId> before,
                                             int limit) override;
  Result<std::vector<Message>> groupHistory(GroupId group, std::optional<MessageId> before,
                                            int limit) override;
  Status saveToken(const std::string& token_hash, UserId user, TimestampMs expires) override;
  Result<UserId> tokenUser(const std::string& token_hash, TimestampMs now) override;
  Status deleteToken(const std::string& token_hash) override;
  Result<int64_t> purgeExpiredTokens(TimestampMs now, int limit) override;
  Status ping() override;

 private:
  using WriteFn = std::function<Status(SqliteDb&)>;
  using ReadFn = std::function<Status(SqliteDb&)>;

  SqliteStore() = default;
  // Runs `fn` inside the next group commit; returns its status once durable.
  Status write(WriteFn fn);
  // Waits for an asynchronous append.
  Result<Appended> waitFor(void (SqliteStore::*append)(UserId, UserId, std::string, TimestampMs,
                                                       AppendDone),
                           UserId a, UserId b, const std::string& text, TimestampMs ts);
  // Runs `fn` on a free read connection.
  Status read(const ReadFn& fn);

  std::string path_;
  bool legacy_inbox_ = false;             // an upgraded database's inbox still has rows
  std::unique_ptr<SqliteDb> writer_db_;   // used only by the writer thread
  std::unique_ptr<WalSync> wal_sync_;     // used by the writer's completion thread
  std::unique_ptr<SqliteWriter> writer_;  // declared after writer_db_: stops first
  std::unique_ptr<SqliteCheckpointer> checkpointer_;

  std::mutex read_mu_;
  std::condition_variable read_cv_;
  std::vector<std::unique_ptr<SqliteDb>> free_readers_;  // guarded by read_mu_
};

}  // namespace parley
