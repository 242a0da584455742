// MysqlStore: the Store of a cluster, on MySQL/MariaDB through MariaDB
// Connector/C. A bounded pool of connections, prepared statements only,
// the schema created or migrated at open. Transient failures (lost
// connection, deadlock) are retried a few times with a fresh connection;
// when the database stays unreachable every call returns Unavailable within
// the connect timeout, and calls work again once it is back.
//
// Thread safety: all methods may be called from many threads at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "store/mysql_conn.h"
#include "store/store.h"

namespace parley {

class MysqlStore final : public Store {
 public:
  // Connects, creates/migrates the schema. Unavailable if the server cannot
  // be reached at open.
  static Result<std::unique_ptr<MysqlStore>> open(const std::string& url, size_t pool_size = 8);
  ~MysqlStore() override = default;

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
  Result<int64_t> purgeExpiredTokens(TimestampMs now, int limit) override;
  Status ping() override;

 private:
  using Work = std::function<Status(MysqlConn&)>;
  MysqlStore() = default;
  // Runs `work` on a pooled connection (inside a transaction when
  // `transaction`), retrying transient failures.
  Status run(bool transaction, const Work& work);
  // Runs `work`, a CALL of a procedure that commits itself, on a pooled
  // connection outside any transaction; retried only where it cannot have
  // committed.
  Status runCommitting(const Work& work);
  Result<std::unique_ptr<MysqlConn>> acquire();  // waits up to kPoolWait
  void release(std::unique_ptr<MysqlConn> conn);
  Status migrate();

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<MysqlConn>> free_;  // guarded by mu_
};

}  // namespace parley
