#include "client/request.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

// The exact line sent for `typed` (parsed without a current chat), as the
// first request of a fresh builder (rid 1).
std::string line(const std::string& typed, const std::string& password = "") {
  auto parsed = parseCommand(typed, std::nullopt);
  EXPECT_TRUE(parsed.ok()) << typed;
  Command c = parsed.value();
  c.password = password;
  auto body = requestBody(c);
  EXPECT_TRUE(body.has_value()) << typed;
  if (!body) return "";
  RequestBuilder builder;
  return builder.stamp(*body).line;
}

TEST(ClientRequestTest, ExactLinesForEveryRequest) {
  EXPECT_EQ(line("/register alice", "correct horse"),
            R"({"name":"alice","op":"register","password":"correct horse","rid":1})");
  EXPECT_EQ(line("/login alice", "pw12345678"),
            R"({"name":"alice","op":"login","password":"pw12345678","rid":1})");
  EXPECT_EQ(line("/logout"), R"({"op":"logout","rid":1})");
  EXPECT_EQ(line("/add bob"), R"({"op":"add_friend","rid":1,"user":"bob"})");
  EXPECT_EQ(line("/friends"), R"({"op":"friends","rid":1})");
  EXPECT_EQ(line("/msg bob hello  world"),
            R"({"op":"send","rid":1,"text":"hello  world","to":"bob"})");
  EXPECT_EQ(line("/g devs hi all"),
            R"({"group":"devs","op":"group_send","rid":1,"text":"hi all"})");
  EXPECT_EQ(line("/create devs"), R"({"name":"devs","op":"create_group","rid":1})");
  EXPECT_EQ(line("/create devs the team"),
            R"({"desc":"the team","name":"devs","op":"create_group","rid":1})");
  EXPECT_EQ(line("/join #devs"), R"({"group":"devs","op":"join_group","rid":1})");
  EXPECT_EQ(line("/leave devs"), R"({"group":"devs","op":"leave_group","rid":1})");
  EXPECT_EQ(line("/groups"), R"({"op":"groups","rid":1})");
  EXPECT_EQ(line("/members devs"), R"({"group":"devs","op":"members","rid":1})");
  EXPECT_EQ(line("/history bob"), R"({"op":"history","rid":1,"with":"bob"})");
  EXPECT_EQ(line("/history bob 20"), R"({"limit":20,"op":"history","rid":1,"with":"bob"})");
  EXPECT_EQ(line("/history #devs 3"), R"({"group":"devs","limit":3,"op":"history","rid":1})");
  EXPECT_EQ(line("/ghistory devs"), R"({"group":"devs","op":"history","rid":1})");
  EXPECT_EQ(line("/ping"), R"({"op":"ping","rid":1})");
}

TEST(ClientRequestTest, TextIsEscapedAsJson) {
  EXPECT_EQ(line(R"(/msg bob say "hi" \o/)"),
            R"({"op":"send","rid":1,"text":"say \"hi\" \\o/","to":"bob"})");
  // UTF-8 passes through unescaped.
  EXPECT_EQ(line("/msg bob \xc3\xa9"),
            "{\"op\":\"send\",\"rid\":1,\"text\":\"\xc3\xa9\",\"to\":\"bob\"}");
  // Invalid UTF-8 typed by the user becomes U+FFFD instead of throwing.
  EXPECT_EQ(line("/msg bob a\xff"),
            "{\"op\":\"send\",\"rid\":1,\"text\":\"a\xef\xbf\xbd\",\"to\":\"bob\"}");
}

TEST(ClientRequestTest, LocalCommandsHaveNoRequest) {
  for (const char* typed : {"/help", "/quit", "/chat bob", "/chat", ""}) {
    auto parsed = parseCommand(typed, std::nullopt);
    ASSERT_TRUE(parsed.ok()) << typed;
    EXPECT_FALSE(requestBody(parsed.value())) << typed;
  }
}

TEST(ClientRequestTest, RidsIncrease) {
  RequestBuilder b;
  EXPECT_EQ(b.lastRid(), 0);
  auto first = b.stamp(ackBody(7));
  auto second = b.stamp(resumeBody("tok"));
  auto third = b.stamp(nlohmann::json{{"op", "ping"}});
  EXPECT_EQ(first.rid, 1);
  EXPECT_EQ(second.rid, 2);
  EXPECT_EQ(third.rid, 3);
  EXPECT_EQ(b.lastRid(), 3);
  EXPECT_EQ(first.line, R"({"op":"ack","rid":1,"up_to":7})");
  EXPECT_EQ(second.line, R"({"op":"resume","rid":2,"token":"tok"})");
  EXPECT_EQ(third.line, R"({"op":"ping","rid":3})");
}

}  // namespace
}  // namespace parley::client
