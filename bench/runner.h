// Runner: one parley-bench worker process. It prepares its users (register,
// befriend, create/join groups: idempotent, so accounts are reused across
// runs), logs every connection in (by resume token when it has one), then
// runs the scenario on one Asio loop and measures it:
//   connect  N idle logged-in connections held for the duration
//   direct   pairs of friends sending 1:1 messages to each other
//   group    groups of G members, some of whom send (fan-out to G-1)
//   mixed    direct pairs + groups + idle connections at once
//   login    N connections that connect, log in (password or resume) and
//            hang up, again and again: logins per second and their latency
// Verification runs alongside, per recipient and by message id: every
// acknowledged message must reach each of its recipients exactly once (a
// count and a hash of the ids owed against those received, so an extra
// delivery to one member cannot hide a missing one elsewhere), and each
// recipient's seqs must only increase.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bench_client.h"
#include "figures.h"

namespace parley::bench {

class Runner {
 public:
  explicit Runner(const Options& o);
  // Runs the whole scenario; fills `out`. Returns 0, or 1 on setup failure.
  int run(Figures* out);

 private:
  using Clock = std::chrono::steady_clock;
  enum class Kind { kIdle, kDirect, kGroup };

  // One user's connection and what it has seen.
  struct Conn {
    std::shared_ptr<BenchClient> client;
    std::string name;
    std::string target;  // direct: the friend; group: the group name
    Kind kind = Kind::kIdle;
    bool sender = false;
    bool logged_in = false;
    bool resuming = false;  // the pending login is a resume
    // The connection failed after logging in (the server closed it, or the
    // network did): its sends stop, and what it was owed cannot be checked,
    // so it leaves the verification and the run counts it as dropped.
    bool dropped = false;
    int in_flight = 0;
    int64_t last_seq = 0, acked_seq = 0;
    uint64_t since_ack = 0;
    // Who receives this connection's messages: conns_[peers_begin, peers_end)
    // except itself (its friend, or its group's members).
    size_t peers_begin = 0, peers_end = 0;
    // Messages of the measured run owed to this recipient and received by
    // it: how many, and the sum of a hash of their ids.
    uint64_t owed = 0, got = 0, owed_ids = 0, got_ids = 0;
    // Sends of a peer that dropped before their answers came: stored or
    // not, nobody knows, so up to this many deliveries here are owed to no
    // ack (Runner::drop).
    uint64_t uncertain = 0;
    int64_t login_started_ns = 0;
  };

  void buildUsers();
  bool setupAccounts();
  void loadTokens();
  void saveTokens();

  // Connection set-up, at most o_.ramp at a time.
  void rampNext();
  void connect(size_t i);
  void sendLogin(size_t i);
  void onLoggedIn(size_t i, std::string_view line);
  void onLine(size_t i, std::string_view line);
  void onEvent(Conn& c, std::string_view line);
  void onSendReply(Conn& c, std::string_view line);
  void verify();

  void start();
  // Sends one message from `c`; false when the run is over or `c` dropped.
  bool sendFrom(Conn& c);
  void tick();
  void ackUpTo(Conn& c);
  void maybeFinish();
  void drainCheck(uint64_t seen);
  void progress();
  void finish();
  void fail(const std::string& why);
  bool measuring() const { return started_ns_ > 0 && !finished_; }
  void drop(size_t i, const std::string& why);

  const Options& o_;
  std::string prefix_;
  boost::asio::io_context io_;
  std::vector<Conn> conns_;
  std::vector<size_t> senders_;                          // indexes of sending connections
  std::unordered_map<std::string, std::string> tokens_;  // user name -> resume token
  Figures figures_;
  size_t next_to_connect_ = 0;  // ramp position
  size_t setting_up_ = 0;       // connections connecting or logging in
  size_t ready_ = 0;            // logged in (first time)
  bool sending_ = false, finished_ = false, setup_failed_ = false;
  size_t next_sender_ = 0;
  size_t dropped_senders_ = 0;
  uint64_t in_flight_ = 0;
  // Deliveries owed to connected recipients and not received yet: the sum
  // over them of max(0, owed - got). The run ends when it and in_flight_
  // are 0.
  uint64_t awaited_ = 0;
  Clock::time_point ramp_started_, started_, deadline_;
  Clock::time_point last_progress_;  // last ack or delivery
  Clock::time_point tick_due_{};     // paced mode: when the send tick should fire
  int64_t started_ns_ = 0;
  uint64_t last_acked_ = 0, last_delivered_ = 0, last_logins_ = 0;
  std::unique_ptr<boost::asio::steady_timer> timer_, drain_timer_, progress_timer_, fault_timer_;
};

}  // namespace parley::bench
