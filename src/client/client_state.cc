#include "client/client_state.h"

#include <ctime>

namespace parley::client {
namespace {

using nlohmann::json;

constexpr size_t kMaxSeenIds = 4096;

// A member of a server object, or an empty one: a malformed line from the
// server must not crash the client.
const json& field(const json& j, const char* key) {
  static const json kEmpty = json::object();
  auto it = j.find(key);
  return it == j.end() ? kEmpty : *it;
}
const json& list(const json& j, const char* key) {
  static const json kEmpty = json::array();
  auto it = j.find(key);
  return it == j.end() || !it->is_array() ? kEmpty : *it;
}

std::string onlineMark(const json& j) { return j.value("online", false) ? " (online)" : ""; }

}  // namespace

std::string formatTime(int64_t ts_ms) {
  std::time_t t = static_cast<std::time_t>(ts_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M", &tm);
  return buf;
}

std::string renderMessage(const json& m) {
  std::string out = "[" + formatTime(m.value("ts", int64_t{0})) + "] ";
  if (m.contains("group")) out += "#" + m.value("group", "") + " ";
  out += m.value("from", "?") + ": " + m.value("text", "");
  return out;
}

std::string ClientState::prepare(json request) {
  int64_t rid = next_rid_++;
  request["rid"] = rid;
  pending_[rid] = request.value("op", "");
  return request.dump();
}

std::vector<std::string> ClientState::onServerLine(const std::string& line) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return {"? unreadable line from server: " + line};
  if (j.contains("event")) return onEvent(j);
  return onResponse(j);
}

std::vector<std::string> ClientState::onResponse(const json& r) {
  std::string op;
  if (r.contains("rid") && r["rid"].is_number_integer()) {
    auto it = pending_.find(r["rid"].get<int64_t>());
    if (it != pending_.end()) {
      op = it->second;
      pending_.erase(it);
    }
  }
  if (!r.value("ok", false)) {
    const json& e = r.contains("error") ? r["error"] : json::object();
    return {"error (" + e.value("code", "?") + "): " + e.value("message", "")};
  }
  std::vector<std::string> out;
  if (op == "login" || op == "resume") {
    user_ = field(r, "user").value("name", "");
    token_ = r.value("token", "");
    out.push_back("logged in as " + user_);
    if (!list(r, "friends").empty()) {
      std::string text = "friends:";
      for (const auto& f : list(r, "friends")) text += " " + f.value("name", "") + onlineMark(f);
      out.push_back(text);
    }
    if (!list(r, "groups").empty()) {
      std::string text = "groups:";
      for (const auto& g : list(r, "groups")) text += " #" + g.value("name", "");
      out.push_back(text);
    }
  } else if (op == "register") {
    out.push_back("registered " + field(r, "user").value("name", ""));
  } else if (op == "logout") {
    user_.clear();
    token_.clear();
    out.push_back("logged out");
  } else if (op == "add_friend") {
    out.push_back(field(r, "friend").value("name", "") + " is now your friend" +
                  onlineMark(field(r, "friend")));
  } else if (op == "friends") {
    if (list(r, "friends").empty()) out.push_back("no friends yet (/add NAME)");
    for (const auto& f : list(r, "friends")) {
      out.push_back("  " + f.value("name", "") + (f.value("online", false) ? "  online" : ""));
    }
  } else if (op == "groups") {
    if (list(r, "groups").empty()) out.push_back("no groups yet (/create or /join)");
    for (const auto& g : list(r, "groups")) {
      std::string desc = g.value("desc", "");
      out.push_back("  #" + g.value("name", "") + (desc.empty() ? "" : "  " + desc));
    }
  } else if (op == "members") {
    for (const auto& m : list(r, "members")) {
      out.push_back("  " + m.value("name", "") + "  " + m.value("role", "") +
                    (m.value("online", false) ? "  online" : ""));
    }
  } else if (op == "create_group" || op == "join_group") {
    out.push_back((op == "create_group" ? "created #" : "joined #") +
                  field(r, "group").value("name", ""));
  } else if (op == "leave_group") {
    out.push_back("left the group");
  } else if (op == "history") {
    if (list(r, "messages").empty()) out.push_back("(no messages)");
    for (const auto& m : list(r, "messages")) out.push_back(renderMessage(m));
  }
  // send, group_send, ack, ping: success is silent, as in any chat client.
  return out;
}

bool ClientState::firstSighting(int64_t id) {
  if (!seen_ids_.insert(id).second) return false;
  seen_order_.push_back(id);
  if (seen_order_.size() > kMaxSeenIds) {
    seen_ids_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return true;
}

std::vector<std::string> ClientState::onEvent(const json& e) {
  const std::string kind = e.value("event", "");
  if (kind == "message" || kind == "group_message") {
    int64_t seq = e.value("seq", int64_t{0});
    if (seq > shown_seq_) shown_seq_ = seq;
    if (!firstSighting(e.value("id", int64_t{0}))) return {};
    return {renderMessage(e)};
  }
  if (kind == "presence") {
    return {"* " + e.value("user", "?") +
            (e.value("online", false) ? " is online" : " went offline")};
  }
  if (kind == "friend_added") {
    return {"* " + field(e, "friend").value("name", "?") + " added you as a friend"};
  }
  if (kind == "shutdown") return {"* the server is shutting down: " + e.value("reason", "")};
  return {"* " + e.dump()};  // an event this client does not know yet
}

std::optional<std::string> ClientState::takeAck() {
  if (shown_seq_ <= acked_seq_ || user_.empty()) return std::nullopt;
  acked_seq_ = shown_seq_;
  return prepare(json{{"op", "ack"}, {"up_to", acked_seq_}});
}

void ClientState::connectionLost() {
  user_.clear();
  pending_.clear();
  // What was shown but not acked will come again after resume; the seen-id
  // set keeps it from being shown twice.
  acked_seq_ = 0;
  shown_seq_ = 0;
}

std::optional<std::string> ClientState::resumeRequest() {
  if (token_.empty()) return std::nullopt;
  return prepare(json{{"op", "resume"}, {"token", token_}});
}

}  // namespace parley::client
