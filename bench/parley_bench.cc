// parley-bench: load generator for the Parley protocol. Many connections per
// process on one Asio loop, several processes (--procs) whose figures are
// added up. It measures end-to-end latency (send -> recipient receive, both in
// one process), throughput sent / acked / delivered, and it verifies while it
// measures: every acknowledged message must be delivered exactly once.
//
//   parley-bench --port 7000 --scenario direct --pairs 100 --duration 10
//   parley-bench --scenario connect --users 19000 --procs 2 --server-pid PID
//   parley-bench --scenario group --groups 4 --group-size 500 --rate 2000
//
// Output: a human summary, then one JSON line (for scripts). Exit status 1
// when any message was lost or duplicated, or on setup errors.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_client.h"
#include "latency_histogram.h"

namespace parley::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 7000;
  std::string scenario = "direct";
  int pairs = 50;        // direct: pairs of friends
  int users = 1000;      // connect: logged-in idle connections
  int groups = 2;        // group: number of groups
  int group_size = 100;  // group: members per group
  int senders = 0;       // group: members per group that send (0 = 1)
  double rate = 0;       // messages/s for the whole process; 0 = as fast as the window allows
  int window = 4;        // in-flight sends per sending connection when rate is 0
  double duration = 10;  // seconds of measured load
  int procs = 1;
  int sources = 8;  // local addresses 127.0.0.1 .. 127.0.0.N
  int server_pid = 0;
  std::string prefix = "bench";
  std::string password = "benchpass";
  int worker = -1;  // internal: index of this worker process
};

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

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Everything one worker process measures; added up across processes.
struct Figures {
  uint64_t sent = 0, acked = 0, delivered = 0, duplicates = 0, errors = 0, connections = 0;
  uint64_t expected = 0;  // deliveries the acked messages owe (1 per 1:1, G-1 per group)
  double seconds = 0;
  LatencyHistogram latency;
  json toJson() const {
    return json{{"sent", sent},
                {"acked", acked},
                {"delivered", delivered},
                {"expected", expected},
                {"dup", duplicates},
                {"errors", errors},
                {"connections", connections},
                {"seconds", seconds},
                {"hist", latency.serialize()}};
  }
  void add(const json& j) {
    sent += j["sent"].get<uint64_t>();
    acked += j["acked"].get<uint64_t>();
    delivered += j["delivered"].get<uint64_t>();
    expected += j["expected"].get<uint64_t>();
    duplicates += j["dup"].get<uint64_t>();
    errors += j["errors"].get<uint64_t>();
    connections += j["connections"].get<uint64_t>();
    seconds = std::max(seconds, j["seconds"].get<double>());
    latency.deserializeAndMerge(j["hist"].get<std::string>());
  }
};

// One user's connection and what it has seen.
struct Conn {
  std::shared_ptr<BenchClient> client;
  std::string name;
  std::string target;  // direct: friend to send to; group: group name
  bool sender = false;
  int in_flight = 0;
  int64_t last_seq = 0, acked_seq = 0;
  uint64_t since_ack = 0;
  int64_t rid = 0;
};

class Runner {
 public:
  explicit Runner(const Options& o) : o_(o) {}

  int run(Figures* out) {
    prefix_ = o_.prefix + (o_.worker >= 0 ? "w" + std::to_string(o_.worker) + "_" : "_");
    buildUsers();
    if (!setupAccounts()) return 1;
    connectAll();
    io_.run();
    *out = figures_;
    return setup_failed_ ? 1 : 0;
  }

 private:
  void buildUsers() {
    if (o_.scenario == "direct") {
      for (int i = 0; i < o_.pairs; ++i) {
        std::string a = prefix_ + "a" + std::to_string(i), b = prefix_ + "b" + std::to_string(i);
        conns_.push_back({nullptr, a, b, true});
        conns_.push_back({nullptr, b, a, true});
      }
    } else if (o_.scenario == "group") {
      int senders = std::max(1, o_.senders);
      for (int g = 0; g < o_.groups; ++g) {
        std::string group = prefix_ + "g" + std::to_string(g);
        for (int m = 0; m < o_.group_size; ++m) {
          conns_.push_back({nullptr, prefix_ + "g" + std::to_string(g) + "m" + std::to_string(m),
                            group, m < senders});
        }
      }
    } else {  // connect
      for (int i = 0; i < o_.users; ++i) {
        conns_.push_back({nullptr, prefix_ + "c" + std::to_string(i), "", false});
      }
    }
  }

  // Registers every user on one pipelined connection (conflict = already
  // registered by an earlier run: fine). Blocking, before the load starts.
  bool setupAccounts() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address(o_.host), o_.port}, ec);
    if (ec) {
      std::cerr << "cannot connect to " << o_.host << ":" << o_.port << ": " << ec.message()
                << "\n";
      return false;
    }
    // One pipelined batch: register everyone, then as each owner/friend
    // log in, befriend or create/join, log out. "conflict" answers mean an
    // earlier run did it already.
    std::vector<json> reqs;
    for (const auto& c : conns_) {
      reqs.push_back({{"op", "register"}, {"name", c.name}, {"password", o_.password}});
    }
    auto as = [&](const std::string& name, json op) {
      reqs.push_back({{"op", "login"}, {"name", name}, {"password", o_.password}});
      reqs.push_back(std::move(op));
      reqs.push_back({{"op", "logout"}});
    };
    for (const auto& c : conns_) {
      if (o_.scenario == "direct" && c.name < c.target) {
        as(c.name, {{"op", "add_friend"}, {"user", c.target}});
      } else if (o_.scenario == "group") {
        bool owner = c.name.ends_with("m0");
        as(c.name, owner ? json{{"op", "create_group"}, {"name", c.target}}
                         : json{{"op", "join_group"}, {"group", c.target}});
      }
    }
    std::string batch;
    for (const auto& r : reqs) batch += r.dump() + "\n";
    boost::asio::write(s, boost::asio::buffer(batch));
    boost::asio::streambuf buf;
    for (size_t i = 0; i < reqs.size(); ++i) {
      boost::asio::read_until(s, buf, '\n', ec);
      if (ec) return false;
      std::istream in(&buf);
      std::string line;
      std::getline(in, line);
      json r = json::parse(line, nullptr, false);
      if (r.is_discarded() || r.contains("event")) {
        --i;  // events (friend_added, presence) are not answers
        continue;
      }
      if (!r.value("ok", false) && r["error"].value("code", "") != "conflict") {
        std::cerr << "setup step failed: " << reqs[i].dump() << " -> " << line << "\n";
        return false;
      }
    }
    return true;
  }

  void connectAll() {
    for (size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      c.client = std::make_shared<BenchClient>(
          io_, [this, i](std::string_view line) { onLine(i, line); },
          [this](const std::string& e) {
            figures_.errors++;
            if (!finished_) std::cerr << "connection error: " << e << "\n";
          });
      std::string source = "127.0.0." + std::to_string(1 + i % std::max(1, o_.sources));
      c.client->connect(source, o_.host, o_.port, [this, i] {
        Conn& c = conns_[i];
        c.client->send(
            json{{"op", "login"}, {"name", c.name}, {"password", o_.password}, {"rid", "login"}}
                .dump());
      });
    }
  }

  void onLine(size_t i, std::string_view line) {
    Conn& c = conns_[i];
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      figures_.errors++;
      return;
    }
    if (j.contains("event")) {
      onEvent(c, j);
      return;
    }
    const json& rid = j["rid"];
    bool ok = j.value("ok", false);
    if (rid == "login") {
      if (!ok) return fail("login failed for " + c.name + ": " + std::string(line));
      return ready();
    }
    if (rid == "ack") return;
    // A send / group_send response.
    c.in_flight--;
    if (ok) {
      figures_.acked++;
      figures_.expected += o_.scenario == "group" ? static_cast<uint64_t>(o_.group_size - 1) : 1;
    } else {
      figures_.errors++;
    }
    if (o_.rate == 0 && sending_) sendFrom(c);
    maybeFinish();
  }

  void ready() {
    if (++ready_ == conns_.size()) start();
  }

  void start() {
    figures_.connections = conns_.size();
    if (o_.server_pid) rss_loaded_ = rssKiB(o_.server_pid);
    started_ = Clock::now();
    start_ns_ = nowNs();
    if (o_.scenario == "connect") {
      timer_ = std::make_unique<boost::asio::steady_timer>(io_);
      timer_->expires_after(
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.duration)));
      timer_->async_wait([this](auto) { finish(); });
      return;
    }
    sending_ = true;
    deadline_ = started_ + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o_.duration));
    if (o_.rate > 0) {
      tick();
    } else {
      for (auto& c : conns_) {
        for (int w = 0; w < o_.window && c.sender; ++w) sendFrom(c);
      }
    }
    progress();
  }

  void sendFrom(Conn& c) {
    if (Clock::now() >= deadline_) {
      sending_ = false;
      return;
    }
    std::string text = std::to_string(nowNs());
    json req = o_.scenario == "group"
                   ? json{{"op", "group_send"}, {"group", c.target}, {"text", text}}
                   : json{{"op", "send"}, {"to", c.target}, {"text", text}};
    c.client->send(req.dump());
    c.in_flight++;
    figures_.sent++;
  }

  // Paced mode: every millisecond, send the messages that are due.
  void tick() {
    if (Clock::now() >= deadline_) {
      sending_ = false;
      maybeFinish();
      return;
    }
    double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    uint64_t due = static_cast<uint64_t>(elapsed * o_.rate);
    while (figures_.sent < due) {
      Conn& c = conns_[next_sender_++ % conns_.size()];
      if (c.sender) sendFrom(c);
    }
    timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    timer_->expires_after(std::chrono::milliseconds(1));
    timer_->async_wait([this](auto) { tick(); });
  }

  void onEvent(Conn& c, const json& e) {
    const std::string kind = e.value("event", "");
    if (kind != "message" && kind != "group_message") return;
    int64_t seq = e.value("seq", int64_t{0});
    if (seq <= c.last_seq) {
      figures_.duplicates++;
      return;
    }
    c.last_seq = seq;
    int64_t sent_ns = 0;
    try {
      sent_ns = std::stoll(e.value("text", "0"));
    } catch (const std::exception&) {
    }
    if (sent_ns >= start_ns_ && start_ns_ > 0) {
      figures_.delivered++;
      figures_.latency.record(static_cast<uint64_t>((nowNs() - sent_ns) / 1000));
    }
    // Ack in batches, as a real client would, so the server's inbox moves.
    if (++c.since_ack >= 64) ackUpTo(c);
    maybeFinish();
  }

  void ackUpTo(Conn& c) {
    c.since_ack = 0;
    if (c.last_seq <= c.acked_seq) return;
    c.acked_seq = c.last_seq;
    c.client->send(json{{"op", "ack"}, {"up_to", c.last_seq}, {"rid", "ack"}}.dump());
  }

  void maybeFinish() {
    if (sending_ || finished_ || o_.scenario == "connect") return;
    if (!drain_timer_) {
      // Stop sending; wait for the deliveries owed (at most 10 s).
      drain_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
      drain_timer_->expires_after(std::chrono::seconds(10));
      drain_timer_->async_wait([this](auto ec) {
        if (!ec) finish();
      });
    }
    bool inflight = false;
    for (auto& c : conns_) inflight |= c.in_flight > 0;
    if (!inflight && figures_.delivered >= figures_.expected) finish();
  }

  void progress() {
    progress_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    progress_timer_->expires_after(std::chrono::seconds(5));
    progress_timer_->async_wait([this](auto ec) {
      if (ec || finished_) return;
      double t = std::chrono::duration<double>(Clock::now() - started_).count();
      std::cerr << "  [" << (o_.worker >= 0 ? o_.worker : 0) << "] " << static_cast<int>(t)
                << " s: acked " << figures_.acked << ", delivered " << figures_.delivered << "\n";
      progress();
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    figures_.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    if (o_.scenario != "connect") {
      // Measured time is the sending window, not the drain.
      figures_.seconds = std::min(figures_.seconds, o_.duration);
    }
    for (auto& c : conns_) ackUpTo(c);  // leave nothing for the next run's login
    auto closer = std::make_shared<boost::asio::steady_timer>(io_);
    closer->expires_after(std::chrono::milliseconds(300));
    closer->async_wait([this, closer](auto) {
      for (auto& c : conns_) c.client->close();
      if (timer_) timer_->cancel();
      if (drain_timer_) drain_timer_->cancel();
      if (progress_timer_) progress_timer_->cancel();
    });
  }

  void fail(const std::string& why) {
    std::cerr << why << "\n";
    setup_failed_ = true;
    finished_ = true;
    io_.stop();
  }

  const Options& o_;
  std::string prefix_;
  boost::asio::io_context io_;
  std::vector<Conn> conns_;
  Figures figures_;
  size_t ready_ = 0;
  bool sending_ = false, finished_ = false, setup_failed_ = false;
  size_t next_sender_ = 0;
  Clock::time_point started_, deadline_;
  int64_t start_ns_ = 0;
  long rss_loaded_ = 0;
  std::unique_ptr<boost::asio::steady_timer> timer_, drain_timer_, progress_timer_;

 public:
  long rssLoaded() const { return rss_loaded_; }
};

void raiseFileLimit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace
}  // namespace parley::bench

int main(int argc, char** argv) {
  using namespace parley::bench;
  Options o;
  CLI::App app{"parley-bench: load and verify a Parley server"};
  app.add_option("--host", o.host);
  app.add_option("--port", o.port);
  app.add_option("--scenario", o.scenario, "connect | direct | group")
      ->check(CLI::IsMember({"connect", "direct", "group"}));
  app.add_option("--pairs", o.pairs, "direct: pairs of friends per process");
  app.add_option("--users", o.users, "connect: connections per process");
  app.add_option("--groups", o.groups, "group: groups per process");
  app.add_option("--group-size", o.group_size, "group: members per group");
  app.add_option("--senders", o.senders, "group: sending members per group (default 1)");
  app.add_option("--rate", o.rate,
                 "messages/s per process (0 = window-limited, as fast as possible)");
  app.add_option("--window", o.window, "in-flight sends per connection when --rate is 0");
  app.add_option("--duration", o.duration, "seconds of load");
  app.add_option("--procs", o.procs, "worker processes (figures are added up)");
  app.add_option("--sources", o.sources, "local source addresses 127.0.0.1..N");
  app.add_option("--server-pid", o.server_pid, "read the server's RSS from /proc");
  app.add_option("--prefix", o.prefix, "user name prefix (reuse across runs)");
  app.add_option("--worker", o.worker)->group("");
  CLI11_PARSE(app, argc, argv);
  raiseFileLimit();

  long rss_before = rssKiB(o.server_pid);
  Figures total;
  int status = 0;
  std::vector<int> fds;
  std::vector<pid_t> pids;
  for (int w = 0; w < o.procs; ++w) {
    int fd[2];
    if (pipe(fd) != 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
      close(fd[0]);
      Options mine = o;
      mine.worker = w;
      Figures f;
      int rc = Runner(mine).run(&f);
      std::string line = f.toJson().dump() + "\n";
      (void)!write(fd[1], line.data(), line.size());
      _exit(rc);
    }
    close(fd[1]);
    fds.push_back(fd[0]);
    pids.push_back(pid);
  }
  long rss_loaded = 0;
  for (size_t w = 0; w < pids.size(); ++w) {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[w], buf, sizeof buf)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      // The connect scenario holds its connections; sample RSS meanwhile.
      rss_loaded = std::max(rss_loaded, rssKiB(o.server_pid));
    }
    int ws = 0;
    waitpid(pids[w], &ws, 0);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) status = 1;
    json j = json::parse(out, nullptr, false);
    if (!j.is_discarded() && j.is_object()) total.add(j);
  }

  const LatencyHistogram& h = total.latency;
  double secs = std::max(total.seconds, 1e-9);
  uint64_t lost = total.expected > total.delivered ? total.expected - total.delivered : 0;
  std::printf("parley-bench %s: %d proc(s), %llu connections\n", o.scenario.c_str(), o.procs,
              static_cast<unsigned long long>(total.connections));
  if (o.scenario != "connect") {
    std::printf("  sent %llu  acked %llu (%.0f/s)  delivered %llu (%.0f/s)  errors %llu\n",
                static_cast<unsigned long long>(total.sent),
                static_cast<unsigned long long>(total.acked), total.acked / secs,
                static_cast<unsigned long long>(total.delivered), total.delivered / secs,
                static_cast<unsigned long long>(total.errors));
    std::printf("  latency us: p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n",
                static_cast<unsigned long long>(h.percentile(0.50)),
                static_cast<unsigned long long>(h.percentile(0.90)),
                static_cast<unsigned long long>(h.percentile(0.99)),
                static_cast<unsigned long long>(h.percentile(0.999)),
                static_cast<unsigned long long>(h.max()));
    std::printf("  verification: lost %llu  duplicated %llu\n",
                static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(total.duplicates));
  }
  long rss_delta = rss_loaded - rss_before;
  if (o.server_pid) {
    std::printf("  server RSS: %ld KiB before, %ld KiB loaded (%.0f bytes/connection)\n",
                rss_before, rss_loaded,
                total.connections ? rss_delta * 1024.0 / total.connections : 0.0);
  }
  json summary{{"scenario", o.scenario},
               {"procs", o.procs},
               {"connections", total.connections},
               {"sent", total.sent},
               {"acked", total.acked},
               {"delivered", total.delivered},
               {"acked_per_s", total.acked / secs},
               {"delivered_per_s", total.delivered / secs},
               {"errors", total.errors},
               {"lost", lost},
               {"duplicated", total.duplicates},
               {"p50_us", h.percentile(0.50)},
               {"p90_us", h.percentile(0.90)},
               {"p99_us", h.percentile(0.99)},
               {"p999_us", h.percentile(0.999)},
               {"max_us", h.max()},
               {"server_rss_kib_before", rss_before},
               {"server_rss_kib_loaded", rss_loaded}};
  std::printf("%s\n", summary.dump().c_str());
  if (lost || total.duplicates) status = 1;
  return status;
}
