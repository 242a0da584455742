// SqliteStore: the embedded default Store. One SQLite file in WAL mode with
// synchronous=FULL, so an acknowledged message survives a process crash and
// a power loss. fsync per message would be slow, so writes are group
// committed: concurrent writers queue up and the one at the front commits a
// batch of them in one transaction (LevelDB's DBImpl::Write), each inside its
// own SAVEPOINT so one failing write does not undo the others.
// Reads use a small pool of read-only connections (WAL lets them run beside
// the writer).
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store.h"

namespace parley {

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path`; creates or migrates the schema.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   size_t read_connections = 4);
  ~SqliteStore() override;

  Result<User> createUser(const std::string& name, const std::string& password_hash,
                          TimestampMs now) override;
  Result<UserCredentials> findCredentials(const std::string& name) override;
  Result<User> findUser(const std::string& name) override;
  Result<User> findUserById(UserId id) override;
  Status addFriendship(UserId a, UserId b, TimestampMs now) override;
  Result<bool> areFriends(UserId a, UserId b) override;
  Result<std::vector<User>> listFriends(UserId user) override;
  Result<Group> createGroup(const std::string& name, const std::string& desc, UserId owner,
                            TimestampMs now) override;
  Result<Group> findGroup(const std::string& name) override;
  Status addMember(GroupId group, UserId user, TimestampMs now) override;
  Status removeMember(GroupId group, UserId user) override;
  Result<std::string> memberRole(GroupId group, UserId user) override;
  Result<std::vector<Group>> listGroups(UserId user) override;
  Result<std::vector<Member>> listMembers(GroupId group) override;
  Result<std::vector<UserId>> memberIds(GroupId group) override;
  Result<Appended> appendDirect(UserId from, UserId to, const std::string& text,
                                TimestampMs ts) override;
  Result<Appended> appendGroup(GroupId group, UserId from, const std::string& text,
                               TimestampMs ts) override;
  Result<std::vector<Delivery>> inboxAfter(UserId user, Seq after_seq, int limit) override;
  Result<Seq> ackPoint(UserId user) override;
  Result<Seq> ack(UserId user, Seq up_to) override;
  Result<std::vector<Message>> directHistory(UserId a, UserId b, std::optional<MessageId> before,
                                             int limit) override;
  Result<std::vector<Message>> groupHistory(GroupId group, std::optional<MessageId> before,
                                            int limit) override;
  Status saveToken(const std::string& token_hash, UserId user, TimestampMs expires) override;
  Result<UserId> tokenUser(const std::string& token_hash, TimestampMs now) override;
  Status deleteToken(const std::string& token_hash) override;
  Status ping() override;

 private:
  using WriteFn = std::function<Status(SqliteDb&)>;
  using ReadFn = std::function<Status(SqliteDb&)>;
  struct Writer;

  SqliteStore() = default;
  // Runs `fn` inside the next group commit; returns its status once durable.
  Status write(WriteFn fn);
  // Runs `fn` on a free read connection.
  Status read(const ReadFn& fn);

  std::string path_;
  std::unique_ptr<SqliteDb> writer_db_;  // used only by the current batch leader

  std::mutex write_mu_;
  std::deque<Writer*> writers_;  // guarded by write_mu_; the front one leads

  std::mutex read_mu_;
  std::condition_variable read_cv_;
  std::vector<std::unique_ptr<SqliteDb>> free_readers_;  // guarded by read_mu_
};

}  // namespace parley
