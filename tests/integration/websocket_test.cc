// The web listener of the real server: the browser client's files over HTTP,
// and the protocol over WebSocket on /ws — the same objects, one per text
// message, the same limits — with messages crossing between WebSocket and
// TCP clients both ways.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "http_get.h"
#include "line_client.h"
#include "server_process.h"
#include "ws_client.h"

namespace parley::testing {
namespace {

class WebSocketTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--web-port-file", "{dir}/web_port", "--admin-port-file",
                                     "{dir}/admin_port"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>(args);
    server_->start();
    web_ = server_->portFromFile(server_->dir() + "/web_port");
    admin_ = server_->portFromFile(server_->dir() + "/admin_port");
  }
  std::unique_ptr<WsClient> wsUser(const std::string& name) {
    auto c = std::make_unique<WsClient>(web_);
    EXPECT_TRUE(c->connected());
    c->registerUser(name);
    c->login(name);
    return c;
  }
  std::unique_ptr<LineClient> tcpUser(const std::string& name) {
    auto c = std::make_unique<LineClient>(server_->port());
    c->registerUser(name);
    c->login(name);
    return c;
  }
  // One sample of the admin page, e.g. "parley_websockets_open".
  double metric(const std::string& key) {
    std::string body = httpGet(admin_, "/metrics").body;
    size_t at = body.find("\n" + key + " ");
    return at == std::string::npos ? -1 : std::stod(body.substr(at + key.size() + 2));
  }
  static bool ok(const json& r) { return r.value("ok", false); }
  static std::string code(const json& r) {
    return r.contains("error") ? r["error"].value("code", "") : "(ok)";
  }

  std::unique_ptr<ServerProcess> server_;
  uint16_t web_ = 0;
  uint16_t admin_ = 0;
};

std::string sourceFile(const std::string& relative) {
  std::ifstream in(std::string(PARLEY_SOURCE_DIR) + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(WebSocketTest, ServesTheWebClientFiles) {
  start();
  HttpResponse index = httpGet(web_, "/");
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(index.body, sourceFile("web/index.html"));
  EXPECT_NE(index.header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  HttpResponse js = httpGet(web_, "/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js.body, sourceFile("web/app.js"));
  EXPECT_EQ(httpGet(web_, "/index.html?v=2").status, 200);
  EXPECT_EQ(httpGet(web_, "/missing.js").status, 404);
  EXPECT_EQ(httpGet(web_, "/../CMakeLists.txt").status, 404);
  EXPECT_EQ(httpGet(web_, "/%2e%2e/CMakeLists.txt").status, 404);
  EXPECT_EQ(httpRequest(web_, "POST", "/").status, 405);
  // An upgrade anywhere but /ws is refused.
  WsClient wrong(web_, "/chat");
  EXPECT_FALSE(wrong.connected());
}

TEST_F(WebSocketTest, WebSocketAndTcpUsersChatBothWays) {
  start();
  auto alice = wsUser("alice");  // in a browser
  auto bob = tcpUser("bob");     // on the command line
  ASSERT_TRUE(ok(alice->request({{"op", "add_friend"}, {"user", "bob"}})));
  auto added = bob->nextEventOf("friend_added");
  ASSERT_TRUE(added);
  EXPECT_EQ((*added)["friend"]["name"], "alice");
  EXPECT_EQ((*added)["friend"]["online"], true);

  ASSERT_TRUE(ok(alice->request({{"op", "send"}, {"to", "bob"}, {"text", "from the browser"}})));
  auto m = bob->nextEventOf("message");
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)["from"], "alice");
  EXPECT_EQ((*m)["text"], "from the browser");

  ASSERT_TRUE(ok(bob->request({{"op", "send"}, {"to", "alice"}, {"text", "from the terminal ü"}})));
  auto back = alice->nextEventOf("message");
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)["from"], "bob");
  EXPECT_EQ((*back)["text"], "from the terminal ü");
  EXPECT_GT((*back)["seq"].get<int64_t>(), 0);
  EXPECT_TRUE(ok(alice->request({{"op", "ack"}, {"up_to", (*back)["seq"]}})));

  // Groups and history work the same way.
  ASSERT_TRUE(ok(bob->request({{"op", "create_group"}, {"name", "devs"}})));
  ASSERT_TRUE(ok(alice->request({{"op", "join_group"}, {"group", "devs"}})));
  ASSERT_TRUE(ok(bob->request({{"op", "group_send"}, {"group", "devs"}, {"text", "standup"}})));
  auto g = alice->nextEventOf("group_message");
  ASSERT_TRUE(g);
  EXPECT_EQ((*g)["group"], "devs");
  json history = alice->request({{"op", "history"}, {"with", "bob"}});
  ASSERT_TRUE(ok(history));
  ASSERT_EQ(history["messages"].size(), 2u);
  EXPECT_EQ(history["messages"][0]["text"], "from the browser");

  // Presence crosses too: the browser user leaving turns offline for bob.
  alice.reset();
  auto presence = bob->nextEventOf("presence");
  ASSERT_TRUE(presence);
  EXPECT_EQ((*presence)["user"], "alice");
  EXPECT_EQ((*presence)["online"], false);

  // Offline delivery to a WebSocket client after it logs in again.
  ASSERT_TRUE(ok(bob->request({{"op", "send"}, {"to", "alice"}, {"text", "while you were out"}})));
  auto again = std::make_unique<WsClient>(web_);
  json login = again->login("alice");
  EXPECT_FALSE(login.value("token", "").empty());
  auto missed = again->nextEventOf("message");
  ASSERT_TRUE(missed);
  EXPECT_EQ((*missed)["text"], "while you were out");
}

TEST_F(WebSocketTest, ResumeWithTheTokenOverAFreshWebSocket) {
  start();
  auto first = std::make_unique<WsClient>(web_);
  first->registerUser("dora");
  std::string token = first->login("dora")["token"];
  first.reset();
  WsClient second(web_);
  json r = second.request({{"op", "resume"}, {"token", token}});
  ASSERT_TRUE(ok(r)) << r.dump();
  EXPECT_EQ(r["user"]["name"], "dora");
}

TEST_F(WebSocketTest, SameLimitsAndErrorsAsTcp) {
  start({"--max-line", "1024"});
  WsClient c(web_);
  ASSERT_TRUE(c.connected());
  // Not JSON: bad_request, and the connection stays open.
  c.sendText("{not json");
  auto bad = c.read();
  ASSERT_TRUE(bad);
  EXPECT_EQ(code(*bad), "bad_request");
  EXPECT_EQ(code(c.request({{"op", "friends"}})), "unauthorized");
  EXPECT_TRUE(ok(c.request({{"op", "ping"}})));
  // Over the limit: too_large, then the server closes with 1009 (too big).
  c.sendText("{\"op\":\"ping\",\"pad\":\"" + std::string(2000, 'x') + "\"}");
  auto big = c.read();
  ASSERT_TRUE(big);
  EXPECT_EQ(code(*big), "too_large");
  EXPECT_TRUE(c.closedByPeer());
  EXPECT_EQ(c.closeCode(), 1009);
  // Everyone else is fine.
  auto alice = wsUser("alice");
  EXPECT_TRUE(ok(alice->request({{"op", "friends"}})));
}

TEST_F(WebSocketTest, SmallerLimitAndALoginDeadlineBeforeLogin) {
  start({"--max-line", "4096", "--max-line-before-login", "512", "--handshake-timeout", "4"});
  std::string padded = "{\"op\":\"ping\",\"pad\":\"" + std::string(1000, 'x') + "\"}";
  WsClient stranger(web_);
  ASSERT_TRUE(stranger.connected());
  stranger.sendText(padded);
  auto refused = stranger.read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(code(*refused), "too_large");
  EXPECT_NE((*refused)["error"]["message"].get<std::string>().find("before login"),
            std::string::npos);
  EXPECT_TRUE(stranger.closedByPeer());

  auto alice = wsUser("alice");  // logged in: the full limit, no deadline
  alice->sendText(padded);
  auto pong = alice->read();
  ASSERT_TRUE(pong);
  EXPECT_TRUE(ok(*pong)) << pong->dump();
  WsClient lingering(web_);  // pings but never logs in
  ASSERT_TRUE(lingering.connected());
  EXPECT_TRUE(ok(lingering.request({{"op", "ping"}})));
  EXPECT_TRUE(lingering.closedByPeer(std::chrono::seconds(10)));
  EXPECT_TRUE(ok(alice->request({{"op", "ping"}})));
}

TEST_F(WebSocketTest, IdleWebSocketIsClosedPingKeepsAnotherAlive) {
  start({"--idle-timeout", "2"});  // five times the ping interval below
  WsClient idle(web_), busy(web_);
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(busy.connected());
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(ok(busy.request({{"op", "ping"}})));
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  EXPECT_TRUE(idle.closedByPeer(std::chrono::seconds(5)));
  EXPECT_TRUE(ok(busy.request({{"op", "ping"}})));
}

TEST_F(WebSocketTest, MetricsCountWebSocketsAndShutdownSaysGoodbye) {
  start();
  auto alice = wsUser("alice");
  auto bob = wsUser("bob");
  EXPECT_EQ(metric("parley_websockets_open"), 2);
  EXPECT_EQ(metric("parley_connections_open{listener=\"web\"}"), 2);
  EXPECT_EQ(metric("parley_sessions"), 2);
  EXPECT_EQ(metric("parley_connections_open{listener=\"tcp\"}"), 0);
  EXPECT_EQ(server_->stop(), 0) << server_->logTail();
  auto bye = alice->nextEventOf("shutdown");
  ASSERT_TRUE(bye);
  EXPECT_EQ((*bye)["reason"], "server shutting down");
  EXPECT_TRUE(alice->closedByPeer());
}

TEST_F(WebSocketTest, ConnectionLimitAppliesToTheWebListener) {
  start({"--max-connections-per-address", "1"});
  WsClient first(web_);
  ASSERT_TRUE(first.connected());
  HttpResponse refused = httpGet(web_, "/");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("unavailable"), std::string::npos);
}

}  // namespace
}  // namespace parley::testing
