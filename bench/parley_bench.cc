// parley-bench: load generator for the Parley protocol. Many connections per
// process on one Asio loop, several processes (--procs) whose figures are
// added up (each process may hold at most 20,000 files here). It measures
// end-to-end latency (send -> recipient receive, both in one process),
// throughput sent / acked / delivered, logins per second, server memory, and
// it verifies while it measures: every acknowledged message must be delivered
// exactly once.
//
//   parley-bench --port 7000 --scenario direct --pairs 100 --duration 10
//   parley-bench --scenario connect --users 9500 --procs 2 --server-pid PID
//   parley-bench --scenario group --groups 4 --group-size 500 --rate 2000
//   parley-bench --scenario login --login password --users 16
//
// Output: progress lines on stderr, a human summary, then one JSON line (for
// scripts). Exit status 1 when any message was lost or duplicated, when a
// connection dropped mid-run (what it was owed could not be checked), or on
// setup errors.
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "figures.h"
#include "runner.h"

namespace parley::bench {
namespace {

using nlohmann::json;

long rssKiB(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
    in.ignore(256, '\n');
  }
  return 0;
}

// Kernel memory of all TCP sockets on the machine, in KiB (the "mem" pages
// of /proc/net/sockstat). Socket buffers are kernel memory: they are not in
// any process's RSS, so they are reported apart. On loopback both ends of
// every connection are counted.
long tcpKernelKiB() {
  std::ifstream in("/proc/net/sockstat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("TCP:", 0) != 0) continue;
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      if (w == "mem") {
        long pages = 0;
        words >> pages;
        return pages * (sysconf(_SC_PAGESIZE) / 1024);
      }
    }
  }
  return 0;
}

void raiseFileLimit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace
}  // namespace parley::bench

int main(int argc, char** argv) {
  using namespace parley::bench;
  Options o;
  CLI::App app{"parley-bench: load and verify a Parley server"};
  app.add_option("--host", o.host);
  app.add_option("--port", o.port);
  app.add_option("--ports", o.ports,
                 "several servers: worker process w connects to the (w mod N)th port")
      ->delimiter(',');
  app.add_option("--scenario", o.scenario, "connect | direct | group | mixed | login")
      ->check(CLI::IsMember({"connect", "direct", "group", "mixed", "login"}));
  app.add_option("--pairs", o.pairs, "direct, mixed: pairs of friends per process");
  app.add_option("--users", o.users,
                 "connect, login, mixed: idle/churning connections per process");
  app.add_option("--groups", o.groups, "group, mixed: groups per process");
  app.add_option("--group-size", o.group_size, "group, mixed: members per group");
  app.add_option("--senders", o.senders, "group, mixed: sending members per group (default 1)");
  app.add_option("--rate", o.rate,
                 "messages/s per process (0 = window-limited, as fast as possible)");
  app.add_option("--tick-us", o.tick_us,
                 "with --rate: send what is due every this many microseconds (a burst each)")
      ->check(CLI::Range(50, 100000));
  app.add_option("--window", o.window, "in-flight sends per connection when --rate is 0");
  app.add_option("--duration", o.duration, "seconds of load");
  app.add_option("--procs", o.procs, "worker processes (figures are added up)");
  app.add_option("--sources", o.sources, "local source addresses 127.0.0.1..N");
  app.add_option("--server-pid", o.server_pid, "read the server's RSS from /proc");
  app.add_option("--login", o.login, "resume (token from an earlier run) | password")
      ->check(CLI::IsMember({"resume", "password"}));
  app.add_option("--token-dir", o.token_dir, "where resume tokens are kept between runs");
  app.add_option("--ramp", o.ramp, "connections being set up at once");
  app.add_option("--progress", o.progress, "seconds between progress lines (0 = none)");
  app.add_option("--prefix", o.prefix, "user name prefix (reuse across runs)");
  app.add_option("--worker", o.worker)->group("");
  app.add_option("--fault-drop", o.fault_drop,
                 "fault injection (direct, group, mixed): this many connections per process hang "
                 "up 1 s into the load (reported as dropped; the run exits 1)");
  CLI11_PARSE(app, argc, argv);
  raiseFileLimit();

  long rss_before = rssKiB(o.server_pid);
  long tcp_before = tcpKernelKiB();
  Figures total;
  int status = 0;
  std::vector<pollfd> fds;
  std::vector<pid_t> pids;
  std::vector<std::string> outs(static_cast<size_t>(o.procs));
  for (int w = 0; w < o.procs; ++w) {
    int fd[2];
    if (pipe(fd) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
      close(fd[0]);
      Options mine = o;
      mine.worker = w;
      if (!o.ports.empty()) mine.port = o.ports[static_cast<size_t>(w) % o.ports.size()];
      Figures f;
      int rc = Runner(mine).run(&f);
      std::string line = f.toJson().dump() + "\n";
      (void)!write(fd[1], line.data(), line.size());
      _exit(rc);
    }
    close(fd[1]);
    fds.push_back(pollfd{fd[0], POLLIN, 0});
    pids.push_back(pid);
  }
  // Wait for the workers' results; meanwhile sample the server's memory
  // (the connect scenario holds its connections until it reports).
  long rss_loaded = 0, tcp_loaded = 0;
  size_t open_pipes = fds.size();
  while (open_pipes > 0) {
    rss_loaded = std::max(rss_loaded, rssKiB(o.server_pid));
    tcp_loaded = std::max(tcp_loaded, tcpKernelKiB());
    if (poll(fds.data(), fds.size(), 200) <= 0) continue;
    for (size_t w = 0; w < fds.size(); ++w) {
      if (fds[w].fd < 0 || !(fds[w].revents & (POLLIN | POLLHUP))) continue;
      char buf[65536];
      ssize_t n = read(fds[w].fd, buf, sizeof buf);
      if (n > 0) {
        outs[w].append(buf, static_cast<size_t>(n));
      } else {
        close(fds[w].fd);
        fds[w].fd = -1;
        open_pipes--;
      }
    }
  }
  for (size_t w = 0; w < pids.size(); ++w) {
    int ws = 0;
    waitpid(pids[w], &ws, 0);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) status = 1;
    json j = json::parse(outs[w], nullptr, false);
    if (!j.is_discarded() && j.is_object()) total.add(j);
  }

  const LatencyHistogram& h = total.latency;
  const LatencyHistogram& lh = total.login_latency;
  double secs = std::max(total.seconds, 1e-9);
  bool messages = o.scenario != "connect" && o.scenario != "login";
  std::printf("parley-bench %s: %d proc(s), %llu connections\n", o.scenario.c_str(), o.procs,
              ull(total.connections));
  if (messages) {
    std::printf("  sent %llu  acked %llu (%.0f/s)  delivered %llu (%.0f/s)  errors %llu\n",
                ull(total.sent), ull(total.acked), total.acked / secs, ull(total.delivered),
                total.delivered / secs, ull(total.errors));
    std::printf("  latency us: p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n",
                ull(h.percentile(0.50)), ull(h.percentile(0.90)), ull(h.percentile(0.99)),
                ull(h.percentile(0.999)), ull(h.max()));
    if (o.rate > 0) {
      const LatencyHistogram& tl = total.tick_lag;
      std::printf(
          "  bench send-tick lag us (its own scheduling delay): p99 %llu  p99.9 %llu  max %llu\n",
          ull(tl.percentile(0.99)), ull(tl.percentile(0.999)), ull(tl.max()));
    }
    std::printf("  verification: lost %llu  duplicated %llu  out of order %llu  mismatched %llu\n",
                ull(total.lost), ull(total.duplicates), ull(total.out_of_order),
                ull(total.mismatched));
    if (total.dropped) {
      std::printf("  %llu connection(s) dropped mid-run: their deliveries were not verified\n",
                  ull(total.dropped));
    }
  } else {
    double login_secs = o.scenario == "login" ? secs : std::max(total.setup_seconds, 1e-9);
    std::printf("  %s: %llu logins (%llu by resume) in %.1f s: %.0f/s  errors %llu\n",
                o.scenario == "login" ? "login storm" : "ramp", ull(total.logins),
                ull(total.resumes), login_secs, total.logins / login_secs, ull(total.errors));
    std::printf("  connect+login latency us: p50 %llu  p99 %llu  max %llu\n",
                ull(lh.percentile(0.50)), ull(lh.percentile(0.99)), ull(lh.max()));
  }
  long rss_delta = rss_loaded - rss_before;
  long tcp_delta = tcp_loaded - tcp_before;
  double conns = total.connections ? static_cast<double>(total.connections) : 1.0;
  if (o.server_pid) {
    std::printf(
        "  server RSS: %ld KiB before, %ld KiB loaded: %.0f bytes/connection (user space)\n",
        rss_before, rss_loaded, rss_delta * 1024.0 / conns);
  }
  std::printf("  kernel TCP memory (both ends, whole machine): +%ld KiB: %.0f bytes/connection\n",
              tcp_delta, tcp_delta * 1024.0 / conns);
  double login_secs = o.scenario == "login" ? secs : std::max(total.setup_seconds, 1e-9);
  json summary{{"scenario", o.scenario},
               {"procs", o.procs},
               {"connections", total.connections},
               {"sent", total.sent},
               {"acked", total.acked},
               {"delivered", total.delivered},
               {"acked_per_s", total.acked / secs},
               {"delivered_per_s", total.delivered / secs},
               {"errors", total.errors},
               {"lost", total.lost},
               {"duplicated", total.duplicates},
               {"out_of_order", total.out_of_order},
               {"mismatched", total.mismatched},
               {"dropped_connections", total.dropped},
               {"p50_us", h.percentile(0.50)},
               {"p90_us", h.percentile(0.90)},
               {"p99_us", h.percentile(0.99)},
               {"p999_us", h.percentile(0.999)},
               {"max_us", h.max()},
               {"tick_lag_p99_us", total.tick_lag.percentile(0.99)},
               {"tick_lag_max_us", total.tick_lag.max()},
               {"logins", total.logins},
               {"resumes", total.resumes},
               {"logins_per_s", total.logins / login_secs},
               {"login_p50_us", lh.percentile(0.50)},
               {"login_p99_us", lh.percentile(0.99)},
               {"setup_seconds", total.setup_seconds},
               {"server_rss_kib_before", rss_before},
               {"server_rss_kib_loaded", rss_loaded},
               {"rss_bytes_per_connection", rss_delta * 1024.0 / conns},
               {"kernel_tcp_kib_delta", tcp_delta}};
  std::printf("%s\n", summary.dump().c_str());
  if (total.lost || total.duplicates || total.out_of_order || total.mismatched || total.dropped) {
    status = 1;
  }
  return status;
}
