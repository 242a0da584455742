// SessionState is the client's memory: which request each answer belongs to,
// which messages were already shown, what to ack, and how to get back in
// after the connection drops. These tests play the server's side line by line.
#include "client/session_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>

namespace parley::client {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1709640180000;  // 2024-03-05 12:03 UTC

class SessionStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC0", 1);
    tzset();
  }

  static Command typed(const std::string& line,
                       const std::optional<ChatTarget>& chat = std::nullopt) {
    auto parsed = parseCommand(line, chat);
    EXPECT_TRUE(parsed.ok()) << line;
    return parsed.ok() ? parsed.value() : Command{};
  }
  static Command login(const std::string& name, const std::string& password) {
    Command c = typed("/login " + name);
    c.password = password;
    return c;
  }
  static json parse(const std::string& line) { return json::parse(line); }

  // Connects and logs in as alice, answering the login like a server.
  void loggedIn(const std::string& token = "tok-1") {
    state_.onConnected();
    Output out = state_.submit(login("alice", "correct horse"));
    ASSERT_EQ(out.send.size(), 1u);
    json req = parse(out.send[0]);
    ASSERT_EQ(req["op"], "login");
    answer(req, {{"user", {{"id", 1}, {"name", "alice"}}},
                 {"token", token},
                 {"friends", json::array()},
                 {"groups", json::array()}});
    ASSERT_TRUE(state_.loggedIn());
  }

  // The server's success answer to `req`.
  Output answer(const json& req, json fields = json::object()) {
    fields["rid"] = req["rid"];
    fields["ok"] = true;
    return state_.onServerLine(fields.dump());
  }
  Output fail(const json& req, const std::string& code, const std::string& message) {
    json r{{"rid", req["rid"]}, {"ok", false}, {"error", {{"code", code}, {"message", message}}}};
    return state_.onServerLine(r.dump());
  }
  Output message(int64_t id, int64_t seq, const std::string& text) {
    json e{{"event", "message"}, {"id", id},     {"seq", seq}, {"from", "bob"},
           {"to", "alice"},      {"text", text}, {"ts", kNow}};
    return state_.onServerLine(e.dump());
  }

  SessionState state_{[] { return kNow; }};
};

TEST_F(SessionStateTest, RidsMatchAnswersToWhatWasAsked) {
  loggedIn();
  json friends = parse(state_.submit(typed("/friends")).send.at(0));
  json groups = parse(state_.submit(typed("/groups")).send.at(0));
  EXPECT_NE(friends["rid"], groups["rid"]);
  EXPECT_EQ(state_.pendingCount(), 2u);
  // Answered out of the order asked: each is still rendered for its own request.
  Output g =
      answer(groups, {{"groups", json::array({{{"id", 1}, {"name", "devs"}, {"desc", ""}}})}});
  Output f =
      answer(friends, {{"friends", json::array({{{"id", 2}, {"name", "bob"}, {"online", true}}})}});
  EXPECT_NE(std::find(g.print.begin(), g.print.end(), "  #devs"), g.print.end()) << g.print[0];
  EXPECT_NE(std::find(f.print.begin(), f.print.end(), "  bob (online)"), f.print.end());
  EXPECT_EQ(state_.pendingCount(), 0u);
}

TEST_F(SessionStateTest, ErrorsAreShownWithTheirCode) {
  loggedIn();
  json req = parse(state_.submit(typed("/msg carol hi")).send.at(0));
  EXPECT_EQ(req["op"], "send");
  EXPECT_EQ(req["to"], "carol");
  EXPECT_EQ(req["text"], "hi");
  Output out = fail(req, "forbidden", "carol is not your friend");
  ASSERT_EQ(out.print.size(), 1u);
  EXPECT_EQ(out.print[0], "error (forbidden): carol is not your friend");
}

TEST_F(SessionStateTest, RegisterSendsRegisterThenLogin) {
  state_.onConnected();
  Command c = typed("/register alice");
  c.password = "correct horse";
  Output out = state_.submit(c);
  ASSERT_EQ(out.send.size(), 2u);
  EXPECT_EQ(parse(out.send[0])["op"], "register");
  EXPECT_EQ(parse(out.send[1])["op"], "login");
  EXPECT_EQ(parse(out.send[1])["password"], "correct horse");
}

TEST_F(SessionStateTest, DuplicatesAreHiddenButStillAcked) {
  loggedIn();
  EXPECT_EQ(message(10, 1, "one").print, Lines{"[12:03] bob: one"});
  EXPECT_EQ(message(11, 2, "two").print, Lines{"[12:03] bob: two"});
  // One ack per burst, for the highest seq seen.
  auto ack = state_.takeAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(parse(*ack)["op"], "ack");
  EXPECT_EQ(parse(*ack)["up_to"], 2);
  EXPECT_FALSE(state_.takeAck().has_value()) << "nothing new to ack";
  // Redelivered (the ack was lost): not shown again, but acked again so the
  // server stops resending it.
  EXPECT_TRUE(message(11, 2, "two").print.empty());
  EXPECT_TRUE(message(12, 3, "three").print.size() == 1);
  ack = state_.takeAck();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(parse(*ack)["up_to"], 3);
}

TEST_F(SessionStateTest, AckAnswersAreSilent) {
  loggedIn();
  message(10, 1, "one");
  json ack = parse(*state_.takeAck());
  EXPECT_TRUE(answer(ack).print.empty());
  // A failed ack only means a replay later; the user is not bothered.
  message(11, 2, "two");
  json failed = parse(*state_.takeAck());
  EXPECT_TRUE(fail(failed, "unavailable", "store down").print.empty());
}

TEST_F(SessionStateTest, ReconnectResumesWithTheTokenThenSendsWhatWasTyped) {
  loggedIn("tok-1");
  message(10, 1, "before the drop");
  state_.onDisconnected();
  EXPECT_FALSE(state_.connected());
  EXPECT_EQ(state_.prompt(), "alice (reconnecting)> ");

  // Typed while disconnected: kept for later, not lost.
  Output queued = state_.submit(typed("/msg bob still there?"));
  EXPECT_TRUE(queued.send.empty());
  EXPECT_EQ(state_.queuedCount(), 1u);

  Output up = state_.onConnected();
  ASSERT_EQ(up.send.size(), 1u) << "resume first, the queue waits for it";
  json resume = parse(up.send[0]);
  EXPECT_EQ(resume["op"], "resume");
  EXPECT_EQ(resume["token"], "tok-1");

  Output resumed = answer(resume, {{"user", {{"id", 1}, {"name", "alice"}}},
                                   {"token", "tok-2"},
                                   {"friends", json::array()},
                                   {"groups", json::array()}});
  ASSERT_EQ(resumed.send.size(), 1u);
  EXPECT_EQ(parse(resumed.send[0])["op"], "send");
  EXPECT_EQ(parse(resumed.send[0])["text"], "still there?");
  EXPECT_EQ(state_.queuedCount(), 0u);
  EXPECT_EQ(state_.token(), "tok-2");

  // The unacked message is replayed after resume: hidden, but acked.
  EXPECT_TRUE(message(10, 1, "before the drop").print.empty());
  ASSERT_TRUE(state_.takeAck().has_value());
}

TEST_F(SessionStateTest, ExpiredTokenFallsBackToPasswordLogin) {
  loggedIn("tok-1");
  state_.onDisconnected();
  json resume = parse(state_.onConnected().send.at(0));
  Output out = fail(resume, "unauthorized", "token expired");
  ASSERT_EQ(out.send.size(), 1u);
  json relogin = parse(out.send[0]);
  EXPECT_EQ(relogin["op"], "login");
  EXPECT_EQ(relogin["name"], "alice");
  EXPECT_EQ(relogin["password"], "correct horse");
  Output in = answer(relogin, {{"user", {{"id", 1}, {"name", "alice"}}}, {"token", "tok-3"}});
  EXPECT_EQ(in.print, Lines{"* logged in again as alice"});
  EXPECT_TRUE(state_.loggedIn());
}

TEST_F(SessionStateTest, UnavailableOnResumeAsksForAnotherConnection) {
  loggedIn();
  state_.onDisconnected();
  json resume = parse(state_.onConnected().send.at(0));
  Output out = fail(resume, "unavailable", "store down");
  EXPECT_TRUE(out.reconnect);
}

TEST_F(SessionStateTest, UnansweredMessagesAreReportedNotResent) {
  loggedIn();
  Output sent = state_.submit(typed("/msg bob did this arrive"));
  ASSERT_EQ(sent.send.size(), 1u);
  state_.submit(typed("/friends"));
  Output down = state_.onDisconnected();
  ASSERT_EQ(down.print.size(), 2u);
  EXPECT_NE(down.print[0].find("may not have been sent"), std::string::npos) << down.print[0];
  EXPECT_NE(down.print[0].find("did this arrive"), std::string::npos);
  EXPECT_NE(down.print[1].find("1 request(s) got no answer"), std::string::npos) << down.print[1];
  EXPECT_EQ(state_.pendingCount(), 0u);
  // Resume must not carry the lost send along.
  Output up = state_.onConnected();
  EXPECT_EQ(up.send.size(), 1u);
}

TEST_F(SessionStateTest, TheOfflineQueueIsBounded) {
  for (size_t i = 0; i < SessionState::kMaxQueued; ++i) {
    state_.submit(typed("/friends"));
  }
  Output over = state_.submit(typed("/friends"));
  EXPECT_EQ(state_.queuedCount(), SessionState::kMaxQueued);
  ASSERT_EQ(over.print.size(), 1u);
  EXPECT_NE(over.print[0].find("dropped"), std::string::npos);
}

TEST_F(SessionStateTest, ChatTargetMakesPlainLinesMessages) {
  loggedIn();
  Output out = state_.submit(typed("/chat #devs"));
  EXPECT_EQ(out.print, Lines{"* plain lines now go to #devs"});
  ASSERT_TRUE(state_.currentChat().has_value());
  EXPECT_EQ(state_.prompt(), "alice@#devs> ");
  json req = parse(state_.submit(typed("standup now", state_.currentChat())).send.at(0));
  EXPECT_EQ(req["op"], "group_send");
  EXPECT_EQ(req["group"], "devs");
  EXPECT_EQ(req["text"], "standup now");
}

TEST_F(SessionStateTest, LogoutForgetsTheCredentials) {
  loggedIn();
  json req = parse(state_.submit(typed("/logout")).send.at(0));
  answer(req);
  EXPECT_FALSE(state_.loggedIn());
  EXPECT_TRUE(state_.token().empty());
  state_.onDisconnected();
  // Nothing to resume with: the new connection sends nothing by itself.
  EXPECT_TRUE(state_.onConnected().send.empty());
}

TEST_F(SessionStateTest, UnreadableServerLinesAreShownNotFatal) {
  Output out = state_.onServerLine("not json at all");
  ASSERT_EQ(out.print.size(), 1u);
  EXPECT_NE(out.print[0].find("unreadable"), std::string::npos);
}

TEST_F(SessionStateTest, AnotherUserStartsWithAFreshSeenSet) {
  loggedIn();
  message(10, 1, "for alice");
  json logout = parse(state_.submit(typed("/logout")).send.at(0));
  answer(logout);
  json req = parse(state_.submit(login("bob", "battery staple")).send.at(0));
  answer(req, {{"user", {{"id", 2}, {"name", "bob"}}}, {"token", "tok-b"}});
  // A group message id is shared by all members: bob must see id 10 too.
  json e{{"event", "group_message"}, {"id", 10},        {"seq", 1},  {"group", "devs"},
         {"from", "carol"},          {"text", "hello"}, {"ts", kNow}};
  EXPECT_EQ(state_.onServerLine(e.dump()).print.size(), 1u);
}

TEST_F(SessionStateTest, TheSameUserAfterALogoutDoesNotSeeAMessageTwice) {
  loggedIn();
  message(10, 1, "just before the logout");  // its ack is overtaken by the logout
  json logout = parse(state_.submit(typed("/logout")).send.at(0));
  answer(logout);
  loggedIn("tok-2");
  // The server replays it (never acked); it was shown already.
  EXPECT_TRUE(message(10, 1, "just before the logout").print.empty());
}

}  // namespace
}  // namespace parley::client
