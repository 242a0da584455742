// The `chat` column of the messages table: one key per conversation, so a
// history query is one index range. Both stores use the same keys, which
// keeps a database readable by either implementation's tooling.
#pragma once

#include <algorithm>
#include <charconv>
#include <string>

#include "store/store.h"

namespace parley {

// A 1:1 conversation is keyed by its two users, lower id first, so both
// directions share one key.
// SqliteWriter::lastSeqBefore builds the same key in SQL ('d:' || MIN || ':' || MAX).
// Built in place: every 1:1 message computes it, and with ids below 10^6
// it fits the string's inline buffer, so it costs no allocation.
inline std::string directChatKey(UserId a, UserId b) {
  char low[24], high[24];
  char* low_end = std::to_chars(low, low + sizeof low, std::min(a, b)).ptr;
  char* high_end = std::to_chars(high, high + sizeof high, std::max(a, b)).ptr;
  std::string key;
  key.reserve(3 + static_cast<size_t>(low_end - low) + static_cast<size_t>(high_end - high));
  key.append("d:").append(low, low_end).append(1, ':').append(high, high_end);
  return key;
}

inline std::string groupChatKey(GroupId g) { return "g:" + std::to_string(g); }

}  // namespace parley
