// Rendering: server responses and pushed events (PROTOCOL.md) become lines of
// text for a person. Pure functions of their arguments: "now" and the user's
// own name are passed in, so the tests pin every output exactly. Times are
// shown in the local time zone (TZ), as a chat client should.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/command.h"

namespace parley::client {

using Lines = std::vector<std::string>;

// "HH:MM" in local time when `ts_ms` falls on the same local day as `now_ms`,
// else "YYYY-MM-DD HH:MM" (history can reach back days).
std::string formatTime(int64_t ts_ms, int64_t now_ms);

// One message (an event or a history item):
//   "[12:03] bob: hello"            direct, from someone else
//   "[12:03] alice -> bob: hello"   direct, from `me` (sent on another device, or history)
//   "[12:03] #devs bob: hi"         group
// A history item without `from` or `text` still renders (with "?").
std::string renderMessage(const nlohmann::json& m, const std::string& me, int64_t now_ms);

// A pushed event: message, group_message, friend_added, presence, shutdown;
// anything else is shown raw, marked as unknown, never dropped.
Lines renderEvent(const nlohmann::json& event, const std::string& me, int64_t now_ms);

// The success response `r` to `cmd` (what the user asked). `me` is the user
// logged in (for login/resume: the new one). Silent answers give no lines.
Lines renderResponse(const Command& cmd, const nlohmann::json& r, const std::string& me,
                     int64_t now_ms);

// The answer to a successful resume (an automatic re-login after a reconnect).
Lines renderResumed(const nlohmann::json& r);

// A failure response: "error (forbidden): bob is not your friend".
std::string renderError(const nlohmann::json& r);

// A friend {name, online}: "bob (online)" or "bob".
std::string renderFriend(const nlohmann::json& f);

// Makes text safe to write to a terminal: control characters other than
// '\n' and '\t' (ESC above all: a message must not move the cursor, retitle
// the window or recolor the screen) become "^X" (C0, DEL) or "\u0080"-style
// escapes (C1, which some terminals obey too). Everything else is kept.
std::string sanitizeForTerminal(const std::string& text);

}  // namespace parley::client
