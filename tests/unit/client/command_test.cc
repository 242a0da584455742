#include "client/command.h"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

Command ok(const std::string& line, std::optional<ChatTarget> chat = std::nullopt) {
  auto r = parseCommand(line, chat);
  EXPECT_TRUE(r.ok()) << line << " -> " << r.status().message();
  return r.ok() ? r.value() : Command{};
}

std::string err(const std::string& line, std::optional<ChatTarget> chat = std::nullopt) {
  auto r = parseCommand(line, chat);
  EXPECT_FALSE(r.ok()) << line;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kBadRequest);
  return r.status().message();
}

void expectCommand(const std::string& line, CommandKind kind, const std::string& target = "",
                   const std::string& text = "") {
  Command c = ok(line);
  EXPECT_EQ(c.kind, kind) << line;
  EXPECT_EQ(c.target, target) << line;
  EXPECT_EQ(c.text, text) << line;
  EXPECT_EQ(c.password, "") << line;  // never taken from the line
}

TEST(CommandTest, AccountCommands) {
  expectCommand("/register alice", CommandKind::kRegister, "alice");
  expectCommand("/login alice", CommandKind::kLogin, "alice");
  expectCommand("/logout", CommandKind::kLogout);
}

TEST(CommandTest, FriendAndMessageCommands) {
  expectCommand("/add bob", CommandKind::kAddFriend, "bob");
  expectCommand("/friends", CommandKind::kFriends);
  // The text keeps its inner spacing exactly.
  expectCommand("/msg bob hello  world", CommandKind::kSend, "bob", "hello  world");
  expectCommand("/msg   bob    hi", CommandKind::kSend, "bob", "hi");
  expectCommand("/msg bob \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80", CommandKind::kSend, "bob",
                "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(CommandTest, GroupCommands) {
  expectCommand("/create devs", CommandKind::kCreateGroup, "devs", "");
  expectCommand("/create devs the dev team", CommandKind::kCreateGroup, "devs", "the dev team");
  expectCommand("/join devs", CommandKind::kJoinGroup, "devs");
  expectCommand("/join #devs", CommandKind::kJoinGroup, "devs");
  expectCommand("/leave devs", CommandKind::kLeaveGroup, "devs");
  expectCommand("/members #devs", CommandKind::kMembers, "devs");
  expectCommand("/groups", CommandKind::kGroups);
  expectCommand("/g devs hi all", CommandKind::kGroupSend, "devs", "hi all");
  expectCommand("/g #devs hi", CommandKind::kGroupSend, "devs", "hi");
}

TEST(CommandTest, History) {
  Command c = ok("/history bob");
  EXPECT_EQ(c.kind, CommandKind::kHistory);
  EXPECT_EQ(c.target, "bob");
  EXPECT_FALSE(c.group);
  EXPECT_FALSE(c.limit);

  c = ok("/history bob 10");
  EXPECT_EQ(c.limit, 10);
  EXPECT_FALSE(c.group);

  c = ok("/history #devs 5");
  EXPECT_EQ(c.target, "devs");
  EXPECT_TRUE(c.group);
  EXPECT_EQ(c.limit, 5);

  c = ok("/ghistory devs");
  EXPECT_EQ(c.kind, CommandKind::kHistory);
  EXPECT_EQ(c.target, "devs");
  EXPECT_TRUE(c.group);

  c = ok("/ghistory #devs 200");
  EXPECT_EQ(c.target, "devs");
  EXPECT_EQ(c.limit, 200);
  EXPECT_EQ(ok("/history bob 1").limit, 1);
}

TEST(CommandTest, LocalCommands) {
  EXPECT_EQ(ok("/help").kind, CommandKind::kHelp);
  EXPECT_EQ(ok("/quit").kind, CommandKind::kQuit);
  EXPECT_EQ(ok("/exit").kind, CommandKind::kQuit);
  EXPECT_EQ(ok("/ping").kind, CommandKind::kPing);
  EXPECT_EQ(ok("").kind, CommandKind::kNone);
  EXPECT_EQ(ok("   \t ").kind, CommandKind::kNone);
  EXPECT_EQ(ok("\r").kind, CommandKind::kNone);
  // Trailing spaces and a '\r' are dropped.
  expectCommand("/add bob  \r", CommandKind::kAddFriend, "bob");
}

TEST(CommandTest, Chat) {
  Command c = ok("/chat bob");
  EXPECT_EQ(c.kind, CommandKind::kChat);
  EXPECT_EQ(c.target, "bob");
  EXPECT_FALSE(c.group);
  c = ok("/chat #devs");
  EXPECT_EQ(c.target, "devs");
  EXPECT_TRUE(c.group);
  c = ok("/chat");
  EXPECT_EQ(c.kind, CommandKind::kChat);
  EXPECT_EQ(c.target, "");  // leave the conversation
  EXPECT_EQ((ChatTarget{"devs", true}).label(), "#devs");
  EXPECT_EQ((ChatTarget{"bob", false}).label(), "bob");
}

TEST(CommandTest, PlainLinesGoToTheCurrentChat) {
  Command c = ok("hello there", ChatTarget{"bob", false});
  EXPECT_EQ(c.kind, CommandKind::kSend);
  EXPECT_EQ(c.target, "bob");
  EXPECT_EQ(c.text, "hello there");

  c = ok("hey team", ChatTarget{"devs", true});
  EXPECT_EQ(c.kind, CommandKind::kGroupSend);
  EXPECT_EQ(c.target, "devs");
  EXPECT_EQ(c.text, "hey team");

  // "//" escapes a message that starts with '/'.
  c = ok("//shrug", ChatTarget{"bob", false});
  EXPECT_EQ(c.kind, CommandKind::kSend);
  EXPECT_EQ(c.text, "/shrug");

  // Leading spaces of a message are the user's.
  EXPECT_EQ(ok("  indented", ChatTarget{"bob", false}).text, "  indented");

  // A command still is a command inside a chat.
  EXPECT_EQ(ok("/friends", ChatTarget{"bob", false}).kind, CommandKind::kFriends);

  EXPECT_NE(err("hello").find("no conversation selected"), std::string::npos);
  EXPECT_NE(err("//hello").find("no conversation selected"), std::string::npos);
}

TEST(CommandTest, WrongArity) {
  EXPECT_EQ(err("/register"), "usage: /register NAME");
  EXPECT_EQ(err("/login"), "usage: /login NAME");
  EXPECT_EQ(err("/login alice secret"), "usage: /login NAME");
  EXPECT_EQ(err("/add"), "usage: /add NAME");
  EXPECT_EQ(err("/add a b"), "usage: /add NAME");
  EXPECT_EQ(err("/msg"), "usage: /msg NAME TEXT");
  EXPECT_EQ(err("/msg bob"), "usage: /msg NAME TEXT");
  EXPECT_EQ(err("/g devs"), "usage: /g GROUP TEXT");
  EXPECT_EQ(err("/create"), "usage: /create GROUP [DESCRIPTION]");
  EXPECT_EQ(err("/join"), "usage: /join GROUP");
  EXPECT_EQ(err("/leave a b"), "usage: /leave GROUP");
  EXPECT_EQ(err("/members"), "usage: /members GROUP");
  EXPECT_EQ(err("/history"), "usage: /history NAME|#GROUP [N]");
  EXPECT_EQ(err("/history bob 5 6"), "usage: /history NAME|#GROUP [N]");
  EXPECT_EQ(err("/ghistory"), "usage: /ghistory GROUP [N]");
  EXPECT_EQ(err("/chat bob carol"), "usage: /chat NAME, /chat #GROUP, or /chat alone to leave");
  EXPECT_EQ(err("/friends bob"), "usage: /friends (takes no arguments)");
  EXPECT_EQ(err("/quit now"), "usage: /quit (takes no arguments)");
}

TEST(CommandTest, BadHistoryCount) {
  for (const char* line : {"/history bob many", "/history bob 0", "/history bob 201",
                           "/history bob -3", "/history bob 5x", "/ghistory devs 99999999999"}) {
    EXPECT_NE(err(line).find("N must be a number from 1 to 200"), std::string::npos) << line;
  }
}

TEST(CommandTest, UnknownCommand) {
  EXPECT_EQ(err("/fly"), "unknown command /fly (try /help)");
  EXPECT_EQ(err("/fly away"), "unknown command /fly (try /help)");
  EXPECT_EQ(err("/"), "unknown command / (try /help)");
  EXPECT_EQ(err("/MSG bob hi"), "unknown command /MSG (try /help)");
}

TEST(CommandTest, HelpListsEveryCommand) {
  std::string help = helpText();
  for (const char* cmd :
       {"/register", "/login", "/logout", "/add", "/friends", "/msg", "/create", "/join", "/leave",
        "/groups", "/members", "/g ", "/history", "/ghistory", "/chat", "/help", "/quit"}) {
    EXPECT_NE(help.find(cmd), std::string::npos) << cmd;
  }
}

}  // namespace
}  // namespace parley::client
