#include "client/render.h"

#include <cstdio>
#include <ctime>

namespace parley::client {
namespace {

using nlohmann::json;

// Fields of server objects, read defensively: a server that sends something
// unexpected must get a "?" on screen, not crash the client.
std::string str(const json& j, const char* key, const std::string& fallback = "?") {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  return it->dump(-1, ' ', false, json::error_handler_t::replace);
}
int64_t num(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}
bool flag(const json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
const json& obj(const json& j, const char* key) {
  static const json kEmpty = json::object();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}
const json& arr(const json& j, const char* key) {
  static const json kEmpty = json::array();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

std::tm localTm(int64_t ms) {
  // Floor division, so times before 1970 do not round towards the epoch.
  std::time_t t = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

std::string groupLabel(const json& g) {
  std::string desc = str(g, "desc", "");
  return "#" + str(g, "name") + (desc.empty() ? "" : ": " + desc);
}

Lines friendsSummary(const json& r) {
  Lines out;
  std::string f = "friends: ";
  if (arr(r, "friends").empty()) f += "none yet (/add NAME)";
  bool first = true;
  for (const auto& x : arr(r, "friends")) {
    f += (first ? "" : ", ") + renderFriend(x);
    first = false;
  }
  out.push_back(f);
  std::string g = "groups: ";
  if (arr(r, "groups").empty()) g += "none yet (/create GROUP or /join GROUP)";
  first = true;
  for (const auto& x : arr(r, "groups")) {
    g += (first ? "#" : ", #") + str(x, "name");
    first = false;
  }
  out.push_back(g);
  return out;
}

}  // namespace

std::string formatTime(int64_t ts_ms, int64_t now_ms) {
  std::tm tm = localTm(ts_ms);
  std::tm now = localTm(now_ms);
  const bool today = tm.tm_year == now.tm_year && tm.tm_yday == now.tm_yday;
  char buf[32];
  std::strftime(buf, sizeof buf, today ? "%H:%M" : "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string renderMessage(const json& m, const std::string& me, int64_t now_ms) {
  std::string out = "[" + formatTime(num(m, "ts"), now_ms) + "] ";
  const std::string from = str(m, "from");
  if (m.is_object() && m.contains("group")) {
    out += "#" + str(m, "group") + " " + from;
  } else if (!me.empty() && from == me && m.is_object() && m.contains("to")) {
    out += from + " -> " + str(m, "to");
  } else {
    out += from;
  }
  return out + ": " + str(m, "text", "");
}

std::string renderFriend(const json& f) {
  return str(f, "name") + (flag(f, "online") ? " (online)" : " (offline)");
}

Lines renderEvent(const json& e, const std::string& me, int64_t now_ms) {
  const std::string kind = str(e, "event", "");
  if (kind == "message" || kind == "group_message") return {renderMessage(e, me, now_ms)};
  if (kind == "presence") {
    return {"* " + str(e, "user") + (flag(e, "online") ? " is online" : " is offline")};
  }
  if (kind == "friend_added") {
    return {"* " + str(obj(e, "friend"), "name") + " added you as a friend"};
  }
  if (kind == "shutdown") {
    return {"* the server is going down (" + str(e, "reason", "no reason given") +
            "); reconnecting"};
  }
  return {"* unknown event \"" + kind +
          "\": " + e.dump(-1, ' ', false, json::error_handler_t::replace)};
}

Lines renderResponse(const Command& cmd, const json& r, const std::string& me, int64_t now_ms) {
  switch (cmd.kind) {
    case CommandKind::kRegister:
      return {"registered " + str(obj(r, "user"), "name", cmd.target)};
    case CommandKind::kLogin: {
      Lines out{"logged in as " + str(obj(r, "user"), "name", cmd.target)};
      for (auto& l : friendsSummary(r)) out.push_back(std::move(l));
      return out;
    }
    case CommandKind::kLogout:
      return {"logged out"};
    case CommandKind::kAddFriend:
      return {str(obj(r, "friend"), "name", cmd.target) + " is now your friend" +
              (flag(obj(r, "friend"), "online") ? " (online)" : "")};
    case CommandKind::kFriends: {
      if (arr(r, "friends").empty()) return {"no friends yet (/add NAME)"};
      Lines out{"friends:"};
      for (const auto& f : arr(r, "friends")) out.push_back("  " + renderFriend(f));
      return out;
    }
    case CommandKind::kSend:
    case CommandKind::kGroupSend: {
      // Our own message, shown once the server has stored it (the reply comes
      // only after it is durable), with the server's timestamp.
      json m{{"from", me}, {"text", cmd.text}, {"ts", num(obj(r, "message"), "ts")}};
      if (cmd.kind == CommandKind::kGroupSend) {
        m["group"] = cmd.target;
      } else {
        m["to"] = cmd.target;
      }
      return {renderMessage(m, me, now_ms)};
    }
    case CommandKind::kCreateGroup:
      return {"created " + groupLabel(obj(r, "group"))};
    case CommandKind::kJoinGroup:
      return {"joined " + groupLabel(obj(r, "group"))};
    case CommandKind::kLeaveGroup:
      return {"left #" + cmd.target};
    case CommandKind::kGroups: {
      if (arr(r, "groups").empty()) return {"no groups yet (/create GROUP or /join GROUP)"};
      Lines out{"groups:"};
      for (const auto& g : arr(r, "groups")) out.push_back("  " + groupLabel(g));
      return out;
    }
    case CommandKind::kMembers: {
      Lines out{"members of #" + cmd.target + ":"};
      for (const auto& m : arr(r, "members")) {
        out.push_back("  " + str(m, "name") + "  " + str(m, "role", "member") +
                      (flag(m, "online") ? " (online)" : ""));
      }
      return out;
    }
    case CommandKind::kHistory: {
      const std::string with = cmd.group ? "#" + cmd.target : cmd.target;
      if (arr(r, "messages").empty()) return {"no messages with " + with + " yet"};
      Lines out{"history with " + with + ":"};
      for (const auto& m : arr(r, "messages")) out.push_back("  " + renderMessage(m, me, now_ms));
      return out;
    }
    case CommandKind::kPing:
      return {"pong"};
    case CommandKind::kNone:
    case CommandKind::kChat:
    case CommandKind::kHelp:
    case CommandKind::kQuit:
      return {};
  }
  return {};
}

Lines renderResumed(const json& r) {
  Lines out{"* reconnected, logged in again as " + str(obj(r, "user"), "name")};
  return out;
}

std::string sanitizeForTerminal(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f && c != 0xc2)) {
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += '^';
      out += static_cast<char>(c + 0x40);
    } else if (c == 0x7f) {
      out += "^?";
    } else {
      // 0xc2 leads U+0080..U+00BF; U+0080..U+009F are the C1 controls.
      const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
      if (next >= 0x80 && next <= 0x9f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(next));
        out += buf;
        ++i;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  return out;
}

std::string renderError(const json& r) {
  const json& e = obj(r, "error");
  return "error (" + str(e, "code") + "): " + str(e, "message", "");
}

}  // namespace parley::client
