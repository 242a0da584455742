#include "client/render.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace parley::client {
namespace {

using nlohmann::json;

// 2024-03-05 12:03:00 UTC and the same day's evening, in milliseconds.
constexpr int64_t kNoon = 1709640180000;
constexpr int64_t kEvening = kNoon + 8 * 3600 * 1000;

// Every test runs in a known zone; formatting is local time.
class RenderTest : public ::testing::Test {
 protected:
  void SetUp() override { setZone("UTC0"); }
  void TearDown() override { setZone("UTC0"); }
  static void setZone(const char* tz) {
    setenv("TZ", tz, 1);
    tzset();
  }
};

Command cmd(const std::string& typed) {
  auto parsed = parseCommand(typed, std::nullopt);
  EXPECT_TRUE(parsed.ok()) << typed;
  return parsed.ok() ? parsed.value() : Command{};
}

TEST_F(RenderTest, TimeIsLocal) {
  EXPECT_EQ(formatTime(kNoon, kEvening), "12:03");
  setZone("XST-05:30");  // UTC+5:30, no tz database needed
  EXPECT_EQ(formatTime(kNoon, kNoon), "17:33");
  setZone("YST+08");  // UTC-8
  EXPECT_EQ(formatTime(kNoon, kNoon), "04:03");
}

TEST_F(RenderTest, OtherDaysShowTheDate) {
  EXPECT_EQ(formatTime(kNoon, kNoon + 24LL * 3600 * 1000), "2024-03-05 12:03");
  EXPECT_EQ(formatTime(kNoon, kNoon - 13LL * 3600 * 1000), "2024-03-05 12:03");
  // Whether it is "today" is decided in local time: 23:30 UTC on the 5th is
  // the 6th in UTC+5:30, the same day as 01:00 UTC on the 6th.
  setZone("XST-05:30");
  const int64_t late = kNoon + (11 * 60 + 27) * 60 * 1000;  // 23:30 UTC
  EXPECT_EQ(formatTime(late, late + 90 * 60 * 1000), "05:00");
}

TEST_F(RenderTest, Messages) {
  json direct{{"event", "message"}, {"id", 1},         {"seq", 1},   {"from", "bob"},
              {"to", "alice"},      {"text", "hello"}, {"ts", kNoon}};
  EXPECT_EQ(renderMessage(direct, "alice", kNoon), "[12:03] bob: hello");
  EXPECT_EQ(renderEvent(direct, "alice", kNoon), Lines{"[12:03] bob: hello"});

  json group{{"event", "group_message"},
             {"id", 2},
             {"seq", 2},
             {"group", "devs"},
             {"from", "bob"},
             {"text", "hi"},
             {"ts", kNoon}};
  EXPECT_EQ(renderEvent(group, "alice", kNoon), Lines{"[12:03] #devs bob: hi"});

  // Our own message (history, or sent from another device) names the peer.
  json mine{{"id", 3}, {"from", "alice"}, {"to", "bob"}, {"text", "yo"}, {"ts", kNoon}};
  EXPECT_EQ(renderMessage(mine, "alice", kNoon), "[12:03] alice -> bob: yo");
  json mine_in_group{{"id", 4}, {"group", "devs"}, {"from", "alice"}, {"text", "x"}, {"ts", kNoon}};
  EXPECT_EQ(renderMessage(mine_in_group, "alice", kNoon), "[12:03] #devs alice: x");

  // Missing fields do not crash.
  EXPECT_EQ(renderMessage(json{{"event", "message"}}, "alice", kNoon), "[1970-01-01 00:00] ?: ");
}

TEST_F(RenderTest, OtherEvents) {
  EXPECT_EQ(renderEvent(json{{"event", "presence"}, {"user", "bob"}, {"online", true}}, "a", 0),
            Lines{"* bob is online"});
  EXPECT_EQ(renderEvent(json{{"event", "presence"}, {"user", "bob"}, {"online", false}}, "a", 0),
            Lines{"* bob is offline"});
  EXPECT_EQ(renderEvent(json{{"event", "friend_added"},
                             {"friend", {{"id", 3}, {"name", "carol"}, {"online", true}}}},
                        "a", 0),
            Lines{"* carol added you as a friend"});
  EXPECT_EQ(renderEvent(json{{"event", "shutdown"}, {"reason", "server shutting down"}}, "a", 0),
            Lines{"* the server is going down (server shutting down); reconnecting"});
  // An event this client does not know is shown, not dropped.
  EXPECT_EQ(renderEvent(json{{"event", "typing"}, {"user", "bob"}}, "a", 0),
            Lines{R"(* unknown event "typing": {"event":"typing","user":"bob"})"});
}

TEST_F(RenderTest, Errors) {
  EXPECT_EQ(
      renderError(json::parse(
          R"({"rid":3,"ok":false,"error":{"code":"forbidden","message":"bob is not your friend"}})")),
      "error (forbidden): bob is not your friend");
  EXPECT_EQ(renderError(json{{"ok", false}}), "error (?): ");
}

TEST_F(RenderTest, LoginAndRegister) {
  Command login = cmd("/login alice");
  json r = json::parse(R"({"rid":1,"ok":true,"user":{"id":1,"name":"alice"},"token":"t",
      "friends":[{"id":2,"name":"bob","online":true},{"id":3,"name":"eve","online":false}],
      "groups":[{"id":1,"name":"devs","desc":"d"},{"id":2,"name":"ops","desc":""}]})");
  EXPECT_EQ(
      renderResponse(login, r, "alice", kNoon),
      (Lines{"logged in as alice", "friends: bob (online), eve (offline)", "groups: #devs, #ops"}));
  json empty = json::parse(
      R"({"rid":1,"ok":true,"user":{"id":1,"name":"alice"},"token":"t","friends":[],"groups":[]})");
  EXPECT_EQ(renderResponse(login, empty, "alice", kNoon),
            (Lines{"logged in as alice", "friends: none yet (/add NAME)",
                   "groups: none yet (/create GROUP or /join GROUP)"}));
  EXPECT_EQ(renderResponse(cmd("/register alice"),
                           json::parse(R"({"ok":true,"user":{"id":1,"name":"alice"}})"), "", 0),
            Lines{"registered alice"});
  EXPECT_EQ(renderResumed(r), Lines{"* reconnected, logged in again as alice"});
  EXPECT_EQ(renderResponse(cmd("/logout"), json{{"ok", true}}, "", 0), Lines{"logged out"});
}

TEST_F(RenderTest, Friends) {
  EXPECT_EQ(
      renderResponse(cmd("/add bob"),
                     json::parse(R"({"ok":true,"friend":{"id":2,"name":"bob","online":true}})"),
                     "alice", 0),
      Lines{"bob is now your friend (online)"});
  EXPECT_EQ(
      renderResponse(cmd("/add bob"),
                     json::parse(R"({"ok":true,"friend":{"id":2,"name":"Bob","online":false}})"),
                     "alice", 0),
      Lines{"Bob is now your friend"});
  json list = json::parse(
      R"({"ok":true,"friends":[{"id":2,"name":"bob","online":true},{"id":3,"name":"eve","online":false}]})");
  EXPECT_EQ(renderResponse(cmd("/friends"), list, "alice", 0),
            (Lines{"friends:", "  bob (online)", "  eve (offline)"}));
  EXPECT_EQ(renderResponse(cmd("/friends"), json{{"ok", true}, {"friends", json::array()}}, "a", 0),
            Lines{"no friends yet (/add NAME)"});
}

TEST_F(RenderTest, SentMessagesShowTheServerTime) {
  json reply = json::parse(R"({"ok":true,"message":{"id":10,"ts":1709640180000}})");
  EXPECT_EQ(renderResponse(cmd("/msg bob hi there"), reply, "alice", kNoon),
            Lines{"[12:03] alice -> bob: hi there"});
  EXPECT_EQ(renderResponse(cmd("/g devs standup"), reply, "alice", kNoon),
            Lines{"[12:03] #devs alice: standup"});
}

TEST_F(RenderTest, Groups) {
  json g = json::parse(R"({"ok":true,"group":{"id":1,"name":"devs","desc":"the devs"}})");
  EXPECT_EQ(renderResponse(cmd("/create devs the devs"), g, "a", 0),
            Lines{"created #devs: the devs"});
  EXPECT_EQ(renderResponse(cmd("/join devs"), g, "a", 0), Lines{"joined #devs: the devs"});
  json bare = json::parse(R"({"ok":true,"group":{"id":1,"name":"devs","desc":""}})");
  EXPECT_EQ(renderResponse(cmd("/join devs"), bare, "a", 0), Lines{"joined #devs"});
  EXPECT_EQ(renderResponse(cmd("/leave devs"), json{{"ok", true}}, "a", 0), Lines{"left #devs"});
  json groups = json::parse(
      R"({"ok":true,"groups":[{"id":1,"name":"devs","desc":"the devs"},{"id":2,"name":"ops","desc":""}]})");
  EXPECT_EQ(renderResponse(cmd("/groups"), groups, "a", 0),
            (Lines{"groups:", "  #devs: the devs", "  #ops"}));
  EXPECT_EQ(renderResponse(cmd("/groups"), json{{"ok", true}, {"groups", json::array()}}, "a", 0),
            Lines{"no groups yet (/create GROUP or /join GROUP)"});
  json members = json::parse(R"({"ok":true,"members":[
      {"id":1,"name":"alice","role":"owner","online":false},
      {"id":2,"name":"bob","role":"member","online":true}]})");
  EXPECT_EQ(renderResponse(cmd("/members devs"), members, "a", 0),
            (Lines{"members of #devs:", "  alice  owner", "  bob  member (online)"}));
}

TEST_F(RenderTest, History) {
  json r = json::parse(R"({"ok":true,"messages":[
      {"id":1,"from":"bob","to":"alice","text":"hi","ts":1709640180000},
      {"id":2,"from":"alice","to":"bob","text":"hey","ts":1709640240000}]})");
  EXPECT_EQ(renderResponse(cmd("/history bob"), r, "alice", kNoon),
            (Lines{"history with bob:", "  [12:03] bob: hi", "  [12:04] alice -> bob: hey"}));
  json g = json::parse(R"({"ok":true,"messages":[
      {"id":5,"group":"devs","from":"bob","text":"hi","ts":1709640180000}]})");
  EXPECT_EQ(renderResponse(cmd("/ghistory devs"), g, "alice", kNoon),
            (Lines{"history with #devs:", "  [12:03] #devs bob: hi"}));
  EXPECT_EQ(renderResponse(cmd("/history bob"), json{{"ok", true}, {"messages", json::array()}},
                           "alice", kNoon),
            Lines{"no messages with bob yet"});
}

TEST_F(RenderTest, PingAndLocalCommands) {
  EXPECT_EQ(renderResponse(cmd("/ping"), json{{"ok", true}}, "a", 0), Lines{"pong"});
  EXPECT_TRUE(renderResponse(cmd("/help"), json{{"ok", true}}, "a", 0).empty());
}

TEST_F(RenderTest, SanitizeForTerminal) {
  EXPECT_EQ(sanitizeForTerminal("plain \xc3\xa9 text\tand\nnewline"),
            "plain \xc3\xa9 text\tand\nnewline");
  EXPECT_EQ(sanitizeForTerminal("\x1b]0;pwned\x07"), "^[]0;pwned^G");
  EXPECT_EQ(sanitizeForTerminal("a\x7f"
                                "b\r"),
            "a^?b^M");
  EXPECT_EQ(sanitizeForTerminal("x\xc2\x9b"
                                "31m"),
            "x\\u009b31m");                                // C1 CSI
  EXPECT_EQ(sanitizeForTerminal("\xc2\xa9"), "\xc2\xa9");  // (c) stays
}

}  // namespace
}  // namespace parley::client
