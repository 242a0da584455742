// The operator endpoint of the real server: GET /metrics counts what the
// test did (connections, logins, messages in and out, errors by code, store
// commits, bus publishes), in valid Prometheus text; GET /healthz answers 200
// while the store is reachable and 503 when it is not (a throwaway MariaDB
// stopped mid-test), and 200 again once it is back.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "http_get.h"
#include "line_client.h"
#include "server_process.h"
#include "service_instance.h"

namespace parley::testing {
namespace {

// Samples of one scrape: "name{labels}" -> value.
using Samples = std::map<std::string, double>;

// Parses the exposition text, failing the test on any line that is not a
// HELP/TYPE comment or a sample, or a sample whose family has no TYPE.
Samples parseMetrics(const std::string& text) {
  Samples samples;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  static const std::regex sample(R"(^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? (\S+)$)");
  static const std::regex type(R"(^# TYPE ([a-z_:][a-z0-9_:]*) (counter|gauge|histogram)$)");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, m, type)) {
      typed.insert(m[1]);
    } else if (line.rfind("# HELP ", 0) == 0) {
      continue;
    } else if (std::regex_match(line, m, sample)) {
      std::string name = m[1];
      std::string family = std::regex_replace(name, std::regex("_(bucket|sum|count)$"), "");
      EXPECT_TRUE(typed.count(name) || typed.count(family)) << "no # TYPE for " << line;
      samples[name + std::string(m[2])] = std::stod(m[3]);
    } else {
      ADD_FAILURE() << "not Prometheus text: '" << line << "'";
    }
  }
  return samples;
}

class AdminTest : public ::testing::Test {
 protected:
  void startServer(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--admin-port-file", "{dir}/admin_port", "--max-line", "1024"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>(args);
    server_->start();
    admin_ = server_->portFromFile(server_->dir() + "/admin_port");
  }
  Samples scrape() {
    HttpResponse r = httpGet(admin_, "/metrics");
    EXPECT_EQ(r.status, 200) << server_->logTail();
    EXPECT_NE(r.header("Content-Type").find("text/plain"), std::string::npos);
    return parseMetrics(r.body);
  }
  // Scrapes until `key` has `want` (gauges settle a moment after the event
  // that moves them, e.g. a close seen by the client before the server
  // counted it); returns the last value seen.
  double settled(const std::string& key, double want) {
    double got = -1;
    for (int i = 0; i < 250; ++i) {
      Samples s = scrape();
      got = s.count(key) ? s[key] : -1;
      if (got == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return got;
  }
  std::unique_ptr<LineClient> user(const std::string& name) {
    auto c = std::make_unique<LineClient>(server_->port());
    c->registerUser(name);
    c->login(name);
    return c;
  }
  static bool ok(const json& r) { return r.value("ok", false); }
  static std::string code(const json& r) {
    return r.contains("error") ? r["error"].value("code", "") : "(ok)";
  }

  std::unique_ptr<ServerProcess> server_;
  uint16_t admin_ = 0;
};

TEST_F(AdminTest, MetricsCountTrafficAndErrors) {
  startServer({});
  Samples before = scrape();
  EXPECT_EQ(before["parley_logins_total"], 0);
  EXPECT_EQ(before["parley_connections_open{listener=\"tcp\"}"], 0);
  EXPECT_GT(before["parley_start_time_seconds"], 1.6e9);

  auto alice = user("alice");
  auto bob = user("bob");
  ASSERT_TRUE(ok(alice->request({{"op", "add_friend"}, {"user", "bob"}})));
  ASSERT_TRUE(bob->nextEventOf("friend_added"));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        ok(alice->request({{"op", "send"}, {"to", "bob"}, {"text", "hi " + std::to_string(i)}})));
    ASSERT_TRUE(bob->nextEventOf("message"));
  }
  ASSERT_TRUE(ok(alice->request({{"op", "create_group"}, {"name", "devs"}})));
  ASSERT_TRUE(ok(bob->request({{"op", "join_group"}, {"group", "devs"}})));
  ASSERT_TRUE(ok(alice->request({{"op", "group_send"}, {"group", "devs"}, {"text", "standup"}})));
  ASSERT_TRUE(bob->nextEventOf("group_message"));

  // carol is offline while alice writes to her: two messages replayed at login.
  {
    auto carol = user("carol");
    ASSERT_TRUE(ok(carol->request({{"op", "add_friend"}, {"user", "alice"}})));
  }
  ASSERT_TRUE(ok(alice->request({{"op", "send"}, {"to", "carol"}, {"text", "one"}})));
  ASSERT_TRUE(ok(alice->request({{"op", "send"}, {"to", "carol"}, {"text", "two"}})));
  auto carol = std::make_unique<LineClient>(server_->port());
  carol->login("carol");
  ASSERT_TRUE(carol->nextEventOf("message"));
  ASSERT_TRUE(carol->nextEventOf("message"));

  // One error of each of four codes.
  EXPECT_EQ(code(alice->request({{"op", "send"}, {"to", "nobody"}, {"text", "x"}})), "not_found");
  auto anon = std::make_unique<LineClient>(server_->port());
  EXPECT_EQ(code(anon->request({{"op", "friends"}})), "unauthorized");
  anon->sendLine("{not json");
  auto bad = anon->readLine();
  ASSERT_TRUE(bad);
  EXPECT_EQ(code(*bad), "bad_request");
  auto big = std::make_unique<LineClient>(server_->port());
  big->sendLine(std::string(2000, 'x'));
  auto too_large = big->readLine();
  ASSERT_TRUE(too_large);
  EXPECT_EQ(code(*too_large), "too_large");
  EXPECT_TRUE(big->closedByPeer());

  // 6 connections (alice, bob, carol twice, anon, big); 4 still open.
  EXPECT_EQ(settled("parley_connections_open{listener=\"tcp\"}", 4), 4);
  Samples s = scrape();
  EXPECT_EQ(s["parley_connections_accepted_total{listener=\"tcp\"}"], 6);
  EXPECT_EQ(s["parley_sessions"], 3);  // alice, bob, carol (anon never logged in)
  EXPECT_EQ(s["parley_logins_total"], 4);
  EXPECT_EQ(s["parley_messages_in_total{kind=\"direct\"}"], 5);
  EXPECT_EQ(s["parley_messages_in_total{kind=\"group\"}"], 1);
  EXPECT_EQ(s["parley_messages_out_total{path=\"live\"}"], 4);    // bob: 3 direct + 1 group
  EXPECT_EQ(s["parley_messages_out_total{path=\"replay\"}"], 2);  // carol's backlog
  EXPECT_EQ(s["parley_store_commit_seconds_count"], 6);
  EXPECT_EQ(s["parley_store_commit_seconds_bucket{le=\"+Inf\"}"], 6);
  EXPECT_GT(s["parley_store_commit_seconds_sum"], 0);
  EXPECT_LE(s["parley_store_commit_seconds_bucket{le=\"0.0001\"}"],
            s["parley_store_commit_seconds_bucket{le=\"2.5\"}"]);
  // The embedded store timed its disk: a WAL fsync per commit at least
  // once; a few messages never make the WAL start over.
  EXPECT_GE(s["parley_store_wal_sync_seconds_count"], 1);
  EXPECT_EQ(s["parley_store_wal_sync_seconds_bucket{le=\"+Inf\"}"],
            s["parley_store_wal_sync_seconds_count"]);
  EXPECT_EQ(s.count("parley_store_writer_hold_seconds_count"), 1u);
  EXPECT_EQ(s["parley_store_writer_hold_seconds_count"], 0);
  // Every event went through the bus: 4 to bob, 2 to carol (stored while she
  // was away: not live), plus friend_added and presence notices.
  EXPECT_GE(s["parley_bus_deliveries_total"], 4);
  EXPECT_GE(s["parley_bus_publish_lag_seconds_count"], s["parley_bus_deliveries_total"]);
  EXPECT_EQ(s["parley_errors_total{code=\"not_found\"}"], 1);
  EXPECT_EQ(s["parley_errors_total{code=\"unauthorized\"}"], 1);
  EXPECT_EQ(s["parley_errors_total{code=\"bad_request\"}"], 1);
  EXPECT_EQ(s["parley_errors_total{code=\"too_large\"}"], 1);
  EXPECT_EQ(s["parley_errors_total{code=\"internal\"}"], 0);
  EXPECT_GE(s["parley_requests_total"], 20);
  EXPECT_EQ(s["parley_blocking_queue_depth"], 0);
  EXPECT_EQ(s["parley_bus_publish_queue_depth"], 0);
  EXPECT_EQ(s["parley_requests_waiting"], 0);
  EXPECT_EQ(s["parley_blocking_threads"], 16);
}

TEST_F(AdminTest, HealthzAndOtherPaths) {
  startServer({});
  HttpResponse h = httpGet(admin_, "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  EXPECT_EQ(httpGet(admin_, "/nope").status, 404);
  EXPECT_EQ(httpRequest(admin_, "POST", "/metrics").status, 405);
  EXPECT_EQ(httpGet(admin_, "/metrics?x=1").status, 200);
  // A peer that connects and sends nothing does not hold the endpoint.
  LineClient silent(admin_);
  EXPECT_EQ(httpGet(admin_, "/healthz").status, 200);
}

TEST_F(AdminTest, HealthzFailsWhileTheDatabaseIsDownAndRedisLagIsMeasured) {
  MariaDbInstance db;
  db.start();
  RedisInstance redis;
  redis.start();
  startServer({"--store", db.url(), "--bus", redis.url()});
  EXPECT_EQ(httpGet(admin_, "/healthz").status, 200);

  auto alice = user("alice");
  auto bob = user("bob");
  ASSERT_TRUE(ok(alice->request({{"op", "add_friend"}, {"user", "bob"}})));
  ASSERT_TRUE(ok(alice->request({{"op", "send"}, {"to", "bob"}, {"text", "via redis"}})));
  ASSERT_TRUE(bob->nextEventOf("message"));
  // The envelope reached bob in-process; its copy for other nodes went to
  // Redis, and that publish is what the lag histogram measures.
  Samples s;
  for (int i = 0; i < 250; ++i) {
    s = scrape();
    if (s["parley_bus_publish_lag_seconds_count"] >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(s["parley_bus_publish_lag_seconds_count"], 2);  // friend_added + message at least
  EXPECT_EQ(s["parley_bus_publishes_dropped_total"], 0);

  db.stop();
  HttpResponse down = httpGet(admin_, "/healthz");
  EXPECT_EQ(down.status, 503);
  EXPECT_NE(down.body.find("store unreachable"), std::string::npos) << down.body;
  // Metrics stay available while the store is down.
  EXPECT_EQ(httpGet(admin_, "/metrics").status, 200);

  db.start();
  int status = 0;
  for (int i = 0; i < 250 && status != 200; ++i) {
    status = httpGet(admin_, "/healthz").status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(40));
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace parley::testing
