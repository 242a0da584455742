#include "client/client_state.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

using nlohmann::json;

std::string msgEvent(int id, int seq, const std::string& text) {
  return json{{"event", "message"}, {"id", id},     {"seq", seq}, {"from", "bob"},
              {"to", "alice"},      {"text", text}, {"ts", 0}}
      .dump();
}

TEST(ClientStateTest, RidsIncreaseAndResponsesRenderByOp) {
  ClientState s;
  json first = json::parse(s.prepare({{"op", "friends"}}));
  json second = json::parse(s.prepare({{"op", "groups"}}));
  EXPECT_EQ(first["rid"], 1);
  EXPECT_EQ(second["rid"], 2);
  auto lines = s.onServerLine(
      R"({"rid":1,"ok":true,"friends":[{"id":2,"name":"bob","online":true},{"id":3,"name":"eve","online":false}]})");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "  bob  online");
  EXPECT_EQ(lines[1], "  eve");
  lines = s.onServerLine(R"({"rid":2,"ok":true,"groups":[{"id":1,"name":"devs","desc":"d"}]})");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "  #devs  d");
}

TEST(ClientStateTest, LoginRemembersUserAndToken) {
  ClientState s;
  s.prepare({{"op", "login"}, {"name", "alice"}, {"password", "x"}});
  auto lines = s.onServerLine(
      R"({"rid":1,"ok":true,"user":{"id":1,"name":"alice"},"token":"tok","friends":[{"id":2,"name":"bob","online":true}],"groups":[]})");
  EXPECT_TRUE(s.loggedIn());
  EXPECT_EQ(s.user(), "alice");
  EXPECT_EQ(s.token(), "tok");
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], "logged in as alice");
  EXPECT_EQ(lines[1], "friends: bob (online)");
}

TEST(ClientStateTest, ErrorsRenderWithCode) {
  ClientState s;
  s.prepare({{"op", "send"}, {"to", "bob"}, {"text", "x"}});
  auto lines = s.onServerLine(
      R"({"rid":1,"ok":false,"error":{"code":"forbidden","message":"bob is not your friend"}})");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "error (forbidden): bob is not your friend");
}

TEST(ClientStateTest, EventsRender) {
  ClientState s;
  EXPECT_EQ(s.onServerLine(R"({"event":"presence","user":"bob","online":true})")[0],
            "* bob is online");
  EXPECT_EQ(s.onServerLine(R"({"event":"presence","user":"bob","online":false})")[0],
            "* bob went offline");
  EXPECT_EQ(s.onServerLine(R"({"event":"friend_added","friend":{"id":2,"name":"bob"}})")[0],
            "* bob added you as a friend");
  auto g = s.onServerLine(
      R"({"event":"group_message","id":9,"seq":1,"group":"devs","from":"bob","text":"hi","ts":0})");
  ASSERT_EQ(g.size(), 1u);
  EXPECT_NE(g[0].find("#devs bob: hi"), std::string::npos);
  EXPECT_EQ(s.onServerLine(R"({"event":"mystery","x":1})")[0].substr(0, 2), "* ");
  EXPECT_EQ(s.onServerLine("not json")[0].substr(0, 1), "?");
}

TEST(ClientStateTest, DuplicatesAreShownOnceAndAcksBatch) {
  ClientState s;
  s.prepare({{"op", "login"}, {"name", "alice"}, {"password", "x"}});
  s.onServerLine(R"({"rid":1,"ok":true,"user":{"id":1,"name":"alice"},"token":"t"})");
  EXPECT_FALSE(s.takeAck());  // nothing shown yet
  EXPECT_EQ(s.onServerLine(msgEvent(100, 1, "a")).size(), 1u);
  EXPECT_EQ(s.onServerLine(msgEvent(101, 2, "b")).size(), 1u);
  auto ack = s.takeAck();
  ASSERT_TRUE(ack);
  json a = json::parse(*ack);
  EXPECT_EQ(a["op"], "ack");
  EXPECT_EQ(a["up_to"], 2);
  EXPECT_FALSE(s.takeAck());  // one ack per burst
  // The same message again (redelivered after a reconnect): not shown.
  EXPECT_TRUE(s.onServerLine(msgEvent(101, 2, "b")).empty());
}

TEST(ClientStateTest, ReconnectResumesWithToken) {
  ClientState s;
  EXPECT_FALSE(s.resumeRequest());
  s.prepare({{"op", "login"}, {"name", "alice"}, {"password", "x"}});
  s.onServerLine(R"({"rid":1,"ok":true,"user":{"id":1,"name":"alice"},"token":"tok"})");
  s.onServerLine(msgEvent(100, 1, "a"));
  s.connectionLost();
  EXPECT_FALSE(s.loggedIn());
  auto resume = s.resumeRequest();
  ASSERT_TRUE(resume);
  json r = json::parse(*resume);
  EXPECT_EQ(r["op"], "resume");
  EXPECT_EQ(r["token"], "tok");
  s.onServerLine(json{
      {"rid", r["rid"]}, {"ok", true}, {"user", {{"id", 1}, {"name", "alice"}}}, {"token", "tok2"}}
                     .dump());
  EXPECT_TRUE(s.loggedIn());
  // The unacked message comes again after resume: not shown twice, but acked.
  EXPECT_TRUE(s.onServerLine(msgEvent(100, 1, "a")).empty());
  auto ack = s.takeAck();
  ASSERT_TRUE(ack);
  EXPECT_EQ(json::parse(*ack)["up_to"], 1);
}

TEST(ClientStateTest, LogoutForgetsToken) {
  ClientState s;
  s.prepare({{"op", "login"}, {"name", "alice"}, {"password", "x"}});
  s.onServerLine(R"({"rid":1,"ok":true,"user":{"id":1,"name":"alice"},"token":"tok"})");
  s.prepare({{"op", "logout"}});
  EXPECT_EQ(s.onServerLine(R"({"rid":2,"ok":true})")[0], "logged out");
  EXPECT_FALSE(s.loggedIn());
  EXPECT_FALSE(s.resumeRequest());
}

}  // namespace
}  // namespace parley::client
