// A real ChatService over a real SQLite store in a temp dir, with the local
// bus, driven through Sessions whose sink records lines instead of writing
// to a socket. A single io_context thread plays the connections' loop.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "bus/local_bus.h"
#include "common/blocking_pool.h"
#include "net/delayed_call.h"
#include "protocol/reply.h"
#include "protocol/request.h"
#include "service/chat_service.h"
#include "service/session.h"
#include "store/store.h"

namespace parley::testing {

using nlohmann::json;

class RecordingSink : public SessionSink {
 public:
  explicit RecordingSink(boost::asio::io_context& loop) : loop_(loop) {}
  void send(std::string line) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::move(line));
    cv_.notify_all();
  }
  bool post(std::function<void()> fn) override {
    if (gone) return false;  // as a connection already freed refuses it
    boost::asio::post(loop_, std::move(fn));
    return true;
  }
  bool postAfter(std::chrono::milliseconds delay, std::function<void()> fn) override {
    if (gone) return false;
    net::runAfter(loop_.get_executor(), delay, std::move(fn));
    return true;
  }
  // Every recording sink runs on the harness's one loop, so deliveries
  // to several of them share a batch, as on a server.
  const void* loopKey() const override { return &loop_; }
  void close() override { closed_ = true; }
  size_t queuedBytes() const override { return 0; }
  void whenDrained(std::function<void()> fn) override { post(std::move(fn)); }

  // Next recorded line that is an event, waiting up to `timeout`.
  std::optional<json> nextEvent(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto it = lines_.begin(); it != lines_.end(); ++it) {
        json j = json::parse(*it);
        if (j.contains("event")) {
          lines_.erase(it);
          return j;
        }
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
    }
  }
  size_t pending() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_.size();
  }
  bool closed_ = false;
  std::atomic<bool> gone{false};  // the connection behind the sink no longer exists

 private:
  boost::asio::io_context& loop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
};

struct Client {
  std::shared_ptr<RecordingSink> sink;
  std::shared_ptr<Session> session;
};

class ServiceHarness : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("parley-service-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    auto store = openStore("sqlite:" + (dir_ / "test.db").string());
    ASSERT_TRUE(store.ok()) << store.status().toString();
    store_ = wrapStore(std::move(store).value());
    ServiceOptions options;
    options.hash_cost = HashCost::kMinimum;
    options.replay_page = 16;     // small pages exercise the paging logic
    options.metrics = &metrics_;  // tests read how events were delivered
    bus_ = makeBus();
    service_ = std::make_unique<ChatService>(*store_, *bus_, pool_, options);
    service_->start();
    loop_thread_ = std::thread([this] { loop_.run(); });
  }

  void TearDown() override {
    clients_.clear();
    pool_.shutdown();
    guard_.reset();
    loop_.stop();
    loop_thread_.join();
    service_->stop();
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A fixture may put its own Store in front of the SQLite one (to hold
  // writes back, say); the service sees only what this returns.
  virtual StorePtr wrapStore(StorePtr store) { return store; }
  // Likewise a fixture may route events through a Bus of its own.
  virtual BusPtr makeBus() { return std::make_unique<LocalBus>(); }

  Client newClient() {
    Client c;
    c.sink = std::make_shared<RecordingSink>(loop_);
    c.session = std::make_shared<Session>(*service_, c.sink);
    clients_.push_back(c);
    return c;
  }

  // Runs one request on the client's session (on the loop) and returns the
  // serialized response as JSON.
  json call(Client& c, const std::string& line) {
    protocol::Parsed parsed = protocol::parseRequest(line);
    if (!parsed.request) return json::parse(protocol::serializeError(parsed.rid, parsed.error));
    auto done = std::make_shared<std::promise<std::string>>();
    auto future = done->get_future();
    auto session = c.session;
    protocol::Request request = *parsed.request;
    boost::asio::post(loop_, [session, request, done] {
      session->handle(request, [done, rid = request.rid](Result<protocol::Reply> r) {
        done->set_value(r.ok() ? protocol::serializeOk(rid, r.value())
                               : protocol::serializeError(rid, r.status()));
      });
    });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "no response to " << line;
      return json();
    }
    return json::parse(future.get());
  }

  json ok(Client& c, const std::string& line) {
    json r = call(c, line);
    EXPECT_EQ(r.value("ok", false), true) << line << " -> " << r.dump();
    return r;
  }

  std::string errorCode(Client& c, const std::string& line) {
    json r = call(c, line);
    EXPECT_EQ(r.value("ok", true), false) << line << " -> " << r.dump();
    return r.contains("error") ? r["error"]["code"].get<std::string>() : "";
  }

  Client loggedIn(const std::string& name) {
    Client c = newClient();
    call(c, R"({"op":"register","name":")" + name + R"(","password":"password1"})");
    ok(c, R"({"op":"login","name":")" + name + R"(","password":"password1"})");
    return c;
  }

  void closeClient(Client& c) {
    std::promise<void> done;
    auto session = c.session;
    boost::asio::post(loop_, [session, &done] {
      session->closed();
      done.set_value();
    });
    done.get_future().wait();
  }

  void befriend(Client& a, const std::string& b_name) {
    ok(a, R"({"op":"add_friend","user":")" + b_name + R"("})");
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
  StorePtr store_;
  Metrics metrics_;
  BusPtr bus_;
  BlockingPool pool_{"test-pool", 4, 10000};
  std::unique_ptr<ChatService> service_;
  boost::asio::io_context loop_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ =
      boost::asio::make_work_guard(loop_);
  std::thread loop_thread_;
  std::vector<Client> clients_;
};

}  // namespace parley::testing
