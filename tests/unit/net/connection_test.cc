// The net layer over real loopback sockets: framing, limits, backpressure,
// idle timeout. The handler records what the connection hands up.
#include "net/connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "net/event_loop_pool.h"
#include "net/tcp_server.h"

namespace parley::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Recorded {
  std::mutex mu;
  std::vector<std::string> lines;
  std::atomic<int> oversized{0};
  std::atomic<int> closed{0};
  std::vector<std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mu);
    return lines;
  }
};

// Echoes each line back in upper case, and records it.
class EchoHandler : public LineHandler {
 public:
  EchoHandler(std::weak_ptr<Connection> conn, Recorded& rec) : conn_(conn), rec_(rec) {}
  void onLine(std::string_view line) override {
    {
      std::lock_guard<std::mutex> lock(rec_.mu);
      rec_.lines.emplace_back(line);
    }
    if (line == "flood") {
      // 64 MiB of output for a peer that reads nothing.
      for (int i = 0; i < 1024; ++i) {
        if (auto c = conn_.lock()) c->send(std::string(64 * 1024, 'x'));
      }
      return;
    }
    if (line == "bulk-then-close") {
      // 6 MiB, more than the kernel's buffers hold, then a flushing close
      // from outside the read handler (as a server shutdown does), while
      // the next read is pending.
      auto c = conn_.lock();
      if (!c) return;
      for (int i = 0; i < 96; ++i) c->send(std::string(64 * 1024, 'y'));
      c->post([c] { c->close(); });
      return;
    }
    if (line == "login" || line == "logout") {
      if (auto c = conn_.lock()) c->setAuthenticated(line == "login");
    }
    if (auto c = conn_.lock()) c->send("echo:" + std::string(line));
  }
  void onOversizedLine() override {
    rec_.oversized++;
    if (auto c = conn_.lock()) {
      c->send("too_large");
      c->close();
    }
  }
  void onClose() override { rec_.closed++; }

 private:
  std::weak_ptr<Connection> conn_;
  Recorded& rec_;
};

class ConnectionTest : public ::testing::Test {
 protected:
  // The server's lifetime contract (tcp_server.h): its loops stop first.
  // Destroying it while a loop still runs a connection that closes (the
  // test's client socket goes away with the test body) is a use after free.
  void TearDown() override {
    if (server_) server_->stopAccepting();
    loops_.stop();
    server_.reset();
  }

  void start(ConnectionOptions options) {
    server_ = std::make_unique<TcpServer>(loops_, options, [this](const ConnectionPtr& c) {
      return std::make_unique<EchoHandler>(c, rec_);
    });
    ASSERT_TRUE(server_->listen("127.0.0.1", 0).ok());
    server_->start();
  }
  asio::ip::tcp::socket connect() {
    asio::ip::tcp::socket s(client_io_);
    s.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
    return s;
  }
  static std::string readLine(asio::ip::tcp::socket& s, asio::streambuf& buf) {
    asio::read_until(s, buf, '\n');
    std::istream in(&buf);
    std::string line;
    std::getline(in, line);
    return line;
  }
  static bool closedByPeer(asio::ip::tcp::socket& s, std::chrono::milliseconds within) {
    auto deadline = std::chrono::steady_clock::now() + within;
    char tmp[65536];
    boost::system::error_code ec;
    s.non_blocking(true);
    while (std::chrono::steady_clock::now() < deadline) {
      size_t n = s.read_some(asio::buffer(tmp), ec);
      if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
      if (ec && ec != asio::error::would_block) return true;
      if (n == 0) std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  Recorded rec_;
  EventLoopPool loops_{2};
  std::unique_ptr<TcpServer> server_;
  asio::io_context client_io_;
};

TEST_F(ConnectionTest, FramesLinesAcrossReadsAndStripsCarriageReturn) {
  start({});
  auto s = connect();
  asio::write(s, asio::buffer(std::string("he")));
  std::this_thread::sleep_for(20ms);
  asio::write(s, asio::buffer(std::string("llo\r\nsecond\n\nthird\n")));
  asio::streambuf buf;
  EXPECT_EQ(readLine(s, buf), "echo:hello");
  EXPECT_EQ(readLine(s, buf), "echo:second");
  EXPECT_EQ(readLine(s, buf), "echo:third");  // the blank line was skipped
}

TEST_F(ConnectionTest, ManyLinesInOneWriteAreAnsweredInOrder) {
  start({});
  auto s = connect();
  std::string batch;
  for (int i = 0; i < 500; ++i) batch += "l" + std::to_string(i) + "\n";
  asio::write(s, asio::buffer(batch));
  asio::streambuf buf;
  for (int i = 0; i < 500; ++i) ASSERT_EQ(readLine(s, buf), "echo:l" + std::to_string(i));
}

TEST_F(ConnectionTest, OversizedLineGetsAnErrorThenClose) {
  ConnectionOptions options;
  options.max_line_bytes = 1024;
  start(options);
  auto s = connect();
  asio::write(s, asio::buffer(std::string(1024, 'a') + "\n"));  // exactly the limit: fine
  asio::streambuf buf;
  EXPECT_EQ(readLine(s, buf).size(), 5u + 1024u);
  asio::write(s, asio::buffer(std::string(5000, 'b')));  // no newline yet: still refused
  EXPECT_EQ(readLine(s, buf), "too_large");
  EXPECT_TRUE(closedByPeer(s, 3s));
  EXPECT_EQ(rec_.oversized.load(), 1);
}

TEST_F(ConnectionTest, PeerThatDoesNotReadIsCutOff) {
  ConnectionOptions options;
  options.max_queued_bytes = 1024 * 1024;
  start(options);
  auto slow = connect();
  int rcvbuf = 4096;
  setsockopt(slow.native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  asio::write(slow, asio::buffer(std::string("flood\n")));
  // Another client is served meanwhile.
  auto other = connect();
  asio::write(other, asio::buffer(std::string("still here\n")));
  asio::streambuf buf;
  EXPECT_EQ(readLine(other, buf), "echo:still here");
  for (int i = 0; i < 300 && rec_.closed.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(rec_.closed.load(), 1);
}

TEST_F(ConnectionTest, ACloseDeliversWhatWasQueuedFirst) {
  ConnectionOptions options;
  options.max_queued_bytes = 8 * 1024 * 1024;
  start(options);
  auto s = connect();
  asio::write(s, asio::buffer(std::string("bulk-then-close\n")));
  // Not reading yet: most of it waits in the server's queue when close() runs.
  std::this_thread::sleep_for(200ms);
  size_t received = 0;
  boost::system::error_code ec;
  char tmp[65536];
  while (!ec) received += s.read_some(asio::buffer(tmp), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(received, 96u * (64 * 1024 + 1));
}

TEST_F(ConnectionTest, IdleConnectionIsClosed) {
  ConnectionOptions options;
  options.idle_timeout = 1s;
  start(options);
  auto s = connect();
  EXPECT_TRUE(closedByPeer(s, 5s));
}

TEST_F(ConnectionTest, HandshakeDeadlineIsNotExtendedByActivity) {
  ConnectionOptions options;
  options.handshake_timeout = 1s;
  options.idle_timeout = 60s;
  start(options);
  auto chatty = connect();  // talks, never logs in: a slowloris
  auto member = connect();
  asio::streambuf buf, member_buf;
  asio::write(member, asio::buffer(std::string("login\n")));
  EXPECT_EQ(readLine(member, member_buf), "echo:login");
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    boost::system::error_code ec;
    asio::write(chatty, asio::buffer(std::string("ping\n")), ec);
    closed = ec || closedByPeer(chatty, 100ms);
  }
  EXPECT_TRUE(closed) << "activity must not extend the handshake deadline";
  EXPECT_FALSE(closedByPeer(member, 1500ms)) << "a logged-in peer has no deadline";
  // Logging out starts a new deadline.
  asio::write(member, asio::buffer(std::string("logout\n")));
  EXPECT_TRUE(closedByPeer(member, 5s));
}

TEST_F(ConnectionTest, SmallerLineLimitUntilAuthenticated) {
  ConnectionOptions options;
  options.max_line_bytes = 1024;
  options.max_line_bytes_before_auth = 64;
  start(options);
  const std::string big(500, 'b');
  auto member = connect();
  asio::streambuf buf;
  asio::write(member, asio::buffer(std::string("login\n")));
  EXPECT_EQ(readLine(member, buf), "echo:login");
  asio::write(member, asio::buffer(big + "\n"));
  EXPECT_EQ(readLine(member, buf), "echo:" + big);
  asio::write(member, asio::buffer(std::string("logout\n")));
  EXPECT_EQ(readLine(member, buf), "echo:logout");
  asio::write(member, asio::buffer(big + "\n"));
  EXPECT_EQ(readLine(member, buf), "too_large") << "logged out: the small limit again";
  EXPECT_TRUE(closedByPeer(member, 3s));

  auto stranger = connect();
  asio::streambuf buf2;
  asio::write(stranger, asio::buffer(std::string(64, 's') + "\n"));  // at the limit: fine
  EXPECT_EQ(readLine(stranger, buf2), "echo:" + std::string(64, 's'));
  asio::write(stranger, asio::buffer(big));  // no newline needed to refuse it
  EXPECT_EQ(readLine(stranger, buf2), "too_large");
  EXPECT_TRUE(closedByPeer(stranger, 3s));
}

TEST_F(ConnectionTest, PeerCloseIsReportedOnce) {
  start({});
  {
    auto s = connect();
    asio::write(s, asio::buffer(std::string("bye\n")));
    asio::streambuf buf;
    readLine(s, buf);
  }
  for (int i = 0; i < 300 && rec_.closed.load() == 0; ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rec_.closed.load(), 1);
}

}  // namespace
}  // namespace parley::net
