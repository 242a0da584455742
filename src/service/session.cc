#include "service/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace parley {

using protocol::Op;
using protocol::Reply;
using protocol::Request;

Session::Session(ChatService& service, SessionSinkPtr sink)
    : service_(service),
      sink_(std::move(sink)),
      message_bucket_(service.options().connection_message_rate,
                      service.options().connection_message_burst) {}

void Session::runBlocking(Blocking work, Done done) {
  auto self = shared_from_this();
  bool queued = service_.pool().trySubmit([self, work = std::move(work), done]() mutable {
    auto result = std::make_shared<Result<Reply>>(work());
    self->sink_->post([done = std::move(done), result] { done(std::move(*result)); });
  });
  if (!queued) done(Status::Unavailable("server is overloaded, retry later"));
}

ChatService::ReplyDone Session::backOnLoop(Done done) {
  // The service answers on a store or pool thread (or at once, for a
  // refusal); the session's state is touched on its loop only.
  return [self = shared_from_this(), done = std::move(done)](Result<Reply> result) mutable {
    auto shared = std::make_shared<Result<Reply>>(std::move(result));
    self->sink_->post([done = std::move(done), shared] { done(std::move(*shared)); });
  };
}

bool Session::handle(const Request& r, Done done) {
  // Operations allowed before login.
  switch (r.op) {
    case Op::kPing:
      done(Reply{});
      return true;
    case Op::kRegister: {
      auto name = r.name, password = r.password;
      runBlocking([this, name, password] { return service_.registerUser(name, password); },
                  std::move(done));
      return false;
    }
    case Op::kLogin:
    case Op::kResume: {
      if (user_) {
        done(Status::Conflict("already logged in as " + user_->name + "; logout first"));
        return true;
      }
      ChatService* service = &service_;
      if (r.op == Op::kLogin) {
        auto name = r.name, password = r.password;
        auto address = sink_->peerAddress();
        startLogin(
            [service, name, password, address] { return service->login(name, password, address); },
            std::move(done));
      } else {
        auto token = r.token;
        startLogin([service, token] { return service->resume(token); }, std::move(done));
      }
      return false;
    }
    default:
      break;
  }
  if (!user_) {
    done(Status::Unauthorized("log in first"));
    return true;
  }
  // From here on the acting user is this session's, whatever the request says.
  const User me = *user_;
  if ((r.op == Op::kSend || r.op == Op::kGroupSend) && !message_bucket_.tryTake()) {
    done(Status::RateLimited("too many messages on this connection; slow down"));
    return true;
  }
  ChatService* service = &service_;
  switch (r.op) {
    case Op::kLogout: {
      std::string token_hash = unpackTokenHash(token_hash_);
      endLogin();
      runBlocking(
          [service, token_hash]() -> Result<Reply> {
            Status st = service->logout(token_hash);
            if (!st.ok()) return st;
            return Reply{};
          },
          std::move(done));
      return false;
    }
    case Op::kAddFriend:
      runBlocking([service, me, u = r.user] { return service->addFriend(me, u); }, std::move(done));
      return false;
    case Op::kFriends:
      runBlocking([service, me] { return service->friends(me); }, std::move(done));
      return false;
    case Op::kSend:
      return service->sendAsync(me, r.to, r.text, backOnLoop(std::move(done)));
    case Op::kCreateGroup:
      runBlocking([service, me, g = r.group, d = r.desc] { return service->createGroup(me, g, d); },
                  std::move(done));
      return false;
    case Op::kJoinGroup:
      runBlocking([service, me, g = r.group] { return service->joinGroup(me, g); },
                  std::move(done));
      return false;
    case Op::kLeaveGroup:
      runBlocking([service, me, g = r.group] { return service->leaveGroup(me, g); },
                  std::move(done));
      return false;
    case Op::kGroups:
      runBlocking([service, me] { return service->groups(me); }, std::move(done));
      return false;
    case Op::kMembers:
      runBlocking([service, me, g = r.group] { return service->members(me, g); }, std::move(done));
      return false;
    case Op::kGroupSend:
      return service->groupSendAsync(me, r.group, r.text, backOnLoop(std::move(done)));
    case Op::kHistory:
      runBlocking([service, me, r] { return service->history(me, r); }, std::move(done));
      return false;
    case Op::kAck:
      return service->ackAsync(me, r.up_to, backOnLoop(std::move(done)));
    default:
      done(Status::Internal("unhandled op"));
      return true;
  }
}

void Session::startLogin(std::function<Result<LoginResult>()> work, Done done) {
  auto self = shared_from_this();
  bool queued = service_.pool().trySubmit([self, work = std::move(work), done]() mutable {
    auto result = std::make_shared<Result<LoginResult>>(work());
    bool posted = self->sink_->post([self, done = std::move(done), result]() mutable {
      if (!result->ok()) {
        done(result->status());
        return;
      }
      LoginResult& login = result->value();
      if (self->closed_) {
        // The client left while its login ran: undo the presence the login
        // registered, or the user would stay "online" for good.
        User gone = login.user;
        ChatService* service = &self->service_;
        service->pool().submit([service, gone] { service->sessionEnded(gone); });
        return;
      }
      if (self->user_) {
        // Two logins raced on one connection; the first one won. Give this
        // one's session back so its presence count stays balanced.
        User extra = login.user;
        ChatService* service = &self->service_;
        service->pool().submit([service, extra] { service->sessionEnded(extra); });
        done(Status::Conflict("already logged in as " + self->user_->name + "; logout first"));
        return;
      }
      self->user_ = login.user;
      self->token_hash_ = packTokenHash(login.token_hash);
      self->epoch_++;
      self->delivered_ = login.ack_point;
      self->parked_.clear();
      self->read_again_ = false;
      self->fetching_ = false;
      // Register before the replay starts: a message committed from now on
      // either reaches us live or is found by the replay, and the seq
      // ordering below drops whichever copy comes second.
      self->service_.registry().add(login.user.id, self);
      done(std::move(login.reply));
      // PROTOCOL.md: missed messages follow the login response.
      self->fetchInbox();
    });
    if (!posted && result->ok()) {
      // The connection is gone already, so the code above never runs: undo
      // the login's presence here (on the pool, where blocking is fine).
      self->service_.sessionEnded(result->value().user);
    }
  });
  if (!queued) done(Status::Unavailable("server is overloaded, retry later"));
}

void Session::endLogin() {
  if (!user_) return;
  User me = *user_;
  service_.registry().remove(me.id, this);
  user_.reset();
  token_hash_.fill(0);
  epoch_++;
  parked_.clear();
  read_again_ = false;
  fetching_ = false;
  ChatService* service = &service_;
  // Must run even when the pool is busy, or the user would stay "online".
  service_.pool().submit([service, me] { service->sessionEnded(me); });
}

void Session::closed() {
  closed_ = true;
  endLogin();
}

void Session::catchUp() {
  sink_->post([self = shared_from_this()] {
    if (!self->user_) return;
    if (self->fetching_) {
      self->read_again_ = true;  // the read in flight may predate what was missed
    } else {
      self->fetchInbox();
    }
  });
}

// --- delivery order --------------------------------------------------------

void Session::onEnvelope(const Envelope& envelope) {
  if (!user_ || envelope.to != user_->id) return;
  if (envelope.seq == 0) {  // presence, friend_added: no ordering to keep
    sink_->send(*envelope.line);
    return;
  }
  if (envelope.seq <= delivered_) return;  // already sent (replay got it first)
  // In order when it follows the last seq sent. Seqs need not be
  // consecutive (the embedded store uses message ids), so the envelope
  // names its predecessor.
  if (envelope.prev == delivered_ && !fetching_) {
    countDelivery(/*replay=*/false);
    sink_->send(*envelope.line);
    delivered_ = envelope.seq;
    flushParked();
    return;
  }
  // A gap: an earlier message is still on its way (or was dropped by the
  // bus). Hold this one and read the gap from the store, the source of truth.
  if (parked_.size() < kMaxParked) {
    parked_.emplace(envelope.seq, Parked{envelope.prev, envelope.line});
  } else {
    read_again_ = true;  // the store has it: read again after this replay
  }
  if (!fetching_) fetchInbox();
}

void Session::countDelivery(bool replay) {
  if (Metrics* m = service_.metrics()) {
    (replay ? m->messages_out_replay : m->messages_out_live)
        .fetch_add(1, std::memory_order_relaxed);
  }
}

void Session::flushParked() {
  while (!parked_.empty()) {
    auto it = parked_.begin();
    if (it->first <= delivered_) {
      parked_.erase(it);
    } else if (it->second.prev == delivered_) {
      countDelivery(/*replay=*/false);
      sink_->send(*it->second.line);
      delivered_ = it->first;
      parked_.erase(it);
    } else {
      return;
    }
  }
}

void Session::fetchInbox(int failures) {
  if (!user_) return;
  fetching_ = true;
  auto self = shared_from_this();
  User me = *user_;
  Seq after = delivered_;
  uint64_t epoch = epoch_;
  ChatService* service = &service_;
  service_.pool().submit([self, service, me, after, epoch, failures] {
    auto page = std::make_shared<Result<std::vector<Delivery>>>(service->inboxAfter(me, after));
    self->sink_->post(
        [self, epoch, failures, page] { self->onInboxPage(epoch, failures, std::move(*page)); });
  });
}

void Session::onInboxPage(uint64_t epoch, int failures, Result<std::vector<Delivery>> page) {
  if (epoch != epoch_ || !user_) return;  // logged out meanwhile
  if (!page.ok()) {
    // The store is unavailable. Nothing is lost (it stays in the inbox),
    // but the client must not wait for some later event to get it: read
    // again after a pause, doubling from 250 ms to 8 s while it fails.
    // Still fetching meanwhile, so live events park (bounded) rather than
    // overtake the messages this read owes.
    auto delay = std::chrono::milliseconds(250 << std::min(failures, 5));
    spdlog::warn("replay for {} failed: {}; retrying in {} ms", user_->name,
                 page.status().toString(), delay.count());
    auto self = shared_from_this();
    sink_->postAfter(delay, [self, epoch, failures] {
      if (epoch == self->epoch_) self->fetchInbox(failures + 1);
    });
    return;
  }
  for (const Delivery& d : page.value()) {
    if (d.seq <= delivered_) continue;
    countDelivery(/*replay=*/true);
    sink_->send(protocol::messageEvent(d.message, d.seq));
    delivered_ = d.seq;
  }
  bool more = static_cast<int>(page.value().size()) >= service_.options().replay_page;
  if (more) {
    // Read the next page once the client has taken most of this one, so a
    // long backlog never fills the write queue.
    auto self = shared_from_this();
    if (sink_->queuedBytes() > service_.options().replay_high_water_bytes) {
      sink_->whenDrained([self, epoch] {
        if (epoch == self->epoch_) self->fetchInbox();
      });
    } else {
      fetchInbox();
    }
    return;
  }
  fetching_ = false;
  flushParked();
  if (!parked_.empty() || read_again_) {
    // A gap remains, or the store may hold more than this replay read
    // (read_again_).
    read_again_ = false;
    fetchInbox();
  }
}

}  // namespace parley
