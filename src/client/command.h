// Commands typed into the `parley` client, parsed into requests of the wire
// protocol. Pure functions: no terminal, no socket, so they are unit-tested.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace parley::client {

// Where plain (non-slash) lines go after `/chat bob` or `/chat #devs`.
struct ChatTarget {
  std::string name;
  bool group = false;
  std::string label() const { return group ? "#" + name : name; }
};

enum class Action {
  kRequest,   // send `request` to the server
  kRegister,  // ask for a password, then register (and log in) as `name`
  kLogin,     // ask for a password, then log in as `name`
  kSetChat,   // switch the current conversation to `chat`
  kHelp,
  kQuit,
  kError,  // `error` says what was wrong with the line
  kNothing,
};

struct Command {
  Action action = Action::kNothing;
  nlohmann::json request;  // for kRequest (without rid)
  std::string name;        // for kRegister/kLogin
  ChatTarget chat;         // for kSetChat
  std::string error;       // for kError
};

// Parses one typed line. Plain text goes to `current` (an error if none).
Command parseCommand(const std::string& line, const std::optional<ChatTarget>& current);

// The /help text.
std::string helpText();

}  // namespace parley::client
