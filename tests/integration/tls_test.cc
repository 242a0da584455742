// TLS on the client port, with a self-signed certificate made by the openssl
// command at test time (valid for 127.0.0.1 only). The server speaks TLS to
// test clients and to the `parley` CLI; certificates are verified.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "line_client.h"
#include "server_process.h"

namespace parley::testing {
namespace {

std::string run(const std::string& cmd, int* status = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int st = pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/parley-tls-XXXXXX";
    dir_ = mkdtemp(tmpl);
    int status = 0;
    std::string out =
        run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
            "-nodes -days 1 -subj /CN=parley-test "
            "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                key() + " -out " + cert(),
            &status);
    ASSERT_EQ(status, 0) << out;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::string cert() { return dir_ + "/cert.pem"; }
  static std::string key() { return dir_ + "/key.pem"; }

  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--tls-cert", cert(), "--tls-key", key()};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>(args);
    server_->start();
  }
  std::unique_ptr<LineClient> tlsUser(const std::string& name) {
    auto c = LineClient::overTls(server_->port(), cert());
    c->registerUser(name);
    c->login(name);
    return c;
  }
  std::string cli(const std::string& args, const std::string& input) {
    return run("printf '" + input + "' | PARLEY_PASSWORD=password1 " + binaryPath("parley") +
               " --port " + std::to_string(server_->port()) + " " + args);
  }

  static inline std::string dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(TlsTest, ChatOverTlsAndPlainTextIsRefused) {
  start();
  auto alice = tlsUser("alice");
  auto bob = tlsUser("bob");
  ASSERT_TRUE(alice->request({{"op", "add_friend"}, {"user", "bob"}}).value("ok", false));
  // Big enough to span several TLS records and write rounds.
  const std::string text(4000, 't');
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(alice->request({{"op", "send"}, {"to", "bob"}, {"text", text}}).value("ok", false));
  }
  for (int i = 0; i < 50; ++i) {
    auto m = bob->nextEventOf("message");
    ASSERT_TRUE(m) << i;
    EXPECT_EQ((*m)["text"], text);
  }
  json history = bob->request({{"op", "history"}, {"with", "alice"}, {"limit", 50}});
  EXPECT_EQ(history["messages"].size(), 50u);

  // A plain-text client gets nothing it could mistake for an answer.
  LineClient plain(server_->port());
  plain.sendLine(R"({"op":"ping"})");
  EXPECT_TRUE(plain.closedByPeer());
}

TEST_F(TlsTest, CliClientVerifiesTheServerCertificate) {
  start();
  std::string ok = cli("--tls-ca " + cert() + " --user carol --register", "/friends\\n");
  EXPECT_NE(ok.find("logged in as carol"), std::string::npos) << ok;
  // Without the self-signed certificate among its trusted CAs, the client
  // refuses the server.
  std::string untrusted = cli("--tls --user carol", "");
  EXPECT_NE(untrusted.find("certificate"), std::string::npos) << untrusted;
  EXPECT_EQ(untrusted.find("logged in"), std::string::npos) << untrusted;
  // The certificate names 127.0.0.1, not localhost.
  std::string wrong_name = cli("--host localhost --tls-ca " + cert() + " --user carol", "");
  EXPECT_EQ(wrong_name.find("logged in"), std::string::npos) << wrong_name;
}

TEST_F(TlsTest, StalledHandshakeIsCutAndShutdownReachesTlsClients) {
  // Long enough for alice to finish her TLS handshake, register and log in
  // on a loaded machine; the silent client still waits 10 s for its cut.
  start({"--handshake-timeout", "3"});
  auto alice = tlsUser("alice");
  // Connects, never sends a ClientHello: the login deadline covers TLS too.
  LineClient silent(server_->port());
  EXPECT_TRUE(silent.closedByPeer(10s));
  EXPECT_TRUE(alice->request({{"op", "ping"}}).value("ok", false));
  int status = -2;
  std::thread stopper([&] { status = server_->stop(); });
  auto e = alice->nextEventOf("shutdown", 10s);
  stopper.join();
  EXPECT_TRUE(e);
  EXPECT_EQ(status, 0);
}

TEST_F(TlsTest, ServerRefusesToStartWithAKeyThatDoesNotMatch) {
  int status = 0;
  std::string other = dir_ + "/other-key.pem";
  run("openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out " + other, &status);
  ASSERT_EQ(status, 0);
  std::string out = run(binaryPath("parley-server") + " --port 0 --data " + dir_ +
                            "/refused.db --tls-cert " + cert() + " --tls-key " + other,
                        &status);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("TLS key"), std::string::npos) << out;
  out = run(binaryPath("parley-server") + " --port 0 --tls-cert " + cert(), &status);
  EXPECT_NE(status, 0) << "a certificate without its key is a configuration error: " << out;
}

}  // namespace
}  // namespace parley::testing
