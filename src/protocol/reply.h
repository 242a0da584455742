// Responses and pushed events of PROTOCOL.md, built by the service as plain
// structs and serialized here into one JSON line (no trailing newline).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/model.h"
#include "common/status.h"

namespace parley::protocol {

struct FriendView {
  User user;
  bool online = false;
};

struct MemberView {
  User user;
  std::string role;
  bool online = false;
};

struct MessageRef {
  MessageId id = 0;
  TimestampMs ts = 0;
};

// A success response: each field present is written, in this order.
struct Reply {
  std::optional<User> user;
  std::optional<std::string> token;
  std::optional<std::vector<FriendView>> friends;
  std::optional<std::vector<Group>> groups;
  std::optional<FriendView> friend_;  // "friend" on the wire
  std::optional<Group> group;
  std::optional<std::vector<MemberView>> members;
  std::optional<MessageRef> message;
  std::optional<std::vector<Message>> messages;
};

// {"rid":R,"ok":true,...} — rid omitted when null.
std::string serializeOk(const nlohmann::json& rid, const Reply& reply);
// {"rid":R,"ok":false,"error":{"code":"...","message":"..."}}
std::string serializeError(const nlohmann::json& rid, const Status& error);

// Events (objects with an "event" key).
std::string messageEvent(const Message& m, Seq seq);  // "message" or "group_message"

// The same event serialized once and given each recipient's seq by splicing
// (a group message goes to hundreds of members with the same bytes but the
// seq). withSeq(s) == messageEvent(m, s).
class MessageEventTemplate {
 public:
  explicit MessageEventTemplate(const Message& m);
  std::string withSeq(Seq seq) const;

 private:
  std::string head_;  // {"event":...,"id":N,"seq":
  std::string tail_;  // ,"from":...}
};
std::string friendAddedEvent(const FriendView& f);
std::string presenceEvent(const std::string& user, bool online);
// Sent to every connection when the server is going down (graceful shutdown).
std::string shutdownEvent(const std::string& reason);

}  // namespace parley::protocol
