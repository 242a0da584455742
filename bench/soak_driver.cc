#include "soak_driver.h"

#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <fstream>
#include <iostream>

namespace parley::bench {

using nlohmann::json;

namespace {

long rssKiB(int pid) {
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

// How long the run waits, after the load, for the last deliveries and
// reconnections before it counts what is missing as lost.
constexpr std::chrono::seconds kDrainLimit{20};
// Recipients ack after this many messages, and every kAckPeriod.
constexpr int64_t kAckEvery = 32;
constexpr std::chrono::milliseconds kAckPeriod{500};

}  // namespace

json SoakFigures::toJson() const {
  return json{{"sent", sent},
              {"acked", acked},
              {"rejected", rejected},
              {"delivered", delivered},
              {"redelivered", redelivered},
              {"duplicated", duplicated},
              {"lost", lost},
              {"drops", drops},
              {"storms", storms},
              {"reconnects", reconnects},
              {"errors", errors},
              {"seconds", seconds},
              {"server_died", server_died},
              {"rss_kib", rss_kib}};
}

SoakDriver::SoakDriver(const SoakOptions& o)
    : o_(o), ledger_(static_cast<size_t>(2 * o.pairs + o.groups * o.group_size)) {
  std::string p = o.prefix;
  if (p.empty()) p = "s" + std::to_string(getpid() % 100000) + "_";
  for (int i = 0; i < o.pairs; ++i) {
    size_t a = conns_.size();
    Conn first, second;
    first.name = p + "p" + std::to_string(i) + "a";
    first.peer = a + 1;
    second.name = p + "p" + std::to_string(i) + "b";
    second.peer = a;
    conns_.push_back(first);
    conns_.push_back(second);
  }
  for (int g = 0; g < o.groups; ++g) {
    group_names_.push_back(p + "g" + std::to_string(g));
    members_.emplace_back();
    for (int m = 0; m < o.group_size; ++m) {
      members_.back().push_back(conns_.size());
      Conn c;
      c.name = p + "g" + std::to_string(g) + "m" + std::to_string(m);
      c.group = g;
      conns_.push_back(c);
    }
  }
}

int SoakDriver::run(SoakFigures* out) {
  if (!o_.acked_log.empty() && !log_.open(o_.acked_log)) {
    std::cerr << "cannot open " << o_.acked_log << "\n";
    return 1;
  }
  if (!setup()) return 1;
  for (size_t i = 0; i < conns_.size(); ++i) connect(i);
  io_.run();
  log_.flush();
  *out = figures_;
  return 0;
}

// Registers everyone and makes the friendships and groups over one
// pipelined connection, before the load.
bool SoakDriver::setup() {
  namespace asio = boost::asio;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address(o_.host), o_.port}, ec);
  if (ec) {
    std::cerr << "cannot connect to " << o_.host << ":" << o_.port << ": " << ec.message() << "\n";
    return false;
  }
  std::vector<json> reqs;
  for (const auto& c : conns_) {
    reqs.push_back({{"op", "register"}, {"name", c.name}, {"password", o_.password}});
  }
  auto as = [&](const std::string& name, json op) {
    reqs.push_back({{"op", "login"}, {"name", name}, {"password", o_.password}});
    reqs.push_back(std::move(op));
    reqs.push_back({{"op", "logout"}});
  };
  for (size_t i = 0; i < conns_.size(); ++i) {
    const Conn& c = conns_[i];
    if (c.group < 0 && i < c.peer)
      as(c.name, {{"op", "add_friend"}, {"user", conns_[c.peer].name}});
    if (c.group >= 0) {
      const std::string& g = group_names_[static_cast<size_t>(c.group)];
      bool owner = members_[static_cast<size_t>(c.group)].front() == i;
      as(c.name, owner ? json{{"op", "create_group"}, {"name", g}}
                       : json{{"op", "join_group"}, {"group", g}});
    }
  }
  std::string batch;
  for (const auto& r : reqs) batch += r.dump() + "\n";
  asio::write(s, asio::buffer(batch), ec);
  asio::streambuf buf;
  for (size_t answered = 0; answered < reqs.size();) {
    asio::read_until(s, buf, '\n', ec);
    if (ec) {
      std::cerr << "setup: " << ec.message() << "\n";
      return false;
    }
    std::istream in(&buf);
    std::string line;
    std::getline(in, line);
    json r = json::parse(line, nullptr, false);
    if (r.is_discarded() || r.contains("event")) continue;
    if (!r.value("ok", false) && r["error"].value("code", "") != "conflict") {
      std::cerr << "setup step failed: " << reqs[answered].dump() << " -> " << line << "\n";
      return false;
    }
    ++answered;
  }
  return true;
}

void SoakDriver::connect(size_t i) {
  Conn& c = conns_[i];
  uint64_t gen = ++c.gen;
  c.up = false;
  c.in_flight = 0;
  c.session_seq = 0;
  c.client = std::make_shared<BenchClient>(
      io_,
      [this, i, gen](std::string_view line) {
        if (conns_[i].gen == gen) onLine(i, line);
      },
      [this, i, gen](const std::string& what) {
        if (conns_[i].gen == gen) onError(i, what);
      });
  std::string source =
      "127.0.0." + std::to_string(1 + i % static_cast<size_t>(std::max(1, o_.sources)));
  c.client->connect(source, o_.host, o_.port, [this, i, gen] {
    Conn& c = conns_[i];
    if (c.gen != gen) return;
    c.client->send(
        json{{"op", "login"}, {"name", c.name}, {"password", o_.password}, {"rid", "login"}}
            .dump());
  });
}

void SoakDriver::onLine(size_t i, std::string_view line) {
  Conn& c = conns_[i];
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) {
    figures_.errors++;
    return;
  }
  if (j.contains("event")) return onEvent(i, j);
  const json& rid = j["rid"];
  bool ok = j.value("ok", false);
  if (rid == "login") {
    if (!ok) {
      figures_.errors++;
      std::cerr << "login failed for " << c.name << ": " << line << "\n";
      return reconnectLater(i, std::chrono::milliseconds(500));
    }
    c.up = true;
    if (!started_) {
      if (++ready_ == conns_.size()) start();
    } else {
      figures_.reconnects++;
      fillWindow(i);
    }
    return;
  }
  if (rid == "ack") return;
  // The answer to a send or group_send.
  c.in_flight--;
  if (!ok) {
    figures_.rejected++;
    return;
  }
  figures_.acked++;
  int64_t id = j["message"]["id"].get<int64_t>();
  auto owe = [&](size_t r) {
    ledger_.acked(r, id);
    log_.add(conns_[r].name, id);
  };
  if (c.group < 0) {
    owe(c.peer);
  } else {
    for (size_t m : members_[static_cast<size_t>(c.group)]) {
      if (m != i) owe(m);
    }
  }
  fillWindow(i);
}

void SoakDriver::onEvent(size_t i, const json& e) {
  Conn& c = conns_[i];
  std::string kind = e.value("event", "");
  if (kind != "message" && kind != "group_message") return;
  int64_t seq = e.value("seq", int64_t{0});
  if (seq <= c.session_seq) {
    figures_.duplicated++;  // within one login, seq only increases
    return;
  }
  c.session_seq = seq;
  if (seq <= c.max_seq) {
    figures_.redelivered++;  // replayed after a reconnect: not acked yet, as promised
    return;
  }
  c.max_seq = seq;
  figures_.delivered++;
  ledger_.delivered(i, e["id"].get<int64_t>());
  if (!log_.isOpen() && c.session_seq - c.acked_seq >= kAckEvery) {
    c.acked_seq = c.session_seq;
    c.client->send(json{{"op", "ack"}, {"up_to", c.session_seq}, {"rid", "ack"}}.dump());
  }
}

void SoakDriver::onError(size_t i, const std::string& what) {
  if (finished_) return;
  figures_.errors++;
  Conn& c = conns_[i];
  c.gen++;  // this socket is done
  c.up = false;
  c.client->close();
  if (o_.until_server_dies) {
    figures_.server_died = true;
    return finish();
  }
  std::cerr << c.name << ": " << what << "; reconnecting\n";
  reconnectLater(i, std::chrono::milliseconds(200));
}

void SoakDriver::every(std::chrono::milliseconds period, std::function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_);
  timers_.push_back(timer);
  auto loop = std::make_shared<std::function<void()>>();
  *loop = [this, timer, period, fn = std::move(fn), weak = std::weak_ptr(loop)] {
    timer->expires_after(period);
    timer->async_wait([this, fn, weak](const boost::system::error_code& ec) {
      if (ec || finished_) return;
      fn();
      if (auto l = weak.lock()) (*l)();
    });
  };
  loops_.push_back(loop);
  (*loop)();
}

void SoakDriver::start() {
  started_ = sending_ = true;
  started_at_ = Clock::now();
  // For a test or script that injects faults once the load is running.
  std::cerr << "  load started: " << conns_.size() << " connections logged in\n";
  deadline_ = started_at_ + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(o_.duration));
  sampleRss();
  every(std::chrono::milliseconds(5), [this] { tick(); });
  for (size_t i = 0; i < conns_.size(); ++i) fillWindow(i);
  if (!log_.isOpen()) every(kAckPeriod, [this] { ackAll(); });
  if (log_.isOpen()) every(std::chrono::milliseconds(50), [this] { log_.flush(); });
  if (o_.drop_every_ms > 0) {
    every(std::chrono::milliseconds(o_.drop_every_ms), [this] {
      if (sending_) drop();
    });
  }
  if (o_.storm_every > 0) {
    every(std::chrono::milliseconds(static_cast<int64_t>(o_.storm_every * 1000)), [this] {
      if (sending_) storm();
    });
  }
  if (o_.rss_every > 0 && o_.server_pid > 0) {
    every(std::chrono::milliseconds(static_cast<int64_t>(o_.rss_every * 1000)),
          [this] { sampleRss(); });
  }
  every(std::chrono::seconds(10), [this] {
    std::cerr << "  "
              << static_cast<int>(std::chrono::duration<double>(Clock::now() - started_at_).count())
              << " s: acked " << figures_.acked << ", delivered " << figures_.delivered
              << ", drops " << figures_.drops << ", storms " << figures_.storms << "\n";
  });
}

void SoakDriver::tick() {
  if (!sending_) return;
  if (Clock::now() >= deadline_) {
    sending_ = false;
    figures_.seconds = o_.duration;
    every(std::chrono::milliseconds(100), [this] { checkDrained(); });
    return;
  }
  if (o_.rate == 0) return;  // window-limited: answers trigger the next sends
  double elapsed = std::chrono::duration<double>(Clock::now() - started_at_).count();
  auto due = static_cast<uint64_t>(elapsed * o_.rate);
  // Senders that are down or at their window are skipped; what they owed is
  // sent by others, and at most one pass over everyone per tick.
  for (size_t tried = 0; paced_ < due && tried < conns_.size(); ++tried) {
    size_t i = next_sender_++ % conns_.size();
    if (conns_[i].up && conns_[i].in_flight < o_.window) {
      sendFrom(i);
      paced_++;
    }
  }
  auto one_second = static_cast<uint64_t>(o_.rate);
  if (paced_ + one_second < due) paced_ = due - one_second;  // no burst after a stall
}

void SoakDriver::fillWindow(size_t i) {
  while (sending_ && o_.rate == 0 && conns_[i].up && conns_[i].in_flight < o_.window) sendFrom(i);
}

void SoakDriver::sendFrom(size_t i) {
  Conn& c = conns_[i];
  std::string text = "soak " + std::to_string(next_rid_);
  json req = c.group < 0 ? json{{"op", "send"}, {"to", conns_[c.peer].name}, {"text", text}}
                         : json{{"op", "group_send"},
                                {"group", group_names_[static_cast<size_t>(c.group)]},
                                {"text", text}};
  req["rid"] = next_rid_++;
  c.client->send(req.dump());
  c.in_flight++;
  figures_.sent++;
}

void SoakDriver::ackAll() {
  for (auto& c : conns_) {
    if (c.up && c.session_seq > c.acked_seq) {
      c.acked_seq = c.session_seq;
      c.client->send(json{{"op", "ack"}, {"up_to", c.session_seq}, {"rid", "ack"}}.dump());
    }
  }
}

// One connection dies in the middle of writing a request: half a line goes
// out, then the socket closes. It reconnects a little later.
void SoakDriver::drop() {
  std::vector<size_t> up;
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i].up) up.push_back(i);
  }
  if (up.empty()) return;
  size_t i = up[std::uniform_int_distribution<size_t>(0, up.size() - 1)(rng_)];
  Conn& c = conns_[i];
  std::string line = json{{"op", "send"}, {"to", "someone"}, {"text", "cut short"}}.dump();
  c.gen++;
  c.up = false;
  c.client->abort(std::string_view(line).substr(0, line.size() / 2));
  figures_.drops++;
  reconnectLater(i, std::chrono::milliseconds(std::uniform_int_distribution<int>(50, 500)(rng_)));
}

// A share of all connections drop at once and reconnect at once.
void SoakDriver::storm() {
  figures_.storms++;
  std::bernoulli_distribution pick(o_.storm_share);
  for (size_t i = 0; i < conns_.size(); ++i) {
    Conn& c = conns_[i];
    if (!c.up || !pick(rng_)) continue;
    c.gen++;
    c.up = false;
    c.client->close();
    connect(i);
  }
}

void SoakDriver::reconnectLater(size_t i, std::chrono::milliseconds delay) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
  uint64_t gen = conns_[i].gen;
  timer->async_wait([this, timer, i, gen](const boost::system::error_code& ec) {
    if (ec || finished_ || conns_[i].gen != gen) return;
    connect(i);
  });
}

void SoakDriver::sampleRss() {
  if (o_.server_pid > 0 && o_.rss_every > 0) figures_.rss_kib.push_back(rssKiB(o_.server_pid));
}

void SoakDriver::checkDrained() {
  bool quiet = std::all_of(conns_.begin(), conns_.end(),
                           [](const Conn& c) { return c.up && c.in_flight == 0; });
  if ((quiet && ledger_.missing() == 0) || Clock::now() >= deadline_ + kDrainLimit) finish();
}

void SoakDriver::finish() {
  if (finished_) return;
  if (figures_.seconds == 0) {
    figures_.seconds = std::chrono::duration<double>(Clock::now() - started_at_).count();
  }
  if (!figures_.server_died) {
    if (!log_.isOpen()) ackAll();
    figures_.lost = ledger_.missing();
    sampleRss();
  }
  finished_ = true;
  log_.flush();
  for (auto& t : timers_) t->cancel();
  // Let the last acks go out, then hang up.
  auto closer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(300));
  closer->async_wait([this, closer](const boost::system::error_code&) {
    for (auto& c : conns_) {
      c.gen++;
      if (c.client) c.client->close();
    }
    io_.stop();
  });
}

}  // namespace parley::bench
