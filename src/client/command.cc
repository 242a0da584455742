#include "client/command.h"

#include <charconv>
#include <vector>

namespace parley::client {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t'; }

// Splits off up to `n` words; whatever follows (inner spaces kept) becomes one
// more element, so "/msg bob hello  world" keeps the message text intact.
std::vector<std::string> splitWords(const std::string& line, size_t n) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    while (pos < line.size() && isSpace(line[pos])) ++pos;
    if (pos >= line.size()) return out;
    if (out.size() == n) {
      out.push_back(line.substr(pos));
      return out;
    }
    size_t end = pos;
    while (end < line.size() && !isSpace(line[end])) ++end;
    out.push_back(line.substr(pos, end - pos));
    pos = end;
  }
}

Status usage(const std::string& text) { return Status::BadRequest("usage: " + text); }

Command make(CommandKind kind, std::string target = "", std::string text = "") {
  Command c;
  c.kind = kind;
  c.target = std::move(target);
  c.text = std::move(text);
  return c;
}

// "#devs" -> {"devs", group}; "bob" -> {"bob", user}.
ChatTarget targetOf(const std::string& word) {
  if (word.size() > 1 && word[0] == '#') return ChatTarget{word.substr(1), true};
  return ChatTarget{word, false};
}

// Group arguments may be written with or without the '#'.
std::string groupName(const std::string& word) {
  return word.size() > 1 && word[0] == '#' ? word.substr(1) : word;
}

Command messageTo(const ChatTarget& to, std::string text) {
  return make(to.group ? CommandKind::kGroupSend : CommandKind::kSend, to.name, std::move(text));
}

// Commands that take no argument, and the ones that take exactly one name.
struct Simple {
  const char* word;
  CommandKind kind;
};
constexpr Simple kNoArgument[] = {
    {"/logout", CommandKind::kLogout}, {"/friends", CommandKind::kFriends},
    {"/groups", CommandKind::kGroups}, {"/ping", CommandKind::kPing},
    {"/help", CommandKind::kHelp},     {"/quit", CommandKind::kQuit},
    {"/exit", CommandKind::kQuit},
};
struct OneName {
  const char* word;
  CommandKind kind;
  const char* usage;
  bool group;
};
constexpr OneName kOneName[] = {
    {"/register", CommandKind::kRegister, "/register NAME", false},
    {"/login", CommandKind::kLogin, "/login NAME", false},
    {"/add", CommandKind::kAddFriend, "/add NAME", false},
    {"/join", CommandKind::kJoinGroup, "/join GROUP", true},
    {"/leave", CommandKind::kLeaveGroup, "/leave GROUP", true},
    {"/members", CommandKind::kMembers, "/members GROUP", true},
};

Result<Command> parseHistory(const std::string& cmd, const std::string& rest) {
  const bool forced_group = cmd == "/ghistory";
  const std::string text = forced_group ? "/ghistory GROUP [N]" : "/history NAME|#GROUP [N]";
  auto args = splitWords(rest, 2);
  if (args.empty() || args.size() > 2) return usage(text);
  Command c = make(CommandKind::kHistory);
  ChatTarget t = forced_group ? ChatTarget{groupName(args[0]), true} : targetOf(args[0]);
  c.target = t.name;
  c.group = t.group;
  if (args.size() == 2) {
    int n = 0;
    const std::string& s = args[1];
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || n < 1 || n > kMaxHistory) {
      return Status::BadRequest("N must be a number from 1 to " + std::to_string(kMaxHistory) +
                                " (usage: " + text + ")");
    }
    c.limit = n;
  }
  return c;
}

}  // namespace

Result<Command> parseCommand(const std::string& raw, const std::optional<ChatTarget>& current) {
  std::string line = raw;
  while (!line.empty() && (isSpace(line.back()) || line.back() == '\r' || line.back() == '\n')) {
    line.pop_back();
  }
  size_t first = 0;
  while (first < line.size() && isSpace(line[first])) ++first;
  if (first == line.size()) return make(CommandKind::kNone);

  // Plain text (or "//text", the escape for a message that starts with '/')
  // goes to the current conversation. Leading spaces of a message are kept.
  const bool escaped = line.compare(first, 2, "//") == 0;
  if (line[first] != '/' || escaped) {
    if (!current) {
      return Status::BadRequest(
          "no conversation selected: use /chat NAME (or /chat #GROUP) first, or /msg NAME TEXT");
    }
    return messageTo(*current, escaped ? line.substr(first + 1) : line);
  }

  auto head = splitWords(line, 1);
  const std::string& cmd = head[0];
  const std::string rest = head.size() > 1 ? head[1] : "";

  for (const auto& s : kNoArgument) {
    if (cmd != s.word) continue;
    if (!rest.empty()) return usage(cmd + " (takes no arguments)");
    return make(s.kind);
  }
  for (const auto& s : kOneName) {
    if (cmd != s.word) continue;
    auto args = splitWords(rest, 1);
    if (args.size() != 1) return usage(s.usage);
    return make(s.kind, s.group ? groupName(args[0]) : args[0]);
  }
  if (cmd == "/msg") {
    auto args = splitWords(rest, 1);
    if (args.size() != 2) return usage("/msg NAME TEXT");
    return make(CommandKind::kSend, args[0], args[1]);
  }
  if (cmd == "/g") {
    auto args = splitWords(rest, 1);
    if (args.size() != 2) return usage("/g GROUP TEXT");
    return make(CommandKind::kGroupSend, groupName(args[0]), args[1]);
  }
  if (cmd == "/create") {
    auto args = splitWords(rest, 1);
    if (args.empty()) return usage("/create GROUP [DESCRIPTION]");
    return make(CommandKind::kCreateGroup, groupName(args[0]), args.size() == 2 ? args[1] : "");
  }
  if (cmd == "/history" || cmd == "/ghistory") return parseHistory(cmd, rest);
  if (cmd == "/chat") {
    auto args = splitWords(rest, 1);
    if (args.size() > 1) return usage("/chat NAME, /chat #GROUP, or /chat alone to leave");
    Command c = make(CommandKind::kChat);
    if (!args.empty()) {
      ChatTarget t = targetOf(args[0]);
      c.target = t.name;
      c.group = t.group;
    }
    return c;
  }
  return Status::BadRequest("unknown command " + cmd + " (try /help)");
}

std::string helpText() {
  return "commands:\n"
         "  /register NAME          create an account (asks for a password), then log in\n"
         "  /login NAME             log in (asks for a password)\n"
         "  /logout                 log out, stay connected\n"
         "  /add NAME               add a friend (friendship is mutual)\n"
         "  /friends                list friends, with who is online\n"
         "  /msg NAME TEXT          send TEXT to friend NAME\n"
         "  /create GROUP [DESC]    create a group (you are its owner)\n"
         "  /join GROUP             join a group\n"
         "  /leave GROUP            leave a group\n"
         "  /groups                 list your groups\n"
         "  /members GROUP          list a group's members\n"
         "  /g GROUP TEXT           send TEXT to a group\n"
         "  /history NAME [N]       the last N messages with NAME (default 50, at most 200)\n"
         "  /ghistory GROUP [N]     the same for a group (or /history #GROUP [N])\n"
         "  /chat NAME | #GROUP     plain lines now go there (/chat alone: stop)\n"
         "  //TEXT                  send a plain line that starts with '/'\n"
         "  /help                   this text\n"
         "  /quit                   leave (Ctrl-D too)";
}

}  // namespace parley::client
