#include "runner.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "line_fields.h"

namespace parley::bench {
namespace {

using nlohmann::json;

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(s));
}

// A well-mixed 64-bit hash of a message id (splitmix64's finalizer): sums of
// it over two sets of ids differ unless the sets are equal, bar chance.
uint64_t idHash(int64_t id) {
  uint64_t z = static_cast<uint64_t>(id) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Names and texts the bench sends are plain ASCII without quotes, so
// requests are built by concatenation rather than through a JSON tree.
std::string jsonString(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

Runner::Runner(const Options& o) : o_(o) {}

int Runner::run(Figures* out) {
  prefix_ = o_.prefix + (o_.worker >= 0 ? "w" + std::to_string(o_.worker) + "_" : "_");
  buildUsers();
  if (!setupAccounts()) return 1;
  loadTokens();
  ramp_started_ = Clock::now();
  rampNext();
  progress();
  io_.run();
  saveTokens();
  *out = figures_;
  return setup_failed_ ? 1 : 0;
}

void Runner::buildUsers() {
  const std::string& s = o_.scenario;
  if (s == "direct" || s == "mixed") {
    for (int i = 0; i < o_.pairs; ++i) {
      std::string a = prefix_ + "a" + std::to_string(i), b = prefix_ + "b" + std::to_string(i);
      size_t first = conns_.size();
      conns_.push_back(Conn{nullptr, a, b, Kind::kDirect, true});
      conns_.push_back(Conn{nullptr, b, a, Kind::kDirect, true});
      conns_[first].peers_begin = first + 1;
      conns_[first].peers_end = first + 2;
      conns_[first + 1].peers_begin = first;
      conns_[first + 1].peers_end = first + 1;
    }
  }
  if (s == "group" || s == "mixed") {
    int senders = std::max(1, o_.senders);
    for (int g = 0; g < o_.groups; ++g) {
      std::string group = prefix_ + "g" + std::to_string(g);
      size_t first = conns_.size();
      for (int m = 0; m < o_.group_size; ++m) {
        conns_.push_back(
            Conn{nullptr, group + "m" + std::to_string(m), group, Kind::kGroup, m < senders});
        conns_.back().peers_begin = first;
        conns_.back().peers_end = first + static_cast<size_t>(o_.group_size);
      }
    }
  }
  if (s == "connect" || s == "login" || s == "mixed") {
    for (int i = 0; i < o_.users; ++i) {
      conns_.push_back(Conn{nullptr, prefix_ + "c" + std::to_string(i), "", Kind::kIdle, false});
    }
  }
  for (size_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i].sender) senders_.push_back(i);
  }
}

// Registers every user on one pipelined connection (conflict = registered by
// an earlier run: fine), then befriends pairs and fills groups. Blocking,
// before the load starts.
bool Runner::setupAccounts() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address(o_.host), o_.port}, ec);
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
  for (const auto& c : conns_) {
    if (c.kind == Kind::kDirect && c.name < c.target) {
      as(c.name, {{"op", "add_friend"}, {"user", c.target}});
    } else if (c.kind == Kind::kGroup) {
      bool owner = c.name.ends_with("m0");
      as(c.name, owner ? json{{"op", "create_group"}, {"name", c.target}}
                       : json{{"op", "join_group"}, {"group", c.target}});
    }
  }
  // Sent in slices so neither side's socket buffer fills while the other
  // is not reading.
  boost::asio::streambuf buf;
  constexpr size_t kSlice = 500;
  for (size_t first = 0; first < reqs.size(); first += kSlice) {
    size_t last = std::min(reqs.size(), first + kSlice);
    std::string batch;
    for (size_t i = first; i < last; ++i) batch += reqs[i].dump() + "\n";
    boost::asio::write(s, boost::asio::buffer(batch));
    for (size_t i = first; i < last; ++i) {
      boost::asio::read_until(s, buf, '\n', ec);
      if (ec) {
        std::cerr << "setup: " << ec.message() << "\n";
        return false;
      }
      std::istream in(&buf);
      std::string line;
      std::getline(in, line);
      if (isEvent(line)) {
        --i;  // events (friend_added, presence) are not answers
        continue;
      }
      json r = json::parse(line, nullptr, false);
      if (r.is_discarded() ||
          (!r.value("ok", false) && r["error"].value("code", "") != "conflict")) {
        std::cerr << "setup step failed: " << reqs[i].dump() << " -> " << line << "\n";
        return false;
      }
    }
  }
  return true;
}

// --- resume tokens ---------------------------------------------------------------
// Each worker keeps the newest token of each of its users in a file, so the
// next run logs in by resume (no argon2id). A token the server does not know
// (a fresh database) is answered unauthorized and the bench falls back to a
// password login.

void Runner::loadTokens() {
  std::ifstream in(o_.token_dir + "/" + prefix_ + "tokens");
  std::string name, token;
  while (in >> name >> token) tokens_[name] = token;
}

void Runner::saveTokens() {
  std::error_code ec;
  std::filesystem::create_directories(o_.token_dir, ec);
  std::ofstream out(o_.token_dir + "/" + prefix_ + "tokens", std::ios::trunc);
  for (const auto& [name, token] : tokens_) out << name << " " << token << "\n";
}

// --- connecting and logging in -----------------------------------------------------

void Runner::rampNext() {
  while (setting_up_ < static_cast<size_t>(std::max(1, o_.ramp)) &&
         next_to_connect_ < conns_.size()) {
    connect(next_to_connect_++);
  }
}

void Runner::connect(size_t i) {
  Conn& c = conns_[i];
  setting_up_++;
  c.logged_in = false;
  c.login_started_ns = nowNs();
  c.client = std::make_shared<BenchClient>(
      io_, [this, i](std::string_view line) { onLine(i, line); },
      [this, i](const std::string& e) {
        figures_.errors++;
        if (finished_) return;
        // A connection that cannot even log in would stall the ramp: stop.
        if (!conns_[i].logged_in) return fail("connection " + conns_[i].name + ": " + e);
        if (o_.scenario == "login") {
          // The storm owes nothing to verify: log in again and go on.
          std::cerr << "connection " << conns_[i].name << ": " << e << "\n";
          if (measuring() && sending_) connect(i);
          return;
        }
        drop(i, e);
      });
  std::string source = "127.0.0." + std::to_string(1 + i % std::max(1, o_.sources));
  c.client->connect(source, o_.host, o_.port, [this, i] { sendLogin(i); });
}

void Runner::drop(size_t i, const std::string& why) {
  Conn& c = conns_[i];
  if (c.dropped) return;
  std::cerr << "connection " << c.name << " dropped: " << why << "\n";
  c.dropped = true;
  c.client->close();
  figures_.dropped++;
  // Its unanswered sends will never be answered, and what it was still owed
  // will not arrive here: stop waiting for either.
  in_flight_ -= static_cast<uint64_t>(c.in_flight);
  if (c.owed > c.got) awaited_ -= c.owed - c.got;
  figures_.expected -= std::min(figures_.expected, c.owed);
  // Those unanswered sends may still have been stored and delivered: each
  // of its recipients may get up to that many messages it is not owed.
  if (c.in_flight > 0) {
    for (size_t r = c.peers_begin; r < c.peers_end; ++r) {
      if (r != i) conns_[r].uncertain += static_cast<uint64_t>(c.in_flight);
    }
  }
  c.in_flight = 0;
  if (c.sender && ++dropped_senders_ == senders_.size()) sending_ = false;  // nobody left to send
  maybeFinish();
}

void Runner::sendLogin(size_t i) {
  Conn& c = conns_[i];
  auto token = tokens_.find(c.name);
  c.resuming = o_.login == "resume" && token != tokens_.end();
  if (c.resuming) {
    c.client->send(R"({"op":"resume","rid":"login","token":)" + jsonString(token->second) + "}");
  } else {
    c.client->send(R"({"op":"login","rid":"login","name":)" + jsonString(c.name) +
                   R"(,"password":)" + jsonString(o_.password) + "}");
  }
}

void Runner::onLoggedIn(size_t i, std::string_view line) {
  Conn& c = conns_[i];
  if (!isOk(line)) {
    if (c.resuming) {  // unknown or expired token: log in with the password
      tokens_.erase(c.name);
      sendLogin(i);
      return;
    }
    return fail("login failed for " + c.name + ": " + std::string(line));
  }
  std::string_view token = rawField(line, "token");
  if (!token.empty()) tokens_[c.name] = std::string(token);
  c.logged_in = true;
  setting_up_--;
  bool counted = o_.scenario != "login" || measuring();
  if (counted) {
    figures_.logins++;
    if (c.resuming) figures_.resumes++;
    figures_.login_latency.record(static_cast<uint64_t>((nowNs() - c.login_started_ns) / 1000));
  }
  if (o_.scenario == "login" && measuring()) {
    // The storm: hang up and log in again until the time is up.
    c.client->close();
    if (sending_) {
      connect(i);
    } else {
      maybeFinish();
    }
    return;
  }
  if (ready_ < conns_.size() && ++ready_ == conns_.size()) {
    figures_.setup_seconds = std::chrono::duration<double>(Clock::now() - ramp_started_).count();
    start();
    return;
  }
  rampNext();
}

void Runner::onLine(size_t i, std::string_view line) {
  Conn& c = conns_[i];
  if (isEvent(line)) {
    onEvent(c, line);
    return;
  }
  std::string_view rid = rawField(line, "rid");
  if (rid == "login") return onLoggedIn(i, line);
  if (rid == "ack") return;
  onSendReply(c, line);
}

void Runner::onSendReply(Conn& c, std::string_view line) {
  c.in_flight--;
  in_flight_--;
  if (isOk(line)) {
    last_progress_ = Clock::now();
    figures_.acked++;
    uint64_t hash = idHash(intField(line, "id"));  // {"message":{"id":..}}
    for (size_t r = c.peers_begin; r < c.peers_end; ++r) {
      Conn& to = conns_[r];
      if (&to == &c || to.dropped) continue;
      figures_.expected++;
      if (to.owed >= to.got) awaited_++;  // (a delivery may come before its ack)
      to.owed++;
      to.owed_ids += hash;
    }
  } else {
    figures_.errors++;
  }
  if (o_.rate == 0 && sending_) sendFrom(c);
  maybeFinish();
}

void Runner::onEvent(Conn& c, std::string_view line) {
  std::string_view kind = rawField(line, "event");
  if (kind != "message" && kind != "group_message") return;
  int64_t seq = intField(line, "seq");
  // A repeat or a step back; still counted below, so a repeat also shows
  // as a delivery beyond those owed.
  if (seq <= c.last_seq) figures_.out_of_order++;
  c.last_seq = std::max(c.last_seq, seq);
  int64_t sent_ns = intField(line, "text");
  // Messages from before this run (replayed at login) are not measured.
  if (sent_ns >= started_ns_ && started_ns_ > 0) {
    last_progress_ = Clock::now();
    figures_.delivered++;
    if (c.got < c.owed) awaited_--;
    c.got++;
    c.got_ids += idHash(intField(line, "id"));
    figures_.latency.record(static_cast<uint64_t>((nowNs() - sent_ns) / 1000));
  }
  // Ack in batches, as a real client would, so the server's inbox moves.
  if (++c.since_ack >= 64) ackUpTo(c);
  maybeFinish();
}

// --- the measured phase ----------------------------------------------------------

void Runner::start() {
  figures_.connections = conns_.size();
  started_ = Clock::now();
  started_ns_ = nowNs();
  deadline_ = started_ + seconds(o_.duration);
  if (o_.scenario == "connect") {
    timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    timer_->expires_at(deadline_);
    timer_->async_wait([this](auto) { finish(); });
    return;
  }
  sending_ = true;
  if (o_.scenario == "login") {
    figures_.logins = figures_.resumes = 0;
    figures_.login_latency = LatencyHistogram();
    for (size_t i = 0; i < conns_.size(); ++i) {
      conns_[i].client->close();
      connect(i);
    }
    timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    timer_->expires_at(deadline_);
    timer_->async_wait([this](auto) {
      sending_ = false;
      maybeFinish();
    });
    return;
  }
  if (!senders_.empty() && dropped_senders_ == senders_.size()) {
    sending_ = false;  // every sender dropped while the others logged in
    maybeFinish();
    return;
  }
  if (o_.fault_drop > 0) {
    fault_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    fault_timer_->expires_after(std::chrono::seconds(1));
    fault_timer_->async_wait([this](auto ec) {
      if (ec || finished_) return;
      size_t n = std::min(static_cast<size_t>(o_.fault_drop), conns_.size());
      for (size_t j = 0; j < n; ++j)
        drop(j * conns_.size() / n, "hung up on purpose (--fault-drop)");
    });
  }
  if (o_.rate > 0) {
    tick();
  } else {
    // Sends follow answers; the deadline ends them even if none come (every
    // sender dropped).
    timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    timer_->expires_at(deadline_);
    timer_->async_wait([this](auto ec) {
      if (ec || finished_) return;
      sending_ = false;
      maybeFinish();
    });
    for (size_t i : senders_) {
      for (int w = 0; w < o_.window; ++w) sendFrom(conns_[i]);
    }
  }
}

bool Runner::sendFrom(Conn& c) {
  if (Clock::now() >= deadline_) {
    sending_ = false;
    return false;
  }
  if (c.dropped) return false;
  std::string text = std::to_string(nowNs());
  if (c.kind == Kind::kGroup) {
    c.client->send(R"({"op":"group_send","group":)" + jsonString(c.target) + R"(,"text":")" + text +
                   "\"}");
  } else {
    c.client->send(R"({"op":"send","to":)" + jsonString(c.target) + R"(,"text":")" + text + "\"}");
  }
  c.in_flight++;
  in_flight_++;
  figures_.sent++;
  return true;
}

// Paced mode: every tick (1 ms unless --tick-us), send the messages that are due, round-robin
// over the sending connections.
void Runner::tick() {
  if (finished_) return;
  if (!sending_) {  // over: the deadline, seen by a send, or every sender dropped
    maybeFinish();
    return;
  }
  if (Clock::now() >= deadline_ || senders_.empty()) {
    sending_ = false;
    maybeFinish();
    return;
  }
  Clock::time_point now = Clock::now();
  if (tick_due_ != Clock::time_point{}) {
    auto late = std::chrono::duration_cast<std::chrono::microseconds>(now - tick_due_).count();
    figures_.tick_lag.record(static_cast<uint64_t>(std::max<int64_t>(late, 0)));
  }
  double elapsed = std::chrono::duration<double>(now - started_).count();
  uint64_t due = static_cast<uint64_t>(elapsed * o_.rate);
  // Round-robin over the senders still connected; none left ends the run.
  size_t skipped = 0;
  while (figures_.sent < due && sending_ && skipped < senders_.size()) {
    skipped = sendFrom(conns_[senders_[next_sender_++ % senders_.size()]]) ? 0 : skipped + 1;
  }
  if (skipped == senders_.size()) {
    sending_ = false;
    maybeFinish();
    return;
  }
  timer_ = std::make_unique<boost::asio::steady_timer>(io_);
  tick_due_ = Clock::now() + std::chrono::microseconds(o_.tick_us);
  timer_->expires_at(tick_due_);
  timer_->async_wait([this](auto ec) {
    if (!ec) tick();
  });
}

void Runner::ackUpTo(Conn& c) {
  c.since_ack = 0;
  if (c.last_seq <= c.acked_seq || !c.logged_in) return;
  c.acked_seq = c.last_seq;
  c.client->send(R"({"op":"ack","rid":"ack","up_to":)" + std::to_string(c.last_seq) + "}");
}

void Runner::maybeFinish() {
  if (sending_ || finished_ || started_ns_ == 0 || o_.scenario == "connect") return;
  if (!drain_timer_) {
    // Sending is over; wait for what is owed, as long as it keeps coming:
    // give up only after 10 s without a single answer or delivery (an
    // overloaded server may still be working through a long backlog).
    drain_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
    drainCheck(figures_.acked + figures_.delivered + figures_.logins);
  }
  if (o_.scenario == "login") {
    if (setting_up_ == 0) finish();
    return;
  }
  if (in_flight_ == 0 && awaited_ == 0) finish();
}

void Runner::drainCheck(uint64_t seen) {
  drain_timer_->expires_after(std::chrono::seconds(10));
  drain_timer_->async_wait([this, seen](auto ec) {
    if (ec || finished_) return;
    uint64_t now = figures_.acked + figures_.delivered + figures_.logins;
    if (now == seen) return finish();  // nothing for 10 s: what is missing is lost
    drainCheck(now);
  });
}

void Runner::progress() {
  if (o_.progress <= 0) return;
  progress_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
  progress_timer_->expires_after(seconds(o_.progress));
  progress_timer_->async_wait([this](auto ec) {
    if (ec || finished_) return;
    int w = o_.worker >= 0 ? o_.worker : 0;
    double t = std::chrono::duration<double>(Clock::now() - started_).count();
    if (started_ns_ == 0) {
      std::cerr << "  [" << w << "] ramp: " << ready_ << "/" << conns_.size() << " logged in\n";
    } else if (o_.scenario == "connect") {
      std::cerr << "  [" << w << "] " << static_cast<int>(t) << " s: holding " << ready_
                << " logged-in connections, errors " << figures_.errors << "\n";
    } else {
      std::cerr << "  [" << w << "] " << static_cast<int>(t) << " s: acked "
                << static_cast<uint64_t>((figures_.acked - last_acked_) / o_.progress)
                << "/s, delivered "
                << static_cast<uint64_t>((figures_.delivered - last_delivered_) / o_.progress)
                << "/s, logins "
                << static_cast<uint64_t>((figures_.logins - last_logins_) / o_.progress)
                << "/s, errors " << figures_.errors << "\n";
      last_acked_ = figures_.acked;
      last_delivered_ = figures_.delivered;
      last_logins_ = figures_.logins;
    }
    progress();
  });
}

void Runner::finish() {
  if (finished_) return;
  finished_ = true;
  sending_ = false;
  // Measured time: the sending window, or longer if the server was still
  // answering and delivering after it (a backlog), so that a server that
  // falls behind is not credited with the offered rate.
  // (Shorter when every sender dropped before the time was up.)
  figures_.seconds =
      std::min(o_.duration, std::chrono::duration<double>(Clock::now() - started_).count());
  if (last_progress_ > started_) {
    figures_.seconds = std::max(figures_.seconds,
                                std::chrono::duration<double>(last_progress_ - started_).count());
  }
  verify();
  for (auto& c : conns_) {
    if (!c.dropped) ackUpTo(c);  // leave nothing for the next run's login
  }
  auto closer = std::make_shared<boost::asio::steady_timer>(io_);
  closer->expires_after(std::chrono::milliseconds(300));
  closer->async_wait([this, closer](auto) {
    for (auto& c : conns_) {
      if (c.client) c.client->close();
    }
    if (timer_) timer_->cancel();
    if (drain_timer_) drain_timer_->cancel();
    if (progress_timer_) progress_timer_->cancel();
    if (fault_timer_) fault_timer_->cancel();
  });
}

// What each recipient was owed against what it received; deliveries still
// on their way when the run ends (after 10 s without progress) are lost.
void Runner::verify() {
  for (const Conn& c : conns_) {
    if (c.dropped) continue;
    if (c.got < c.owed) figures_.lost += c.owed - c.got;
    // Up to `uncertain` more may have come from a sender that dropped with
    // sends unanswered; which of them did is unknown, so the ids can only be
    // compared when there are none (and such a delivery could stand in for
    // a lost one: a run with drops verifies less, and fails anyway).
    if (c.got > c.owed + c.uncertain) figures_.duplicates += c.got - c.owed - c.uncertain;
    if (c.got == c.owed && c.uncertain == 0 && c.got_ids != c.owed_ids) figures_.mismatched++;
  }
}

void Runner::fail(const std::string& why) {
  std::cerr << why << "\n";
  setup_failed_ = true;
  finished_ = true;
  io_.stop();
}

}  // namespace parley::bench
