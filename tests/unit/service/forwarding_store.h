// ForwardingStore: a Store that hands every call to another one, for test
// fixtures that change one or two behaviours of the real SQLite store (hold
// its appends back, make a read fail) by overriding just those.
#pragma once

#include <utility>

#include "store/store.h"

namespace parley::testing {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(StorePtr inner) : inner_(std::move(inner)) {}

  void appendDirectAsync(UserId from, UserId to, std::string text, TimestampMs ts,
                         AppendDone done) override {
    inner_->appendDirectAsync(from, to, std::move(text), ts, std::move(done));
  }
  bool backlogged() const override { return inner_->backlogged(); }
  bool queuesAppends() const override { return inner_->queuesAppends(); }
  void appendGroupAsync(GroupId group, UserId from, std::string text, TimestampMs ts,
                        AppendDone done) override {
    inner_->appendGroupAsync(group, from, std::move(text), ts, std::move(done));
  }
  void ackAsync(UserId user, Seq up_to, AckDone done) override {
    inner_->ackAsync(user, up_to, std::move(done));
  }
  void setCompletionScope(CompletionScope scope) override {
    inner_->setCompletionScope(std::move(scope));
  }
  void drain() override { inner_->drain(); }
  Result<User> createUser(const std::string& name, const std::string& hash,
                          TimestampMs now) override {
    return inner_->createUser(name, hash, now);
  }
  Result<UserCredentials> findCredentials(const std::string& name) override {
    return inner_->findCredentials(name);
  }
  Result<User> findUser(const std::string& name) override { return inner_->findUser(name); }
  Result<User> findUserById(UserId id) override { return inner_->findUserById(id); }
  Status addFriendship(UserId a, UserId b, TimestampMs now, size_t max_friends) override {
    return inner_->addFriendship(a, b, now, max_friends);
  }
  Result<bool> areFriends(UserId a, UserId b) override { return inner_->areFriends(a, b); }
  Result<std::vector<User>> listFriends(UserId user) override { return inner_->listFriends(user); }
  Result<Group> createGroup(const std::string& name, const std::string& desc, UserId owner,
                            TimestampMs now) override {
    return inner_->createGroup(name, desc, owner, now);
  }
  Result<Group> findGroup(const std::string& name) override { return inner_->findGroup(name); }
  Status addMember(GroupId group, UserId user, TimestampMs now, size_t max_members) override {
    return inner_->addMember(group, user, now, max_members);
  }
  Status removeMember(GroupId group, UserId user) override {
    return inner_->removeMember(group, user);
  }
  Result<std::string> memberRole(GroupId group, UserId user) override {
    return inner_->memberRole(group, user);
  }
  Result<std::vector<Group>> listGroups(UserId user) override { return inner_->listGroups(user); }
  Result<std::vector<Member>> listMembers(GroupId group) override {
    return inner_->listMembers(group);
  }
  Result<std::vector<UserId>> memberIds(GroupId group) override { return inner_->memberIds(group); }
  Result<Appended> appendDirect(UserId from, UserId to, const std::string& text,
                                TimestampMs ts) override {
    return inner_->appendDirect(from, to, text, ts);
  }
  Result<Appended> appendGroup(GroupId group, UserId from, const std::string& text,
                               TimestampMs ts) override {
    return inner_->appendGroup(group, from, text, ts);
  }
  Result<std::vector<Delivery>> inboxAfter(UserId user, Seq after_seq, int limit) override {
    return inner_->inboxAfter(user, after_seq, limit);
  }
  Result<Seq> ackPoint(UserId user) override { return inner_->ackPoint(user); }
  Result<Seq> ack(UserId user, Seq up_to) override { return inner_->ack(user, up_to); }
  Result<std::vector<Message>> directHistory(UserId a, UserId b, std::optional<MessageId> before,
                                             int limit) override {
    return inner_->directHistory(a, b, before, limit);
  }
  Result<std::vector<Message>> groupHistory(GroupId group, std::optional<MessageId> before,
                                            int limit) override {
    return inner_->groupHistory(group, before, limit);
  }
  Status saveToken(const std::string& hash, UserId user, TimestampMs expires) override {
    return inner_->saveToken(hash, user, expires);
  }
  Result<UserId> tokenUser(const std::string& hash, TimestampMs now) override {
    return inner_->tokenUser(hash, now);
  }
  Status deleteToken(const std::string& hash) override { return inner_->deleteToken(hash); }
  Result<int64_t> purgeExpiredTokens(TimestampMs now, int limit) override {
    return inner_->purgeExpiredTokens(now, limit);
  }
  Status ping() override { return inner_->ping(); }

 protected:
  StorePtr inner_;
};

}  // namespace parley::testing
