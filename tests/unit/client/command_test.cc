#include "client/command.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

using nlohmann::json;

json req(const std::string& line, std::optional<ChatTarget> chat = std::nullopt) {
  Command c = parseCommand(line, chat);
  EXPECT_EQ(c.action, Action::kRequest) << line << " -> " << c.error;
  return c.request;
}

std::string err(const std::string& line) {
  Command c = parseCommand(line, std::nullopt);
  EXPECT_EQ(c.action, Action::kError) << line;
  return c.error;
}

TEST(CommandTest, EveryRequestCommand) {
  EXPECT_EQ(req("/add bob"), (json{{"op", "add_friend"}, {"user", "bob"}}));
  EXPECT_EQ(req("/msg bob hello  world"),
            (json{{"op", "send"}, {"to", "bob"}, {"text", "hello  world"}}));
  EXPECT_EQ(req("/create g"), (json{{"op", "create_group"}, {"name", "g"}}));
  EXPECT_EQ(req("/create g our team"),
            (json{{"op", "create_group"}, {"name", "g"}, {"desc", "our team"}}));
  EXPECT_EQ(req("/join g"), (json{{"op", "join_group"}, {"group", "g"}}));
  EXPECT_EQ(req("/join #g"), (json{{"op", "join_group"}, {"group", "g"}}));
  EXPECT_EQ(req("/leave g"), (json{{"op", "leave_group"}, {"group", "g"}}));
  EXPECT_EQ(req("/members g"), (json{{"op", "members"}, {"group", "g"}}));
  EXPECT_EQ(req("/g g hi all"), (json{{"op", "group_send"}, {"group", "g"}, {"text", "hi all"}}));
  EXPECT_EQ(req("/friends"), (json{{"op", "friends"}}));
  EXPECT_EQ(req("/groups"), (json{{"op", "groups"}}));
  EXPECT_EQ(req("/logout"), (json{{"op", "logout"}}));
  EXPECT_EQ(req("/history bob"), (json{{"op", "history"}, {"with", "bob"}}));
  EXPECT_EQ(req("/history bob 10"), (json{{"op", "history"}, {"with", "bob"}, {"limit", 10}}));
  EXPECT_EQ(req("/history #g 5"), (json{{"op", "history"}, {"group", "g"}, {"limit", 5}}));
  EXPECT_EQ(req("/ghistory g"), (json{{"op", "history"}, {"group", "g"}}));
}

TEST(CommandTest, LocalCommands) {
  EXPECT_EQ(parseCommand("/help", std::nullopt).action, Action::kHelp);
  EXPECT_EQ(parseCommand("/quit", std::nullopt).action, Action::kQuit);
  EXPECT_EQ(parseCommand("   ", std::nullopt).action, Action::kNothing);
  Command login = parseCommand("/login alice", std::nullopt);
  EXPECT_EQ(login.action, Action::kLogin);
  EXPECT_EQ(login.name, "alice");
  EXPECT_EQ(parseCommand("/register bob", std::nullopt).action, Action::kRegister);
  Command chat = parseCommand("/chat #devs", std::nullopt);
  EXPECT_EQ(chat.action, Action::kSetChat);
  EXPECT_TRUE(chat.chat.group);
  EXPECT_EQ(chat.chat.name, "devs");
  EXPECT_EQ(chat.chat.label(), "#devs");
}

TEST(CommandTest, PlainLinesGoToTheCurrentChat) {
  EXPECT_EQ(req("hello there", ChatTarget{"bob", false}),
            (json{{"op", "send"}, {"to", "bob"}, {"text", "hello there"}}));
  EXPECT_EQ(req("hey team", ChatTarget{"devs", true}),
            (json{{"op", "group_send"}, {"group", "devs"}, {"text", "hey team"}}));
  EXPECT_NE(err("hello").find("no conversation"), std::string::npos);
}

TEST(CommandTest, UsageErrors) {
  EXPECT_NE(err("/add").find("usage: /add NAME"), std::string::npos);
  EXPECT_NE(err("/add a b").find("usage"), std::string::npos);
  EXPECT_NE(err("/msg bob").find("usage: /msg NAME TEXT"), std::string::npos);
  EXPECT_NE(err("/g devs").find("usage"), std::string::npos);
  EXPECT_NE(err("/join").find("usage"), std::string::npos);
  EXPECT_NE(err("/history").find("usage"), std::string::npos);
  EXPECT_NE(err("/history bob many").find("1 to 200"), std::string::npos);
  EXPECT_NE(err("/history bob 500").find("1 to 200"), std::string::npos);
  EXPECT_NE(err("/login").find("usage"), std::string::npos);
  EXPECT_NE(err("/fly").find("unknown command /fly"), std::string::npos);
  EXPECT_NE(helpText().find("/msg NAME TEXT"), std::string::npos);
}

}  // namespace
}  // namespace parley::client
