// The `parley` command-line client against the real server, scripted through
// a pipe (the client reads commands from stdin when it is not a terminal).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "line_client.h"
#include "server_process.h"
#include "service_instance.h"

namespace parley::testing {
namespace {

// Runs the client with `commands` (a printf format: "\\n" ends a line) on
// stdin; returns everything it printed.
std::string runClient(uint16_t port, const std::string& args, const std::string& commands) {
  std::string cmd = "printf '" + commands + "' | PARLEY_PASSWORD=password1 " +
                    binaryPath("parley") + " --port " + std::to_string(port) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(CliTest, TwoClientsChatGoOfflineAndGetMissedMessages) {
  ServerProcess server;
  server.start();
  uint16_t port = server.port();
  std::string a = runClient(port, "--user alice --register", "");
  EXPECT_NE(a.find("logged in as alice"), std::string::npos) << a;
  std::string b = runClient(port, "--user bob --register", "");
  EXPECT_NE(b.find("logged in as bob"), std::string::npos) << b;

  a = runClient(port, "--user alice",
                "/add bob\\n/msg bob hello from alice\\n/create devs the devs\\n/friends\\n");
  EXPECT_NE(a.find("bob is now your friend"), std::string::npos) << a;
  EXPECT_NE(a.find("created #devs"), std::string::npos) << a;

  // bob was offline: the message waits for him, and is shown once.
  b = runClient(port, "--user bob", "/join devs\\n/members devs\\n/history alice\\n");
  EXPECT_NE(b.find("alice: hello from alice"), std::string::npos) << b;
  EXPECT_NE(b.find("joined #devs"), std::string::npos) << b;
  EXPECT_NE(b.find("alice  owner"), std::string::npos) << b;

  // The client acked what it showed: the next login brings nothing old.
  std::string again = runClient(port, "--user bob", "/groups\\n");
  EXPECT_EQ(again.find("hello from alice"), std::string::npos) << again;
  EXPECT_NE(again.find("#devs"), std::string::npos) << again;

  std::string err = runClient(port, "--user bob", "/msg nobody hi\\n/fly\\n");
  EXPECT_NE(err.find("error (not_found)"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown command /fly"), std::string::npos) << err;
}

TEST(CliTest, PipedLinesWrittenWhileTheServerIsDownAreSentWhenItIsBack) {
  ServerProcess server({}, freePort());  // a fixed port survives the restart
  server.start();
  uint16_t port = server.port();
  runClient(port, "--user alice --register", "");
  runClient(port, "--user bob --register", "");
  runClient(port, "--user alice", "/add bob\\n");
  // bob, online, shows when the first line has been sent and stored.
  LineClient bob(port);
  bob.login("bob");
  // The script's second line arrives, and its input ends, while the server
  // is down (the test makes `killed` once it is, and the client has half a
  // second to see its connection go); the client must send it once the
  // server is back. The wait is capped (60 s) so that the script ends even
  // if the test does not.
  const std::string killed = server.dir() + "/killed";
  std::string cmd = "(printf '/msg bob before\\n'; i=0; until [ -e " + killed +
                    " ] || [ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.5;"
                    " printf '/msg bob after\\n') | "
                    "PARLEY_PASSWORD=password1 " +
                    binaryPath("parley") + " --port " + std::to_string(port) + " --user alice 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  auto before = bob.nextEventOf("message", std::chrono::seconds(15));
  EXPECT_TRUE(before) << "the first line never reached bob";  // (the script still ends)
  if (before) {
    EXPECT_EQ((*before)["text"], "before");
  }
  server.kill9();
  { std::ofstream{killed}; }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  server.start();
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  EXPECT_EQ(out.find("were not sent"), std::string::npos) << out;
  std::string b = runClient(port, "--user bob", "/history alice\\n");
  EXPECT_NE(b.find("alice: before"), std::string::npos) << b;
  EXPECT_NE(b.find("alice: after"), std::string::npos) << out << "\n---\n" << b;
}

}  // namespace
}  // namespace parley::testing
