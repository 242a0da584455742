#include "soak_verify.h"

#include <boost/asio.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <vector>

#include "acked_log.h"
#include "bench_client.h"

namespace parley::bench {

using nlohmann::json;

namespace {

// With nothing new for this long, what is still expected is not coming.
constexpr std::chrono::seconds kQuiet{10};

}  // namespace

json verifyAckedLog(const VerifyOptions& o) {
  auto expected = AckedLog::read(o.acked_log);
  uint64_t checked = 0;
  for (const auto& [name, ids] : expected) checked += ids.size();

  boost::asio::io_context io;
  std::vector<std::shared_ptr<BenchClient>> clients;
  size_t done = 0, index = 0;
  auto last_progress = std::chrono::steady_clock::now();
  for (auto& entry : expected) {
    const std::string& name = entry.first;
    std::set<int64_t>* missing = &entry.second;
    auto client = std::make_shared<BenchClient>(
        io,
        [&, missing, name](std::string_view line) {
          json j = json::parse(line, nullptr, false);
          if (j.is_discarded()) return;
          if (j.value("rid", "") == "login" && !j.value("ok", false)) {
            std::cerr << "login failed for " << name << ": " << line << "\n";
            return;
          }
          std::string kind = j.value("event", "");
          if (kind != "message" && kind != "group_message") return;
          if (missing->erase(j["id"].get<int64_t>()) == 0) return;
          last_progress = std::chrono::steady_clock::now();
          if (missing->empty()) ++done;
        },
        [name](const std::string& e) { std::cerr << name << ": " << e << "\n"; });
    std::string source =
        "127.0.0." + std::to_string(1 + index++ % static_cast<size_t>(std::max(1, o.sources)));
    client->connect(source, o.host, o.port, [client, name, &o] {
      client->send(
          json{{"op", "login"}, {"name", name}, {"password", o.password}, {"rid", "login"}}.dump());
    });
    clients.push_back(client);
  }
  boost::asio::steady_timer timer(io);
  std::function<void()> check = [&] {
    timer.expires_after(std::chrono::milliseconds(100));
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (done == expected.size() || std::chrono::steady_clock::now() - last_progress > kQuiet) {
        for (auto& c : clients) c->close();
        io.stop();
        return;
      }
      check();
    });
  };
  check();
  io.run();

  uint64_t lost = 0;
  json examples = json::array();
  for (const auto& [name, ids] : expected) {
    lost += ids.size();
    for (int64_t id : ids) {
      if (examples.size() < 10) examples.push_back(name + " " + std::to_string(id));
    }
  }
  return json{{"users", expected.size()},
              {"checked", checked},
              {"delivered", checked - lost},
              {"lost", lost},
              {"examples", examples}};
}

}  // namespace parley::bench
