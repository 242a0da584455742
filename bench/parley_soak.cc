// parley-soak: a long run of mixed chat with faults injected, and the crash
// test's checker. It reuses parley-bench's client and verifies by message id
// rather than measuring speed.
//
//   parley-soak --port 7000 --duration 600 --drop-every-ms 200 --storm-every 30
//               --server-pid PID --rss-every 10           (what scripts/soak runs)
//   parley-soak --port 7000 --acked-log acked.txt --until-server-dies --rate 0
//   parley-soak --port 7000 --verify acked.txt           # after the restart
//
// Output: a human summary, then one JSON line. Exit status 1 when a message
// was lost or duplicated (or on setup errors).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "soak_driver.h"
#include "soak_verify.h"

int main(int argc, char** argv) {
  using namespace parley::bench;
  SoakOptions o;
  std::string verify;
  CLI::App app{"parley-soak: mixed chat load with faults, verified message by message"};
  app.add_option("--host", o.host);
  app.add_option("--port", o.port);
  app.add_option("--pairs", o.pairs, "pairs of friends chatting 1:1");
  app.add_option("--groups", o.groups, "groups");
  app.add_option("--group-size", o.group_size, "members per group (each sends)");
  app.add_option("--rate", o.rate, "messages/s in all (0 = as fast as --window allows)");
  app.add_option("--window", o.window, "sends in flight per connection, at most");
  app.add_option("--duration", o.duration, "seconds of load");
  app.add_option("--drop-every-ms", o.drop_every_ms,
                 "a random connection writes half a request and dies every N ms, then "
                 "reconnects (0 = never)");
  app.add_option("--storm-every", o.storm_every,
                 "every N seconds --storm-share of all connections drop and reconnect at once "
                 "(0 = never)");
  app.add_option("--storm-share", o.storm_share)->check(CLI::Range(0.0, 1.0));
  app.add_option("--server-pid", o.server_pid, "sample this process's RSS");
  app.add_option("--rss-every", o.rss_every, "seconds between RSS samples");
  app.add_option("--acked-log", o.acked_log,
                 "append every acknowledged message as 'recipient id' (crash tests); "
                 "recipients then never ack, so a restarted server must replay everything");
  app.add_flag("--until-server-dies", o.until_server_dies,
               "a broken connection ends the run without failing it (the server was killed)");
  app.add_option("--prefix", o.prefix, "user name prefix (default: unique per run)");
  app.add_option("--password", o.password);
  app.add_option("--sources", o.sources, "local source addresses 127.0.0.1..N");
  app.add_option("--verify", verify,
                 "instead of a run: log in every recipient of this acked log and check that "
                 "each of its messages is delivered");
  CLI11_PARSE(app, argc, argv);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  if (!verify.empty()) {
    VerifyOptions v{o.host, o.port, verify, o.password, o.sources};
    nlohmann::json r = verifyAckedLog(v);
    std::printf("parley-soak verify: %llu users, %llu acknowledged messages, %llu lost\n",
                r["users"].get<unsigned long long>(), r["checked"].get<unsigned long long>(),
                r["lost"].get<unsigned long long>());
    std::printf("%s\n", r.dump().c_str());
    return r["lost"].get<uint64_t>() == 0 ? 0 : 1;
  }

  SoakFigures f;
  if (SoakDriver(o).run(&f) != 0) return 1;
  std::printf("parley-soak: %d pairs, %d groups of %d, %.0f s\n", o.pairs, o.groups, o.group_size,
              f.seconds);
  std::printf("  sent %llu  acked %llu  rejected %llu  delivered %llu  redelivered %llu\n",
              static_cast<unsigned long long>(f.sent), static_cast<unsigned long long>(f.acked),
              static_cast<unsigned long long>(f.rejected),
              static_cast<unsigned long long>(f.delivered),
              static_cast<unsigned long long>(f.redelivered));
  std::printf("  faults: %llu drops mid-write, %llu storms, %llu reconnects, %llu errors\n",
              static_cast<unsigned long long>(f.drops), static_cast<unsigned long long>(f.storms),
              static_cast<unsigned long long>(f.reconnects),
              static_cast<unsigned long long>(f.errors));
  if (f.server_died) {
    std::printf("  the server died: delivery is checked by --verify after its restart\n");
  } else {
    std::printf("  verification: lost %llu  duplicated %llu\n",
                static_cast<unsigned long long>(f.lost),
                static_cast<unsigned long long>(f.duplicated));
  }
  if (!f.rss_kib.empty()) {
    std::printf("  server RSS KiB:");
    for (long k : f.rss_kib) std::printf(" %ld", k);
    std::printf("\n");
  }
  std::printf("%s\n", f.toJson().dump().c_str());
  return f.lost == 0 && f.duplicated == 0 ? 0 : 1;
}
