#include "protocol/reply.h"

#include <gtest/gtest.h>

namespace parley::protocol {
namespace {

using nlohmann::json;

TEST(ReplyTest, OkStartsWithRidAndOk) {
  Reply r;
  r.user = User{1, "alice"};
  EXPECT_EQ(serializeOk(7, r), R"({"rid":7,"ok":true,"user":{"id":1,"name":"alice"}})");
  EXPECT_EQ(serializeOk(nullptr, Reply{}), R"({"ok":true})");
  EXPECT_EQ(serializeOk("x", Reply{}), R"({"rid":"x","ok":true})");
}

TEST(ReplyTest, ErrorCarriesCodeAndMessage) {
  EXPECT_EQ(
      serializeError(3, Status::Forbidden("bob is not your friend")),
      R"({"rid":3,"ok":false,"error":{"code":"forbidden","message":"bob is not your friend"}})");
}

TEST(ReplyTest, LoginShape) {
  Reply r;
  r.user = User{1, "alice"};
  r.token = "t";
  r.friends = std::vector<FriendView>{{User{2, "bob"}, true}};
  r.groups = std::vector<Group>{{5, "devs", "the devs"}};
  json j = json::parse(serializeOk(1, r));
  EXPECT_EQ(j["friends"][0]["name"], "bob");
  EXPECT_EQ(j["friends"][0]["online"], true);
  EXPECT_EQ(j["groups"][0]["desc"], "the devs");
  EXPECT_EQ(j["token"], "t");
}

TEST(ReplyTest, MessageEvents) {
  Message direct{10, "alice", "bob", "", "hi \"there\"", 1700000000000};
  json d = json::parse(messageEvent(direct, 4));
  EXPECT_EQ(d["event"], "message");
  EXPECT_EQ(d["id"], 10);
  EXPECT_EQ(d["seq"], 4);
  EXPECT_EQ(d["from"], "alice");
  EXPECT_EQ(d["to"], "bob");
  EXPECT_EQ(d["text"], "hi \"there\"");
  EXPECT_EQ(d["ts"], 1700000000000);
  EXPECT_FALSE(d.contains("ok"));

  Message group{11, "alice", "", "devs", "yo", 1};
  json g = json::parse(messageEvent(group, 9));
  EXPECT_EQ(g["event"], "group_message");
  EXPECT_EQ(g["group"], "devs");
  EXPECT_FALSE(g.contains("to"));
}

TEST(ReplyTest, OtherEvents) {
  EXPECT_EQ(presenceEvent("bob", true), R"({"event":"presence","user":"bob","online":true})");
  json f = json::parse(friendAddedEvent(FriendView{User{2, "bob"}, false}));
  EXPECT_EQ(f["friend"]["name"], "bob");
  EXPECT_EQ(json::parse(shutdownEvent("bye"))["event"], "shutdown");
}

TEST(ReplyTest, HistoryMessages) {
  Reply r;
  r.messages = std::vector<Message>{{1, "a", "b", "", "x", 5}, {2, "a", "", "g", "y", 6}};
  json j = json::parse(serializeOk(nullptr, r));
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["to"], "b");
  EXPECT_EQ(j["messages"][1]["group"], "g");
}

TEST(ReplyTest, EventTemplateSplicesTheSeqIntoTheSameLine) {
  // The template must produce exactly what a JSON tree serializes, text
  // escaping included, for 1:1 and group messages.
  Message direct{42, "alice", "bob", "", "say \"hi\"\n\u00e9\t\x01 \\ </script>", 1700};
  Message group{43, "alice", "", "devs", "x", 1701};
  for (const Message& m : {direct, group}) {
    MessageEventTemplate t(m);
    for (Seq seq : {Seq{1}, Seq{9}, Seq{10}, Seq{1234567890123}}) {
      nlohmann::ordered_json tree{
          {"event", m.isGroup() ? "group_message" : "message"}, {"id", m.id}, {"seq", seq}};
      if (m.isGroup()) {
        tree["group"] = m.group;
        tree["from"] = m.from;
      } else {
        tree["from"] = m.from;
        tree["to"] = m.to;
      }
      tree["text"] = m.text;
      tree["ts"] = m.ts;
      std::string line = t.withSeq(seq);
      EXPECT_EQ(line, tree.dump());
      EXPECT_EQ(line, messageEvent(m, seq));
      json j = json::parse(line);
      EXPECT_EQ(j["seq"], seq);
      EXPECT_EQ(j["id"], m.id);
      EXPECT_EQ(j["text"], m.text);
      EXPECT_EQ(j["event"], m.isGroup() ? "group_message" : "message");
    }
  }
  EXPECT_EQ(MessageEventTemplate(direct).withSeq(7),
            R"({"event":"message","id":42,"seq":7,"from":"alice","to":"bob",)"
            R"("text":"say \"hi\"\né\t\u0001 \\ </script>","ts":1700})");  // UTF-8 as is
}

TEST(ReplyTest, SendAnswerWithoutATreeMatchesTheGeneralShape) {
  Reply r;
  r.message = MessageRef{5, 99};
  EXPECT_EQ(serializeOk(3, r), R"({"rid":3,"ok":true,"message":{"id":5,"ts":99}})");
  EXPECT_EQ(serializeOk(nullptr, r), R"({"ok":true,"message":{"id":5,"ts":99}})");
  EXPECT_EQ(serializeOk("a\"b", r), R"({"rid":"a\"b","ok":true,"message":{"id":5,"ts":99}})");
}

}  // namespace
}  // namespace parley::protocol
