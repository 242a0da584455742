// Request building: a typed Command (command.h) becomes one JSON request line
// of PROTOCOL.md, stamped with an increasing `rid` so the answer can be
// matched to what was asked. No I/O.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "client/command.h"

namespace parley::client {

// The request object for `cmd`, without a rid. nullopt for the commands the
// client handles itself (kNone, kChat, kHelp, kQuit). kRegister yields the
// `register` request only: logging in afterwards is a separate kLogin.
std::optional<nlohmann::json> requestBody(const Command& cmd);

// Requests the client sends on its own.
nlohmann::json ackBody(int64_t up_to);                // {"op":"ack","up_to":N}
nlohmann::json resumeBody(const std::string& token);  // {"op":"resume","token":T}

// Hands out rids 1, 2, 3, ... for one client process. Not thread-safe (the
// client has one thread).
class RequestBuilder {
 public:
  struct Stamped {
    int64_t rid = 0;
    std::string line;  // the JSON object on one line, without the '\n'
  };

  // Adds "rid" (the next number) to `body` and serializes it.
  Stamped stamp(nlohmann::json body);
  int64_t lastRid() const { return next_rid_ - 1; }

 private:
  int64_t next_rid_ = 1;
};

}  // namespace parley::client
