// Options of parley-bench and Figures, what one worker process measures.
// Workers send their Figures to the parent as one JSON line; the parent adds
// them up (counts add, histograms merge).
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "latency_histogram.h"

namespace parley::bench {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 7000;
  // Several servers (cluster nodes): worker process w connects to
  // ports[w % ports.size()] instead of `port`, so one run can hold more
  // connections than one server process may (20,000 files each here).
  std::vector<uint16_t> ports;
  // connect | direct | group | mixed | login
  std::string scenario = "direct";
  int pairs = 50;        // direct, mixed: pairs of friends
  int users = 1000;      // connect, login, mixed: connections (idle, or churning for login)
  int groups = 2;        // group, mixed: number of groups
  int group_size = 100;  // group, mixed: members per group
  int senders = 0;       // group, mixed: members per group that send (0 = 1)
  double rate = 0;       // messages/s for the whole process; 0 = as fast as the window allows
  int window = 4;        // in-flight sends per sending connection when rate is 0
  int tick_us = 1000;    // paced mode: how often the messages that are due go out
  double duration = 10;  // seconds of measured load
  int procs = 1;
  int sources = 8;  // local addresses 127.0.0.1 .. 127.0.0.N
  int server_pid = 0;
  // How connections log in: "resume" (a token saved by an earlier run, or a
  // password login the first time) or "password" (argon2id every time).
  std::string login = "resume";
  std::string token_dir = "/tmp/parley-bench-tokens";
  int ramp = 256;       // connections being set up at once (connect/login ramp)
  double progress = 5;  // seconds between progress lines on stderr (0 = none)
  std::string prefix = "bench";
  std::string password = "benchpass";
  int worker = -1;  // internal: index of this worker process
  // Fault injection (direct, group, mixed): this many connections of each
  // process hang up 1 s into the load, so the dropped-connection accounting
  // can be tested.
  int fault_drop = 0;
};

struct Figures {
  uint64_t sent = 0, acked = 0, delivered = 0, errors = 0, connections = 0;
  // Deliveries the acked messages owe to recipients still connected (1 per
  // 1:1, G-1 per group, less those of connections that dropped).
  uint64_t expected = 0;
  // Verification, per recipient (Runner::finish): deliveries owed and not
  // received, received beyond those owed, recipients that got as many as
  // they were owed but not the same messages, and deliveries whose seq did
  // not follow the recipient's last one. All must be 0.
  uint64_t lost = 0, duplicates = 0, mismatched = 0, out_of_order = 0;
  // Connections that failed after logging in (Runner::drop): left out of
  // the verification above, and a failed run of their own.
  uint64_t dropped = 0;
  uint64_t logins = 0;   // successful login/resume answers in the measured window
  uint64_t resumes = 0;  // of which by resume
  double seconds = 0;
  double setup_seconds = 0;        // connect: time to get every connection logged in
  LatencyHistogram latency;        // message send -> recipient receive, microseconds
  LatencyHistogram login_latency;  // connect -> login/resume answer, microseconds
  // Paced runs: how late this process's 1 ms send tick fired, microseconds.
  // The bench's own scheduling delay, which every latency above includes.
  LatencyHistogram tick_lag;

  nlohmann::json toJson() const {
    return nlohmann::json{{"sent", sent},
                          {"acked", acked},
                          {"delivered", delivered},
                          {"expected", expected},
                          {"lost", lost},
                          {"dup", duplicates},
                          {"mismatched", mismatched},
                          {"out_of_order", out_of_order},
                          {"dropped", dropped},
                          {"errors", errors},
                          {"connections", connections},
                          {"logins", logins},
                          {"resumes", resumes},
                          {"seconds", seconds},
                          {"setup_seconds", setup_seconds},
                          {"hist", latency.serialize()},
                          {"login_hist", login_latency.serialize()},
                          {"tick_lag_hist", tick_lag.serialize()}};
  }
  void add(const nlohmann::json& j) {
    sent += j["sent"].get<uint64_t>();
    acked += j["acked"].get<uint64_t>();
    delivered += j["delivered"].get<uint64_t>();
    expected += j["expected"].get<uint64_t>();
    lost += j["lost"].get<uint64_t>();
    duplicates += j["dup"].get<uint64_t>();
    mismatched += j["mismatched"].get<uint64_t>();
    out_of_order += j["out_of_order"].get<uint64_t>();
    dropped += j["dropped"].get<uint64_t>();
    errors += j["errors"].get<uint64_t>();
    connections += j["connections"].get<uint64_t>();
    logins += j["logins"].get<uint64_t>();
    resumes += j["resumes"].get<uint64_t>();
    seconds = std::max(seconds, j["seconds"].get<double>());
    setup_seconds = std::max(setup_seconds, j["setup_seconds"].get<double>());
    latency.deserializeAndMerge(j["hist"].get<std::string>());
    login_latency.deserializeAndMerge(j["login_hist"].get<std::string>());
    tick_lag.deserializeAndMerge(j["tick_lag_hist"].get<std::string>());
  }
};

}  // namespace parley::bench
