// What the database holds, read straight from the SQLite file of the real
// server: passwords only as argon2id hashes, tokens only as hashes, random,
// expiring and revoked at logout.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "line_client.h"
#include "server_process.h"

namespace parley::testing {
namespace {

// A read-write handle on the server's database, beside the server (WAL mode
// lets both work; the busy timeout covers the server's short write locks).
class Db {
 public:
  explicit Db(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close(db_); }
  // Every row of `sql`, each column as text ("" for NULL).
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    std::vector<std::vector<std::string>> out;
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
    while (s && sqlite3_step(s) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(s); ++i) {
        const unsigned char* t = sqlite3_column_text(s, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(s);
    return out;
  }
  void exec(const std::string& sql) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_free(err);
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string fileBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(SecurityTest, PasswordsAreStoredOnlyAsArgon2idHashes) {
  ServerProcess server;
  server.start();
  const std::vector<std::pair<std::string, std::string>> users = {
      {"alice", "Tr0ub4dor&3-alice"}, {"bob", "correct horse battery"}, {"carol", "p@ss'; --"}};
  for (const auto& [name, password] : users) {
    LineClient c(server.port());
    c.registerUser(name, password);
    c.login(name, password);
  }
  Db db(server.dataPath());
  auto hashes = db.rows("SELECT name, password_hash FROM users ORDER BY id");
  ASSERT_EQ(hashes.size(), users.size());
  std::set<std::string> distinct;
  for (const auto& row : hashes) {
    EXPECT_EQ(row[1].rfind("$argon2id$", 0), 0u) << row[0] << ": " << row[1];
    distinct.insert(row[1]);
  }
  EXPECT_EQ(distinct.size(), users.size()) << "each hash has its own salt";
  // No table, column or file of the data directory (database, WAL, log)
  // holds a password in plain text.
  std::string dump;
  for (const auto& t : db.rows("SELECT name FROM sqlite_master WHERE type = 'table'")) {
    for (const auto& row : db.rows("SELECT * FROM \"" + t[0] + "\"")) {
      for (const auto& cell : row) dump += cell + "\n";
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(server.dir())) {
    dump += fileBytes(entry.path());
  }
  for (const auto& [name, password] : users) {
    EXPECT_EQ(dump.find(password), std::string::npos) << name << "'s password is stored in clear";
  }
}

TEST(SecurityTest, TokensAreRandomHashedExpireAndDieAtLogout) {
  ServerProcess server({"--token-ttl-hours", "2"});
  server.start();
  LineClient setup(server.port());
  setup.registerUser("alice");
  std::vector<std::string> tokens;
  for (int i = 0; i < 4; ++i) {
    LineClient c(server.port());
    tokens.push_back(c.login("alice")["token"].get<std::string>());
  }
  std::set<std::string> distinct(tokens.begin(), tokens.end());
  EXPECT_EQ(distinct.size(), tokens.size());
  for (const auto& t : tokens) {
    EXPECT_EQ(t.size(), 64u) << "256 random bits in hex";
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos) << t;
  }

  Db db(server.dataPath());
  auto stored = db.rows("SELECT token_hash, expires_ms FROM tokens");
  ASSERT_EQ(stored.size(), tokens.size());
  const int64_t two_hours = 2 * 3600 * 1000;
  for (const auto& row : stored) {
    EXPECT_EQ(distinct.count(row[0]), 0u) << "a token is stored only as a hash";
    int64_t expires = std::stoll(row[1]);
    // Set at login from --token-ttl-hours (a generous window around now + 2 h).
    EXPECT_GT(expires, nowMs() + two_hours - 10 * 60 * 1000);
    EXPECT_LE(expires, nowMs() + two_hours);
  }

  // A token past its expiry no longer resumes. Age them all in the database.
  db.exec("UPDATE tokens SET expires_ms = " + std::to_string(nowMs() - 1));
  LineClient late(server.port());
  json r = late.request({{"op", "resume"}, {"token", tokens[0]}});
  EXPECT_EQ(r["error"].value("code", ""), "unauthorized") << r.dump();

  // A fresh token resumes (and is the token the session keeps); logout
  // deletes it from the database and it no longer works.
  LineClient c(server.port());
  std::string fresh = c.login("alice")["token"];
  c.close();
  LineClient d(server.port());
  json resumed = d.request({{"op", "resume"}, {"token", fresh}});
  ASSERT_TRUE(resumed.value("ok", false)) << resumed.dump();
  EXPECT_EQ(resumed["token"], fresh);
  size_t before = db.rows("SELECT 1 FROM tokens").size();
  ASSERT_TRUE(d.request({{"op", "logout"}}).value("ok", false));
  EXPECT_EQ(db.rows("SELECT 1 FROM tokens").size(), before - 1) << "logout deletes the token";
  LineClient e(server.port());
  EXPECT_EQ(e.request({{"op", "resume"}, {"token", fresh}})["error"].value("code", ""),
            "unauthorized");
}

}  // namespace
}  // namespace parley::testing
