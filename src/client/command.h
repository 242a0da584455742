// Command: one line typed into the `parley` client, parsed into a typed value.
// Pure functions, no terminal and no socket, so every command is unit-tested
// (tests/unit/client/command_test.cc). Turning a Command into a wire request
// is request.h's job; showing the answer is render.h's.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"

namespace parley::client {

// Where plain (non-slash) lines go after `/chat bob` or `/chat #devs`.
struct ChatTarget {
  std::string name;    // a user or group name, without '#'
  bool group = false;  // true: `name` is a group
  // "bob" or "#devs", as shown in the prompt.
  std::string label() const { return group ? "#" + name : name; }
  bool operator==(const ChatTarget&) const = default;
};

enum class CommandKind {
  kNone,         // a blank line: nothing to do
  kRegister,     // target = name; password asked for, then register and log in
  kLogin,        // target = name; password asked for
  kLogout,       //
  kAddFriend,    // target = user
  kFriends,      //
  kSend,         // target = friend, text
  kGroupSend,    // target = group, text
  kCreateGroup,  // target = group, text = description (may be empty)
  kJoinGroup,    // target = group
  kLeaveGroup,   // target = group
  kGroups,       //
  kMembers,      // target = group
  kHistory,      // target (group tells which kind), limit optional
  kChat,         // target (group tells which kind); empty target: leave the chat
  kPing,         //
  kHelp,         // local
  kQuit,         // local
};

struct Command {
  CommandKind kind = CommandKind::kNone;
  std::string target;        // user or group name, without '#'
  bool group = false;        // kHistory/kChat: `target` is a group
  std::string text;          // kSend/kGroupSend: the message; kCreateGroup: the description
  std::optional<int> limit;  // kHistory: how many messages (1-200)
  // kRegister/kLogin: never parsed from the line (it would end up in the
  // history and on screen); the caller fills it in after asking without echo.
  std::string password;
};

// The most messages one /history may ask for (PROTOCOL.md: limit 1-200).
constexpr int kMaxHistory = 200;

// Parses one typed line. A line not starting with '/' is a message for
// `current` (an error when there is none); a line starting with "//" is a
// message whose text starts with '/'. A trailing '\r' and trailing spaces are
// dropped; message text is otherwise kept as typed. Errors are
// Status::BadRequest with a usage text meant for the user.
Result<Command> parseCommand(const std::string& line, const std::optional<ChatTarget>& current);

// The /help text, several lines joined by '\n' (no trailing newline).
std::string helpText();

}  // namespace parley::client
