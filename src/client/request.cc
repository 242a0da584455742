#include "client/request.h"

namespace parley::client {

using nlohmann::json;

std::optional<json> requestBody(const Command& c) {
  switch (c.kind) {
    case CommandKind::kRegister:
      return json{{"op", "register"}, {"name", c.target}, {"password", c.password}};
    case CommandKind::kLogin:
      return json{{"op", "login"}, {"name", c.target}, {"password", c.password}};
    case CommandKind::kLogout:
      return json{{"op", "logout"}};
    case CommandKind::kAddFriend:
      return json{{"op", "add_friend"}, {"user", c.target}};
    case CommandKind::kFriends:
      return json{{"op", "friends"}};
    case CommandKind::kSend:
      return json{{"op", "send"}, {"to", c.target}, {"text", c.text}};
    case CommandKind::kGroupSend:
      return json{{"op", "group_send"}, {"group", c.target}, {"text", c.text}};
    case CommandKind::kCreateGroup: {
      json r{{"op", "create_group"}, {"name", c.target}};
      if (!c.text.empty()) r["desc"] = c.text;
      return r;
    }
    case CommandKind::kJoinGroup:
      return json{{"op", "join_group"}, {"group", c.target}};
    case CommandKind::kLeaveGroup:
      return json{{"op", "leave_group"}, {"group", c.target}};
    case CommandKind::kGroups:
      return json{{"op", "groups"}};
    case CommandKind::kMembers:
      return json{{"op", "members"}, {"group", c.target}};
    case CommandKind::kHistory: {
      json r{{"op", "history"}, {c.group ? "group" : "with", c.target}};
      if (c.limit) r["limit"] = *c.limit;
      return r;
    }
    case CommandKind::kPing:
      return json{{"op", "ping"}};
    case CommandKind::kNone:
    case CommandKind::kChat:
    case CommandKind::kHelp:
    case CommandKind::kQuit:
      return std::nullopt;
  }
  return std::nullopt;
}

json ackBody(int64_t up_to) { return json{{"op", "ack"}, {"up_to", up_to}}; }

json resumeBody(const std::string& token) { return json{{"op", "resume"}, {"token", token}}; }

RequestBuilder::Stamped RequestBuilder::stamp(json body) {
  Stamped s;
  s.rid = next_rid_++;
  body["rid"] = s.rid;
  // Invalid UTF-8 typed by the user must not throw out of the loop: replace
  // it (U+FFFD) and let the server judge the rest.
  s.line = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return s;
}

}  // namespace parley::client
