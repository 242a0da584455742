#include "service/chat_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <thread>

#include "common/clock.h"
#include "service/session.h"
#include "service/tokens.h"

namespace parley {

using protocol::FriendView;
using protocol::MemberView;
using protocol::MessageRef;
using protocol::Reply;

namespace {

// One envelope per recipient. Recipients given the same seq (every member,
// when the store's seqs are message ids) share one serialization.
std::vector<Envelope> envelopesFor(const std::vector<InboxSlot>& slots,
                                   const protocol::MessageEventTemplate& event) {
  std::vector<Envelope> out;
  out.reserve(slots.size());
  Seq line_seq = -1;
  SharedLine line;
  for (const InboxSlot& slot : slots) {
    if (slot.seq != line_seq) {
      line = makeLine(event.withSeq(slot.seq));
      line_seq = slot.seq;
    }
    out.push_back(Envelope{slot.user, slot.seq, slot.prev, line});
  }
  return out;
}

}  // namespace

#define PARLEY_TRY(var, expr) \
  auto var = (expr);          \
  if (!var.ok()) return logged(#expr, var.status())

ChatService::ChatService(Store& store, Bus& bus, BlockingPool& pool, ServiceOptions options)
    : store_(store),
      bus_(bus),
      pool_(pool),
      options_(options),
      hasher_(options.hash_cost,
              static_cast<std::ptrdiff_t>(std::max(1u, std::thread::hardware_concurrency()))),
      user_messages_(options.user_message_rate, options.user_message_burst),
      login_failures_by_name_(options.login_failures_per_minute_per_name / 60.0,
                              options.login_failures_per_minute_per_name),
      login_failures_by_address_(options.login_failures_per_minute_per_address / 60.0,
                                 options.login_failures_per_minute_per_address) {}

void ChatService::start() {
  bus_.start(
      [this](std::span<const Envelope> envelopes) {
        if (options_.metrics) {
          options_.metrics->bus_deliveries.fetch_add(envelopes.size(), std::memory_order_relaxed);
        }
        registry_.deliver(envelopes);
      },
      [this](UserId user) {
        // A node died with this user on it. Tell the friends, off the
        // bus thread (it needs the store).
        pool_.submit([this, user] {
          auto u = store_.findUserById(user);
          if (u.ok()) notifyFriends(u.value(), /*online=*/false);
        });
      },
      [this](std::optional<UserId> user) {
        // Events may have been lost on the way; the inbox has them.
        auto sessions = user ? registry_.sessionsOf(*user) : registry_.all();
        for (const std::shared_ptr<Session>& session : sessions) session->catchUp();
      });
}

void ChatService::stop() { bus_.stop(); }

Status ChatService::logged(const char* what, const Status& status) {
  if (status.code() == Code::kInternal || status.code() == Code::kUnavailable) {
    spdlog::warn("{} failed: {}", what, status.toString());
  }
  return status;
}

// --- accounts ----------------------------------------------------------------

Result<Reply> ChatService::registerUser(const std::string& name, const std::string& password) {
  PARLEY_TRY(hash, hasher_.hash(password));
  PARLEY_TRY(user, store_.createUser(name, hash.value(), nowMs()));
  Reply reply;
  reply.user = user.value();
  return reply;
}

Result<LoginResult> ChatService::login(const std::string& name, const std::string& password,
                                       const std::string& address) {
  // Only failures count, so a busy NAT address of honest users is not
  // throttled; a guesser is, per name and per address.
  std::string name_key = name;
  for (char& ch : name_key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (!login_failures_by_name_.allows(name_key) ||
      (!address.empty() && !login_failures_by_address_.allows(address))) {
    return Status::RateLimited("too many failed logins; wait a minute");
  }
  auto failed = [&] {
    login_failures_by_name_.tryTake(name_key);
    if (!address.empty()) login_failures_by_address_.tryTake(address);
    return Status::Unauthorized("wrong name or password");
  };
  auto creds = store_.findCredentials(name);
  if (!creds.ok()) {
    if (!creds.status().isNotFound()) return logged("findCredentials", creds.status());
    hasher_.burnVerify(password);  // same time as a wrong password: no user enumeration
    return failed();
  }
  if (!hasher_.verify(creds->password_hash, password)) return failed();
  return finishLogin(creds->user);
}

Result<LoginResult> ChatService::resume(const std::string& token) {
  auto user_id = store_.tokenUser(hashToken(token), nowMs());
  if (!user_id.ok()) {
    if (user_id.status().isNotFound()) return Status::Unauthorized("token unknown or expired");
    return logged("tokenUser", user_id.status());
  }
  PARLEY_TRY(user, store_.findUserById(user_id.value()));
  return finishLogin(user.value(), token);
}

Result<LoginResult> ChatService::finishLogin(const User& user, const std::string& resumed_token) {
  if (options_.metrics) options_.metrics->logins++;
  LoginResult result;
  result.user = user;
  if (!resumed_token.empty()) {
    result.token = resumed_token;  // still valid (checked), same expiry
    result.token_hash = hashToken(result.token);
  } else {
    result.token = newToken();
    result.token_hash = hashToken(result.token);
    auto expires =
        nowMs() + std::chrono::duration_cast<std::chrono::milliseconds>(options_.token_ttl).count();
    Status saved = store_.saveToken(result.token_hash, user.id, expires);
    if (!saved.ok()) return logged("saveToken", saved);
    // Each login adds one token; every kPurgeEvery-th login clears up to
    // 100 expired ones per login since the last purge, so expired tokens
    // cannot pile up while most logins pay one commit, not two. Best effort:
    // a failure is only logged.
    constexpr uint32_t kPurgeEvery = 16;
    if (token_saves_.fetch_add(1, std::memory_order_relaxed) % kPurgeEvery == 0) {
      auto purged = store_.purgeExpiredTokens(nowMs(), 100 * kPurgeEvery);
      if (!purged.ok()) (void)logged("purgeExpiredTokens", purged.status());
    }
  }
  PARLEY_TRY(ack_point, store_.ackPoint(user.id));
  PARLEY_TRY(friend_views, friendViews(user.id));
  PARLEY_TRY(groups, store_.listGroups(user.id));
  result.ack_point = ack_point.value();
  result.reply.user = user;
  result.reply.token = result.token;
  result.reply.friends = std::move(friend_views).value();
  result.reply.groups = std::move(groups).value();
  sessionStarted(user);
  return result;
}

Status ChatService::logout(const std::string& token_hash) {
  if (token_hash.empty()) return Status::Ok();
  return logged("deleteToken", store_.deleteToken(token_hash));
}

void ChatService::sessionStarted(const User& me) {
  auto became_online = bus_.attach(me.id);
  if (!became_online.ok()) {
    (void)logged("bus attach", became_online.status());
    return;
  }
  if (became_online.value()) notifyFriends(me, /*online=*/true);
}

void ChatService::sessionEnded(const User& me) {
  auto went_offline = bus_.detach(me.id);
  if (!went_offline.ok()) {
    (void)logged("bus detach", went_offline.status());
    return;
  }
  if (went_offline.value()) notifyFriends(me, /*online=*/false);
}

void ChatService::notifyFriends(const User& me, bool online) {
  auto friends = store_.listFriends(me.id);
  if (!friends.ok()) {
    (void)logged("listFriends for presence", friends.status());
    return;
  }
  SharedLine line = makeLine(protocol::presenceEvent(me.name, online));
  for (const User& f : friends.value()) bus_.publish(Envelope{f.id, 0, 0, line});
}

Result<std::vector<FriendView>> ChatService::friendViews(UserId me) {
  PARLEY_TRY(friends, store_.listFriends(me));
  std::vector<UserId> ids;
  for (const User& f : friends.value()) ids.push_back(f.id);
  auto online = bus_.online(ids);
  std::vector<FriendView> views;
  views.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    // When the bus cannot say, show offline rather than fail the request.
    bool is_online = online.ok() && online.value()[i];
    views.push_back(FriendView{friends.value()[i], is_online});
  }
  return views;
}

// --- friends -----------------------------------------------------------------

Status ChatService::friendLimitReached(const User& me, const User& other) {
  // Which side is at the limit, for the message: counted again after the
  // store refused (should a friendship have gone meanwhile, the other side is
  // named).
  const std::string limit = " the limit of " + std::to_string(options_.max_friends) + " friends";
  auto mine = store_.listFriends(me.id);
  if (!mine.ok()) return Status::Forbidden("you or " + other.name + " reached" + limit);
  const bool me_full = mine->size() >= options_.max_friends;
  return Status::Forbidden((me_full ? std::string("you have") : other.name + " has") + " reached" +
                           limit);
}

Result<Reply> ChatService::addFriend(const User& me, const std::string& name) {
  auto other = store_.findUser(name);
  if (!other.ok()) {
    if (other.status().isNotFound()) return Status::NotFound("no user named " + name);
    return logged("findUser", other.status());
  }
  if (other->id == me.id) return Status::BadRequest("you cannot add yourself as a friend");
  // The store checks the limit in the transaction that adds the friendship.
  Status st = store_.addFriendship(me.id, other->id, nowMs(), options_.max_friends);
  if (st.isConflict()) return Status::Conflict("already friends with " + other->name);
  if (st.isForbidden()) return friendLimitReached(me, other.value());
  if (!st.ok()) return logged("addFriendship", st);
  auto online = bus_.online({other->id});
  Reply reply;
  reply.friend_ = FriendView{other.value(), online.ok() && online.value()[0]};
  // The other side learns of it at once; we are online, we just asked.
  bus_.publish(
      Envelope{other->id, 0, 0, makeLine(protocol::friendAddedEvent(FriendView{me, true}))});
  return reply;
}

Result<Reply> ChatService::friends(const User& me) {
  PARLEY_TRY(views, friendViews(me.id));
  Reply reply;
  reply.friends = std::move(views).value();
  return reply;
}

// --- messages: the hot path ----------------------------------------------------

bool ChatService::runAppend(bool on_pool, std::function<void()> append, const ReplyDone& done) {
  if (on_pool || store_.queuesAppends()) {
    append();
    return true;
  }
  if (!pool_.trySubmit(std::move(append))) {
    done(Status::Unavailable("server is overloaded, retry later"));
    return true;
  }
  return false;
}

bool ChatService::sendAsync(const User& me, std::string to, std::string text, ReplyDone done) {
  if (!user_messages_.tryTake(std::to_string(me.id))) {
    done(Status::RateLimited("too many messages; slow down"));
    return true;
  }
  auto other = cache_.user(to);
  if (other && cache_.friends(me.id, other->id)) {
    return storeDirect(me, *other, std::move(text), /*on_pool=*/false, std::move(done));
  }
  // Not cached yet: look up on the pool, remember, then store from there.
  auto lookup = [this, me, to = std::move(to), text = std::move(text), done]() mutable {
    auto other = store_.findUser(to);
    if (!other.ok()) {
      if (other.status().isNotFound()) return done(Status::NotFound("no user named " + to));
      return done(logged("findUser", other.status()));
    }
    auto friends = store_.areFriends(me.id, other->id);
    if (!friends.ok()) return done(logged("areFriends", friends.status()));
    if (!friends.value()) return done(Status::Forbidden(other->name + " is not your friend"));
    cache_.putUser(to, other.value());
    cache_.putFriends(me.id, other->id);
    storeDirect(me, other.value(), std::move(text), /*on_pool=*/true, std::move(done));
  };
  if (!pool_.trySubmit(std::move(lookup))) {
    done(Status::Unavailable("server is overloaded, retry later"));
    return true;
  }
  return false;
}

bool ChatService::storeDirect(const User& me, const User& to, std::string text, bool on_pool,
                              ReplyDone done) {
  TimestampMs ts = nowMs();
  auto started = std::chrono::steady_clock::now();
  auto committed = [this, from = me.name, to_name = to.name, text, ts, started,
                    done](Result<Store::Appended> appended) {
    if (!appended.ok()) return done(logged("appendDirect", appended.status()));
    if (options_.metrics) {
      options_.metrics->store_commit.observe(std::chrono::steady_clock::now() - started);
      options_.metrics->direct_messages.fetch_add(1, std::memory_order_relaxed);
    }
    // Durable now; the bus is only the fast path to an online recipient.
    protocol::MessageEventTemplate event(Message{appended->id, from, to_name, "", text, ts});
    for (const InboxSlot& slot : appended->slots) {
      bus_.publish(Envelope{slot.user, slot.seq, slot.prev, makeLine(event.withSeq(slot.seq))});
    }
    Reply reply;
    reply.message = MessageRef{appended->id, ts};
    done(std::move(reply));
  };
  return runAppend(
      on_pool,
      [this, from = me.id, to = to.id, text = std::move(text), ts,
       committed = std::move(committed)]() mutable {
        store_.appendDirectAsync(from, to, std::move(text), ts, std::move(committed));
      },
      done);
}

bool ChatService::groupSendAsync(const User& me, std::string name, std::string text,
                                 ReplyDone done) {
  if (!user_messages_.tryTake(std::to_string(me.id))) {
    done(Status::RateLimited("too many messages; slow down"));
    return true;
  }
  if (auto group = cache_.group(name)) {
    return storeGroup(me, *group, std::move(text), /*on_pool=*/false, std::move(done));
  }
  auto lookup = [this, me, name = std::move(name), text = std::move(text), done]() mutable {
    auto group = store_.findGroup(name);
    if (!group.ok()) {
      if (group.status().isNotFound()) return done(Status::NotFound("no group named " + name));
      return done(logged("findGroup", group.status()));
    }
    cache_.putGroup(name, group.value());
    storeGroup(me, group.value(), std::move(text), /*on_pool=*/true, std::move(done));
  };
  if (!pool_.trySubmit(std::move(lookup))) {
    done(Status::Unavailable("server is overloaded, retry later"));
    return true;
  }
  return false;
}

bool ChatService::storeGroup(const User& me, const Group& group, std::string text, bool on_pool,
                             ReplyDone done) {
  TimestampMs ts = nowMs();
  auto started = std::chrono::steady_clock::now();
  auto committed = [this, from = me.name, group_name = group.name, text, ts, started,
                    done](Result<Store::Appended> appended) {
    if (!appended.ok()) {
      // The store checks membership in the storing transaction.
      if (appended.status().isNotFound()) {
        return done(Status::Forbidden("you are not a member of " + group_name));
      }
      return done(logged("appendGroup", appended.status()));
    }
    if (options_.metrics) {
      options_.metrics->store_commit.observe(std::chrono::steady_clock::now() - started);
      options_.metrics->group_messages.fetch_add(1, std::memory_order_relaxed);
    }
    // Serialized once; each member's line differs only by its seq.
    protocol::MessageEventTemplate event(Message{appended->id, from, "", group_name, text, ts});
    bus_.publishAll(envelopesFor(appended->slots, event));
    Reply reply;
    reply.message = MessageRef{appended->id, ts};
    done(std::move(reply));
  };
  return runAppend(
      on_pool,
      [this, from = me.id, group = group.id, text = std::move(text), ts,
       committed = std::move(committed)]() mutable {
        store_.appendGroupAsync(group, from, std::move(text), ts, std::move(committed));
      },
      done);
}

Result<Reply> ChatService::history(const User& me, const protocol::Request& r) {
  Reply reply;
  if (!r.with.empty()) {
    auto other = store_.findUser(r.with);
    if (!other.ok()) {
      if (other.status().isNotFound()) return Status::NotFound("no user named " + r.with);
      return logged("findUser", other.status());
    }
    PARLEY_TRY(friends, store_.areFriends(me.id, other->id));
    if (!friends.value()) return Status::Forbidden(other->name + " is not your friend");
    PARLEY_TRY(messages, store_.directHistory(me.id, other->id, r.before, r.limit));
    reply.messages = std::move(messages).value();
    return reply;
  }
  auto group = store_.findGroup(r.group);
  if (!group.ok()) {
    if (group.status().isNotFound()) return Status::NotFound("no group named " + r.group);
    return logged("findGroup", group.status());
  }
  auto role = store_.memberRole(group->id, me.id);
  if (!role.ok()) {
    if (role.status().isNotFound()) return Status::Forbidden("you are not a member of " + r.group);
    return logged("memberRole", role.status());
  }
  PARLEY_TRY(messages, store_.groupHistory(group->id, r.before, r.limit));
  reply.messages = std::move(messages).value();
  return reply;
}

bool ChatService::ackAsync(const User& me, Seq up_to, ReplyDone done) {
  auto acked = [this, done](Result<Seq> result) {
    if (!result.ok()) return done(logged("ack", result.status()));
    done(Reply{});
  };
  auto work = [this, user = me.id, up_to, acked = std::move(acked)]() mutable {
    store_.ackAsync(user, up_to, std::move(acked));
  };
  return runAppend(/*on_pool=*/false, std::move(work), done);
}

Result<std::vector<Delivery>> ChatService::inboxAfter(const User& me, Seq after) {
  auto result = store_.inboxAfter(me.id, after, options_.replay_page);
  if (!result.ok()) return logged("inboxAfter", result.status());
  return result;
}

// --- groups ------------------------------------------------------------------

Result<Reply> ChatService::createGroup(const User& me, const std::string& name,
                                       const std::string& desc) {
  auto group = store_.createGroup(name, desc, me.id, nowMs());
  if (!group.ok()) {
    if (group.status().isConflict()) return Status::Conflict("group name " + name + " is taken");
    return logged("createGroup", group.status());
  }
  Reply reply;
  reply.group = group.value();
  return reply;
}

Result<Reply> ChatService::joinGroup(const User& me, const std::string& name) {
  auto group = store_.findGroup(name);
  if (!group.ok()) {
    if (group.status().isNotFound()) return Status::NotFound("no group named " + name);
    return logged("findGroup", group.status());
  }
  // The store counts the members in the transaction that adds one (a member
  // already gets the conflict, full or not).
  Status st = store_.addMember(group->id, me.id, nowMs(), options_.max_group_members);
  if (st.isConflict()) return Status::Conflict("already a member of " + group->name);
  if (st.isForbidden()) {
    return Status::Forbidden(group->name + " is full (" +
                             std::to_string(options_.max_group_members) + " members)");
  }
  if (!st.ok()) return logged("addMember", st);
  Reply reply;
  reply.group = group.value();
  return reply;
}

Result<Reply> ChatService::leaveGroup(const User& me, const std::string& name) {
  auto group = store_.findGroup(name);
  if (!group.ok()) {
    if (group.status().isNotFound()) return Status::NotFound("no group named " + name);
    return logged("findGroup", group.status());
  }
  Status st = store_.removeMember(group->id, me.id);
  if (st.isNotFound()) return Status::NotFound("you are not a member of " + group->name);
  if (!st.ok()) return logged("removeMember", st);
  return Reply{};
}

Result<Reply> ChatService::groups(const User& me) {
  PARLEY_TRY(groups, store_.listGroups(me.id));
  Reply reply;
  reply.groups = std::move(groups).value();
  return reply;
}

Result<Reply> ChatService::members(const User& me, const std::string& name) {
  auto group = store_.findGroup(name);
  if (!group.ok()) {
    if (group.status().isNotFound()) return Status::NotFound("no group named " + name);
    return logged("findGroup", group.status());
  }
  auto role = store_.memberRole(group->id, me.id);
  if (!role.ok()) {
    if (role.status().isNotFound()) return Status::Forbidden("you are not a member of " + name);
    return logged("memberRole", role.status());
  }
  PARLEY_TRY(members, store_.listMembers(group->id));
  std::vector<UserId> ids;
  for (const Member& m : members.value()) ids.push_back(m.user.id);
  auto online = bus_.online(ids);
  std::vector<MemberView> views;
  for (size_t i = 0; i < ids.size(); ++i) {
    const Member& m = members.value()[i];
    views.push_back(MemberView{m.user, m.role, online.ok() && online.value()[i]});
  }
  Reply reply;
  reply.members = std::move(views);
  return reply;
}

}  // namespace parley
