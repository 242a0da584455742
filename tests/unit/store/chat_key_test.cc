#include "store/chat_key.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <string>

namespace parley {
namespace {

TEST(ChatKeyTest, BothDirectionsShareOneKeyLowerIdFirst) {
  EXPECT_EQ(directChatKey(7, 3), "d:3:7");
  EXPECT_EQ(directChatKey(3, 7), "d:3:7");
  EXPECT_EQ(directChatKey(1, 1), "d:1:1");
  EXPECT_EQ(groupChatKey(12), "g:12");
}

// SqliteWriter::lastSeqBefore builds the key in SQL; the two must agree
// for every id width, the widest included.
TEST(ChatKeyTest, TheKeyBuiltInSqlIsTheSame) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT 'd:' || MIN(?1, ?2) || ':' || MAX(?1, ?2)", -1, &stmt,
                               nullptr),
            SQLITE_OK);
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t pairs[][2] = {{1, 2}, {9, 10}, {999999, 1000000}, {123456789, 42}, {max, 1}};
  for (const auto& pair : pairs) {
    sqlite3_bind_int64(stmt, 1, pair[0]);
    sqlite3_bind_int64(stmt, 2, pair[1]);
    ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
    std::string in_sql(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    EXPECT_EQ(directChatKey(pair[0], pair[1]), in_sql);
    sqlite3_reset(stmt);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

}  // namespace
}  // namespace parley
