#include "client/command.h"

#include <sstream>

namespace parley::client {
namespace {

using nlohmann::json;

// Splits off the first `n` words; the rest of the line (spaces kept) is the
// last element, so "/msg bob hello  world" keeps the message text intact.
std::vector<std::string> splitWords(const std::string& line, size_t n) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (out.size() < n) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    if (pos >= line.size()) return out;
    size_t end = line.find(' ', pos);
    if (end == std::string::npos) end = line.size();
    out.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  while (pos < line.size() && line[pos] == ' ') ++pos;
  if (pos < line.size()) out.push_back(line.substr(pos));
  return out;
}

Command request(json r) {
  Command c;
  c.action = Action::kRequest;
  c.request = std::move(r);
  return c;
}

Command error(std::string message) {
  Command c;
  c.action = Action::kError;
  c.error = std::move(message);
  return c;
}

Command sendTo(const ChatTarget& target, const std::string& text) {
  if (target.group) return request({{"op", "group_send"}, {"group", target.name}, {"text", text}});
  return request({{"op", "send"}, {"to", target.name}, {"text", text}});
}

// "#devs" names a group, "bob" a user.
ChatTarget targetOf(const std::string& word) {
  if (!word.empty() && word[0] == '#') return ChatTarget{word.substr(1), true};
  return ChatTarget{word, false};
}

}  // namespace

Command parseCommand(const std::string& raw, const std::optional<ChatTarget>& current) {
  std::string line = raw;
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  if (line.empty()) return Command{};
  if (line[0] != '/') {
    if (!current) return error("no conversation selected: use /msg NAME TEXT or /chat NAME first");
    return sendTo(*current, line);
  }
  auto words = splitWords(line, 1);
  const std::string cmd = words[0];
  std::string rest = words.size() > 1 ? words[1] : "";
  auto args = [&](size_t n) { return splitWords(rest, n); };

  if (cmd == "/help" || cmd == "/?") {
    Command c;
    c.action = Action::kHelp;
    return c;
  }
  if (cmd == "/quit" || cmd == "/exit") {
    Command c;
    c.action = Action::kQuit;
    return c;
  }
  if (cmd == "/register" || cmd == "/login") {
    auto a = args(1);
    if (a.size() != 1) return error("usage: " + cmd + " NAME");
    Command c;
    c.action = cmd == "/register" ? Action::kRegister : Action::kLogin;
    c.name = a[0];
    return c;
  }
  if (cmd == "/logout") return request({{"op", "logout"}});
  if (cmd == "/friends") return request({{"op", "friends"}});
  if (cmd == "/groups") return request({{"op", "groups"}});
  if (cmd == "/ping") return request({{"op", "ping"}});
  if (cmd == "/add") {
    auto a = args(1);
    if (a.size() != 1) return error("usage: /add NAME");
    return request({{"op", "add_friend"}, {"user", a[0]}});
  }
  if (cmd == "/msg") {
    auto a = args(1);
    if (a.size() != 2) return error("usage: /msg NAME TEXT");
    return sendTo(ChatTarget{a[0], false}, a[1]);
  }
  if (cmd == "/g") {
    auto a = args(1);
    if (a.size() != 2) return error("usage: /g GROUP TEXT");
    std::string group = a[0][0] == '#' ? a[0].substr(1) : a[0];
    return sendTo(ChatTarget{group, true}, a[1]);
  }
  if (cmd == "/create") {
    auto a = args(1);
    if (a.empty()) return error("usage: /create GROUP [description]");
    json r{{"op", "create_group"}, {"name", a[0]}};
    if (a.size() == 2) r["desc"] = a[1];
    return request(r);
  }
  if (cmd == "/join" || cmd == "/leave" || cmd == "/members") {
    auto a = args(1);
    if (a.size() != 1) return error("usage: " + cmd + " GROUP");
    std::string group = a[0][0] == '#' ? a[0].substr(1) : a[0];
    const char* op = cmd == "/join" ? "join_group" : cmd == "/leave" ? "leave_group" : "members";
    return request({{"op", op}, {"group", group}});
  }
  if (cmd == "/history" || cmd == "/ghistory") {
    auto a = splitWords(rest, 2);
    if (a.empty() || a.size() > 2) return error("usage: " + cmd + " NAME|#GROUP [COUNT]");
    ChatTarget t = targetOf(a[0]);
    if (cmd == "/ghistory") t.group = true;
    json r{{"op", "history"}, {t.group ? "group" : "with", t.name}};
    if (a.size() == 2) {
      try {
        size_t used = 0;
        int n = std::stoi(a[1], &used);
        if (used != a[1].size() || n < 1 || n > 200) throw std::invalid_argument("range");
        r["limit"] = n;
      } catch (const std::exception&) {
        return error("COUNT must be a number from 1 to 200");
      }
    }
    return request(r);
  }
  if (cmd == "/chat") {
    auto a = args(1);
    if (a.size() != 1) return error("usage: /chat NAME or /chat #GROUP");
    Command c;
    c.action = Action::kSetChat;
    c.chat = targetOf(a[0]);
    return c;
  }
  return error("unknown command " + cmd + " (try /help)");
}

std::string helpText() {
  return "commands:\n"
         "  /register NAME        create an account (asks for a password) and log in\n"
         "  /login NAME           log in (asks for a password)\n"
         "  /logout               log out, stay connected\n"
         "  /add NAME             add a friend (mutual)\n"
         "  /friends              list friends with online state\n"
         "  /msg NAME TEXT        send TEXT to friend NAME\n"
         "  /create GROUP [DESC]  create a group\n"
         "  /join GROUP           join a group\n"
         "  /leave GROUP          leave a group\n"
         "  /groups               list your groups\n"
         "  /members GROUP        list a group's members\n"
         "  /g GROUP TEXT         send TEXT to a group\n"
         "  /history NAME [N]     last N messages with NAME (/history #GROUP [N] for a group)\n"
         "  /chat NAME | #GROUP   plain lines now go there\n"
         "  /help                 this text\n"
         "  /quit                 leave\n";
}

}  // namespace parley::client
