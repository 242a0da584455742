// Configuration: defaults, TOML file, environment and flags, in that order of
// precedence; --print-config writes a file that --config reads back.
#include "server/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

namespace parley::server {
namespace {

// Parses `args` (without the program name) into a fresh Config.
int parse(std::vector<std::string> args, Config* config) {
  args.insert(args.begin(), "parley-server");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parseConfig(static_cast<int>(argv.size()), argv.data(), config);
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/parley-config-XXXXXX";
    path_ = std::string(mkdtemp(tmpl)) + "/parley.toml";
  }
  void TearDown() override {
    unsetenv("PARLEY_WEB_PORT");
    unlink(path_.c_str());
    rmdir(path_.substr(0, path_.rfind('/')).c_str());
  }
  std::string path_;
};

TEST_F(ConfigTest, DefaultsRunOneNodeOnLoopback) {
  Config c;
  EXPECT_EQ(parse({}, &c), -1);
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 7000);
  EXPECT_EQ(c.web_port, 0);
  EXPECT_EQ(c.admin_port, 0);
  EXPECT_EQ(c.storeUrl(), "sqlite:./parley.db");
}

TEST_F(ConfigTest, FileThenEnvironmentThenFlags) {
  std::ofstream(path_) << "port = 7100\nweb-port = 7180\nadmin-port = 7190\nmax-line = 2048\n"
                       << "store = \"mysql://u:p@db:3306/parley\"\n";
  Config c;
  setenv("PARLEY_WEB_PORT", "7280", 1);
  EXPECT_EQ(parse({"--config", path_, "--admin-port", "7390"}, &c), -1);
  EXPECT_EQ(c.port, 7100);        // file
  EXPECT_EQ(c.max_line, 2048u);   // file
  EXPECT_EQ(c.web_port, 7280);    // environment over file
  EXPECT_EQ(c.admin_port, 7390);  // flag over file
  EXPECT_EQ(c.storeUrl(), "mysql://u:p@db:3306/parley");
}

TEST_F(ConfigTest, PrintedConfigReadsBackTheSame) {
  Config original;
  ASSERT_EQ(parse({"--port", "7001", "--web-port", "7081", "--web-root", "/srv/web", "--bus",
                   "redis://r:6379", "--rate-per-user", "2.5", "--max-pending-tasks", "500",
                   "--wal-sync-interval-us", "750"},
                  &original),
            -1);
  std::ofstream(path_) << toToml(original);
  Config back;
  ASSERT_EQ(parse({"--config", path_}, &back), -1);
  EXPECT_EQ(toToml(back), toToml(original));
  EXPECT_EQ(back.web_root, "/srv/web");
  EXPECT_EQ(back.max_pending_tasks, 500u);
  EXPECT_EQ(back.wal_sync_interval_us, 750u);
  EXPECT_DOUBLE_EQ(back.rate_per_user, 2.5);
}

TEST_F(ConfigTest, BadValuesAreRefused) {
  Config c;
  EXPECT_NE(parse({"--max-line", "10"}, &c), -1);
  EXPECT_NE(parse({"--log-level", "loud"}, &c), -1);
  EXPECT_NE(parse({"--no-such-flag"}, &c), -1);
}

}  // namespace
}  // namespace parley::server
