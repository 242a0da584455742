// The `chat` column of the messages table: one key per conversation, so a
// history query is one index range. Both stores use the same keys, which
// keeps a database readable by either implementation's tooling.
#pragma once

#include <algorithm>
#include <string>

#include "store/store.h"

namespace parley {

// A 1:1 conversation is keyed by its two users, lower id first, so both
// directions share one key.
// SqliteWriter::lastSeqBefore builds the same key in SQL ('d:' || MIN || ':' || MAX).
inline std::string directChatKey(UserId a, UserId b) {
  return "d:" + std::to_string(std::min(a, b)) + ":" + std::to_string(std::max(a, b));
}

inline std::string groupChatKey(GroupId g) { return "g:" + std::to_string(g); }

}  // namespace parley
