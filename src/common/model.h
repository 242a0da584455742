// Domain values shared by the store, the service and the protocol. Plain data,
// no behaviour: each layer decides what to do with them.
#pragma once

#include <cstdint>
#include <string>

namespace parley {

using UserId = int64_t;
using GroupId = int64_t;
using MessageId = int64_t;
using Seq = int64_t;  // a recipient's own inbox counter (PROTOCOL.md "seq")

// Milliseconds since the Unix epoch, set by the server.
using TimestampMs = int64_t;

struct User {
  UserId id = 0;
  std::string name;
};

// What the store keeps to authenticate a user; never leaves the service.
struct UserCredentials {
  User user;
  std::string password_hash;  // argon2id string (libsodium crypto_pwhash_str)
};

struct Group {
  GroupId id = 0;
  std::string name;
  std::string desc;
};

struct Member {
  User user;
  std::string role;  // "owner" or "member"
};

// A stored message, as the history and replay read it. For a direct message
// `to` names the recipient and `group` is empty; for a group message `group`
// names the group and `to` is empty.
struct Message {
  MessageId id = 0;
  std::string from;
  std::string to;
  std::string group;
  std::string text;
  TimestampMs ts = 0;
  bool isGroup() const { return !group.empty(); }
};

// A message as it sits in one recipient's inbox.
struct Delivery {
  Seq seq = 0;
  Message message;
};

// Where a freshly stored message went: one (user, seq) per recipient, and
// the seq that recipient was given just before this one (0 for its first),
// so a session can tell an in-order live event from one that follows a gap.
// Seqs strictly increase per recipient but need not be consecutive.
struct InboxSlot {
  UserId user = 0;
  Seq seq = 0;
  Seq prev = 0;
};

}  // namespace parley
