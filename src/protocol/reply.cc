#include "protocol/reply.h"

#include <algorithm>
#include <charconv>

namespace parley::protocol {
namespace {

// ordered_json keeps keys in insertion order, so every line starts with rid
// and ok, which makes traces readable with nc.
using Json = nlohmann::ordered_json;

Json userJson(const User& u) { return Json{{"id", u.id}, {"name", u.name}}; }

Json friendJson(const FriendView& f) {
  return Json{{"id", f.user.id}, {"name", f.user.name}, {"online", f.online}};
}

Json groupJson(const Group& g) { return Json{{"id", g.id}, {"name", g.name}, {"desc", g.desc}}; }

Json messageJson(const Message& m) {
  Json j{{"id", m.id}};
  if (m.isGroup()) {
    j["group"] = m.group;
    j["from"] = m.from;
  } else {
    j["from"] = m.from;
    j["to"] = m.to;
  }
  j["text"] = m.text;
  j["ts"] = m.ts;
  return j;
}

Json start(const nlohmann::json& rid, bool ok) {
  Json j = Json::object();
  if (!rid.is_null()) j["rid"] = Json::parse(rid.dump());
  j["ok"] = ok;
  return j;
}

// Text from clients was validated as UTF-8 on the way in; "replace" keeps a
// serializer from throwing on a loop thread should that ever not hold.
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Appends one string as a JSON string literal, quoted and escaped. Most
// strings (every name, most texts) are printable ASCII without a quote or a
// backslash: those need no escaping and are copied as they are; any other
// goes through the library's serializer, whose set-up alone costs more than
// the copy.
void appendString(std::string& out, const std::string& s) {
  bool plain = std::all_of(s.begin(), s.end(),
                           [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  if (!plain) {
    out += dump(Json(s));
    return;
  }
  out.push_back('"');
  out.append(s);
  out.push_back('"');
}

void appendInt(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  (void)ec;
  out.append(digits, end);
}

// The hot lines below are written into one buffer reserved up front, with a
// byte to spare: the connection appends the line's '\n' in place, so a line
// costs one allocation rather than one per growth step (string concatenation
// was a fifth of a 1:1 message's allocations).
constexpr size_t kNewline = 1;

}  // namespace

std::string serializeOk(const nlohmann::json& rid, const Reply& r) {
  if (r.message && !r.user && !r.token && !r.friends && !r.groups && !r.friend_ && !r.group &&
      !r.members && !r.messages) {
    // The send / group_send answer, the hot one: no tree.
    std::string rid_text;
    if (!rid.is_null())
      rid_text = rid.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string line;
    // 96: the rest, 43 bytes, with two numbers of up to 20 digits.
    line.reserve(rid_text.size() + 96 + kNewline);
    line.push_back('{');
    if (!rid_text.empty()) line.append(R"("rid":)").append(rid_text).push_back(',');
    line.append(R"("ok":true,"message":{"id":)");
    appendInt(line, r.message->id);
    line.append(R"(,"ts":)");
    appendInt(line, r.message->ts);
    line.append("}}");
    return line;
  }
  Json j = start(rid, true);
  if (r.user) j["user"] = userJson(*r.user);
  if (r.token) j["token"] = *r.token;
  if (r.friends) {
    Json arr = Json::array();
    for (const auto& f : *r.friends) arr.push_back(friendJson(f));
    j["friends"] = std::move(arr);
  }
  if (r.groups) {
    Json arr = Json::array();
    for (const auto& g : *r.groups) arr.push_back(groupJson(g));
    j["groups"] = std::move(arr);
  }
  if (r.friend_) j["friend"] = friendJson(*r.friend_);
  if (r.group) j["group"] = groupJson(*r.group);
  if (r.members) {
    Json arr = Json::array();
    for (const auto& m : *r.members) {
      arr.push_back(
          Json{{"id", m.user.id}, {"name", m.user.name}, {"role", m.role}, {"online", m.online}});
    }
    j["members"] = std::move(arr);
  }
  if (r.message) j["message"] = Json{{"id", r.message->id}, {"ts", r.message->ts}};
  if (r.messages) {
    Json arr = Json::array();
    for (const auto& m : *r.messages) arr.push_back(messageJson(m));
    j["messages"] = std::move(arr);
  }
  return dump(j);
}

std::string serializeError(const nlohmann::json& rid, const Status& error) {
  Json j = start(rid, false);
  j["error"] = Json{{"code", codeName(error.code())}, {"message", error.message()}};
  return dump(j);
}

std::string messageEvent(const Message& m, Seq seq) { return MessageEventTemplate(m).withSeq(seq); }

MessageEventTemplate::MessageEventTemplate(const Message& m) {
  // Written field by field rather than through a JSON tree (building and
  // dumping the tree was a tenth of a 1:1 message's instructions); the
  // strings still go through the library's serializer when they need
  // escaping. Same bytes as messageJson() would give, in the same key order.
  head_.reserve(64);
  head_.append(m.isGroup() ? R"({"event":"group_message","id":)" : R"({"event":"message","id":)");
  appendInt(head_, m.id);
  head_.append(R"(,"seq":)");
  const std::string& second = m.isGroup() ? m.from : m.to;
  tail_.reserve(m.text.size() + m.from.size() + second.size() + m.group.size() + 64);
  if (m.isGroup()) {
    tail_.append(R"(,"group":)");
    appendString(tail_, m.group);
    tail_.append(R"(,"from":)");
    appendString(tail_, m.from);
  } else {
    tail_.append(R"(,"from":)");
    appendString(tail_, m.from);
    tail_.append(R"(,"to":)");
    appendString(tail_, m.to);
  }
  tail_.append(R"(,"text":)");
  appendString(tail_, m.text);
  tail_.append(R"(,"ts":)");
  appendInt(tail_, m.ts);
  tail_.push_back('}');
}

std::string MessageEventTemplate::withSeq(Seq seq) const {
  std::string line;
  line.reserve(head_.size() + 20 + tail_.size() + kNewline);
  line.append(head_);
  appendInt(line, seq);
  line.append(tail_);
  return line;
}

std::string friendAddedEvent(const FriendView& f) {
  return dump(Json{{"event", "friend_added"}, {"friend", friendJson(f)}});
}

std::string presenceEvent(const std::string& user, bool online) {
  return dump(Json{{"event", "presence"}, {"user", user}, {"online", online}});
}

std::string shutdownEvent(const std::string& reason) {
  return dump(Json{{"event", "shutdown"}, {"reason", reason}});
}

}  // namespace parley::protocol
