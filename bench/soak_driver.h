// SoakDriver: parley-soak's load with faults. Users chat 1:1 (pairs of
// friends) and in groups at a steady rate for the whole run, while faults
// are injected: a connection that dies in the middle of writing a request,
// then reconnects and logs in again; and reconnect storms, where a share of
// all connections drop at once and come back together. Every message the
// server acknowledges is checked to reach every recipient (DeliveryLedger),
// repeats within one login are duplicates, and the server's RSS is sampled.
// With an acked log it also serves crash tests: recipients never ack, every
// acknowledged message is written to the log, and a server that dies ends
// the run; `parley-soak --verify` checks the log after the restart.
//
// One Asio loop on the calling thread; not thread safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "acked_log.h"
#include "bench_client.h"
#include "delivery_ledger.h"

namespace parley::bench {

struct SoakOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7000;
  int pairs = 20;                  // pairs of friends chatting 1:1
  int groups = 2;                  // groups ...
  int group_size = 10;             // ... of this many members, each of whom sends
  double rate = 200;               // messages per second, all senders together (0 = as fast as
                                   // `window` sends in flight per connection allow)
  int window = 4;                  // sends in flight per connection, at most
  double duration = 60;            // seconds of load (faults stop with it)
  int drop_every_ms = 0;           // one connection dies mid-write every N ms (0 = never)
  double storm_every = 0;          // every N s a share of all connections drop at once (0 = never)
  double storm_share = 0.5;        // that share
  int server_pid = 0;              // for RSS samples
  double rss_every = 0;            // seconds between samples of the server's RSS (0 = none)
  std::string acked_log;           // crash tests: log acknowledged messages; recipients never ack
  bool until_server_dies = false;  // a broken connection ends the run (the server was killed)
  std::string prefix;              // user names start with it (default: unique per run)
  std::string password = "soakpass1";
  int sources = 8;  // local addresses 127.0.0.1 .. 127.0.0.N
};

struct SoakFigures {
  uint64_t sent = 0, acked = 0, rejected = 0;  // rejected: answered with an error
  uint64_t delivered = 0, redelivered = 0, duplicated = 0, lost = 0;
  uint64_t drops = 0, storms = 0, reconnects = 0, errors = 0;
  double seconds = 0;
  bool server_died = false;
  std::vector<long> rss_kib;  // server RSS samples, every rss_every seconds
  nlohmann::json toJson() const;
};

class SoakDriver {
 public:
  explicit SoakDriver(const SoakOptions& options);
  // Sets up the users, runs the load, drains. 0, or 1 if setup failed.
  int run(SoakFigures* out);

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn {
    std::string name;
    size_t peer = SIZE_MAX;  // 1:1: the friend's index
    int group = -1;          // group: its index
    std::shared_ptr<BenchClient> client;
    uint64_t gen = 0;  // bumped at every (re)connect: older sockets' callbacks are ignored
    bool up = false;   // logged in
    int in_flight = 0;
    int64_t session_seq = 0;  // highest seq received since this login
    int64_t max_seq = 0;      // highest seq ever received
    int64_t acked_seq = 0;    // highest seq acked to the server
  };

  bool setup();
  void connect(size_t i);
  void onLine(size_t i, std::string_view line);
  void onEvent(size_t i, const nlohmann::json& e);
  void onError(size_t i, const std::string& what);
  void start();
  void tick();
  void sendFrom(size_t i);
  // Without a rate: keep `window` sends in flight on connection i.
  void fillWindow(size_t i);
  void ackAll();
  void drop();
  void storm();
  void reconnectLater(size_t i, std::chrono::milliseconds delay);
  void sampleRss();
  void checkDrained();
  void finish();
  // Runs `fn` every `period` until the run finishes.
  void every(std::chrono::milliseconds period, std::function<void()> fn);

  const SoakOptions& o_;
  boost::asio::io_context io_;
  std::vector<Conn> conns_;
  std::vector<std::vector<size_t>> members_;  // group index -> member indexes
  std::vector<std::string> group_names_;
  DeliveryLedger ledger_;
  AckedLog log_;
  SoakFigures figures_;
  std::mt19937 rng_{std::random_device{}()};
  size_t ready_ = 0;
  size_t next_sender_ = 0;
  int64_t next_rid_ = 1;
  bool started_ = false, sending_ = false, finished_ = false;
  Clock::time_point started_at_, deadline_;
  uint64_t paced_ = 0;  // send slots used by the pacing (rate > 0)
  std::vector<std::shared_ptr<boost::asio::steady_timer>> timers_;
  std::vector<std::shared_ptr<std::function<void()>>> loops_;  // what every() repeats
};

}  // namespace parley::bench
