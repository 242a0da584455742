// LineSocket's connect without blocking: what lets the terminal stay live
// while a reconnect waits for a server that does not answer.
#include "client/line_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace parley::client {
namespace {

using std::chrono::milliseconds;

// A listening socket on 127.0.0.1, port chosen by the kernel.
struct Listener {
  explicit Listener(int backlog) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd, backlog), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd); }
  int fd = -1;
  uint16_t port = 0;
};

// Drives a non-blocking connect the way the terminal's loop does.
LineSocket::Step finish(LineSocket& socket, LineSocket::Step step, std::string* error) {
  while (step == LineSocket::Step::kPending) {
    auto left = std::chrono::duration_cast<milliseconds>(socket.deadline() -
                                                         std::chrono::steady_clock::now());
    pollfd p{socket.fd(), socket.waitEvents(), 0};
    ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    step = socket.continueConnect(error);
  }
  return step;
}

TEST(LineSocketTest, ConnectsWithoutBlockingAndCarriesLines) {
  Listener server(8);
  LineSocket socket;
  std::string error;
  auto step = socket.beginConnect("127.0.0.1", server.port, milliseconds(5000), &error);
  EXPECT_FALSE(socket.connected());
  ASSERT_EQ(finish(socket, step, &error), LineSocket::Step::kConnected) << error;
  EXPECT_TRUE(socket.connected());
  EXPECT_FALSE(socket.connecting());
  int peer = ::accept(server.fd, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  ASSERT_TRUE(socket.sendLine(R"({"op":"ping"})"));
  char buf[64] = {};
  ASSERT_GT(::recv(peer, buf, sizeof buf - 1, 0), 0);
  EXPECT_EQ(std::string(buf), "{\"op\":\"ping\"}\n");
  ASSERT_EQ(::send(peer, "{\"ok\":true}\n", 12, 0), 12);
  pollfd p{socket.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  ASSERT_TRUE(socket.readAvailable());
  EXPECT_EQ(socket.popLine(), std::optional<std::string>("{\"ok\":true}"));
  ::close(peer);
}

TEST(LineSocketTest, ARefusedConnectFailsWithTheReason) {
  // A port held by a socket that does not listen: connects to it are
  // refused, and no other process can start listening there meanwhile.
  int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len);
  const uint16_t port = ntohs(a.sin_port);
  LineSocket socket;
  std::string error;
  auto step = socket.beginConnect("127.0.0.1", port, milliseconds(5000), &error);
  EXPECT_EQ(finish(socket, step, &error), LineSocket::Step::kFailed);
  EXPECT_NE(error.find("refused"), std::string::npos) << error;
  EXPECT_FALSE(socket.connected());
  EXPECT_FALSE(socket.connecting());
  EXPECT_EQ(socket.fd(), -1);
  ::close(holder);
}

TEST(LineSocketTest, AServerThatDoesNotAnswerLeavesTheConnectPendingUntilItsDeadline) {
  // A listener whose accept queue is full drops further SYNs, as an
  // unreachable host would: a connect to it stays in progress.
  Listener server(0);
  std::vector<int> fillers;
  bool full = false;
  for (int i = 0; i < 8 && !full; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(server.port);
    ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{fd, POLLOUT, 0};
    full = ::poll(&p, 1, 300) == 0;
    fillers.push_back(fd);
  }
  ASSERT_TRUE(full) << "the listener kept accepting connections";
  LineSocket socket;
  std::string error;
  auto step = socket.beginConnect("127.0.0.1", server.port, milliseconds(300), &error);
  ASSERT_EQ(step, LineSocket::Step::kPending) << "beginConnect waited for the server";
  EXPECT_TRUE(socket.connecting());
  EXPECT_FALSE(socket.connected());
  EXPECT_EQ(socket.waitEvents(), POLLOUT);
  EXPECT_EQ(socket.continueConnect(&error), LineSocket::Step::kPending)
      << "asked again before the deadline: still waiting";
  EXPECT_EQ(finish(socket, LineSocket::Step::kPending, &error), LineSocket::Step::kFailed);
  EXPECT_EQ(error, "timed out");
  EXPECT_FALSE(socket.connecting());
  std::string blocking_error;
  EXPECT_FALSE(socket.connect("127.0.0.1", server.port, milliseconds(300), &blocking_error))
      << "the blocking connect gives up at the same deadline";
  EXPECT_EQ(blocking_error, "timed out");
  for (int fd : fillers) ::close(fd);
}

// A resolver that answers only when the test lets it: whatever the DNS
// server does, the caller must not be the one waiting for it. Its state is
// shared with the resolving thread, which may outlive the test's use of it.
struct GatedResolver {
  struct State {
    std::promise<void> open;
    std::shared_future<void> gate = open.get_future().share();
    std::atomic<int> calls{0};
    int answer = 0;  // an EAI_ code, or 0 for 127.0.0.1
  };
  std::shared_ptr<State> state = std::make_shared<State>();

  void open() { state->open.set_value(); }
  LineSocket::Resolver resolver() const {
    return [state = state](const std::string&, const std::string& service, const addrinfo& hints,
                           addrinfo** result) {
      state->calls++;
      // Never opened: a test went wrong. Fail rather than hang it.
      if (state->gate.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
        return EAI_AGAIN;
      }
      if (state->answer != 0) return state->answer;
      return getaddrinfo("127.0.0.1", service.c_str(), &hints, result);
    };
  }
};

TEST(LineSocketTest, AHostNameIsResolvedWithoutHoldingTheCaller) {
  Listener server(8);
  GatedResolver dns;
  LineSocket socket;
  socket.setResolver(dns.resolver());
  std::string error;
  auto step = socket.beginConnect("chat.example", server.port, milliseconds(5000), &error);
  ASSERT_EQ(step, LineSocket::Step::kPending) << "beginConnect waited for the resolver";
  EXPECT_TRUE(socket.connecting());
  EXPECT_EQ(socket.waitEvents(), POLLIN);
  ASSERT_GE(socket.fd(), 0);
  pollfd p{socket.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "readable before the name was resolved";
  EXPECT_EQ(socket.continueConnect(&error), LineSocket::Step::kPending);
  dns.open();
  ASSERT_EQ(finish(socket, LineSocket::Step::kPending, &error), LineSocket::Step::kConnected)
      << error;
  int peer = ::accept(server.fd, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  ASSERT_TRUE(socket.sendLine(R"({"op":"ping"})"));
  ::close(peer);
}

TEST(LineSocketTest, ALookupPastItsBudgetFailsTheAttemptAndTheNextAttemptTakesItOver) {
  Listener server(8);
  GatedResolver dns;
  LineSocket socket;
  socket.setResolver(dns.resolver(), milliseconds(200));
  std::string error;
  auto step = socket.beginConnect("chat.example", server.port, milliseconds(100), &error);
  ASSERT_EQ(step, LineSocket::Step::kPending);
  EXPECT_EQ(finish(socket, step, &error), LineSocket::Step::kFailed);
  EXPECT_EQ(error, "timed out resolving chat.example");
  EXPECT_FALSE(socket.connecting());
  EXPECT_EQ(socket.fd(), -1);
  // An address meanwhile needs no lookup.
  error.clear();
  EXPECT_TRUE(socket.connect("127.0.0.1", server.port, milliseconds(5000), &error)) << error;
  // The same name again waits for the same lookup: no second one started.
  error.clear();
  step = socket.beginConnect("chat.example", server.port, milliseconds(100), &error);
  ASSERT_EQ(step, LineSocket::Step::kPending) << error;
  dns.open();
  EXPECT_EQ(finish(socket, step, &error), LineSocket::Step::kConnected) << error;
  EXPECT_EQ(dns.state->calls.load(), 1);
  // Once used, a lookup is not reused: the next attempt asks again.
  socket.close();
  EXPECT_TRUE(socket.connect("chat.example", server.port, milliseconds(5000), &error)) << error;
  EXPECT_EQ(dns.state->calls.load(), 2);
}

TEST(LineSocketTest, ASocketDestroyedWhileResolvingLeavesTheLookupNothingToTrip) {
  GatedResolver dns;
  int pipe_fd = -1;
  {
    LineSocket socket;
    socket.setResolver(dns.resolver());
    std::string error;
    ASSERT_EQ(socket.beginConnect("chat.example", 9, milliseconds(5000), &error),
              LineSocket::Step::kPending);
    pipe_fd = socket.fd();
  }
  EXPECT_NE(fcntl(pipe_fd, F_GETFD), -1) << "the lookup lost its pipe with the socket";
  dns.open();
  // The thread finishes against what it shares (the ASan build checks) and
  // frees it, closing the pipe. (Nothing else in this test opens a file.)
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (fcntl(pipe_fd, F_GETFD) != -1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(fcntl(pipe_fd, F_GETFD), -1) << "the lookup's pipe was never closed";
}

TEST(LineSocketTest, ANameThatDoesNotResolveFailsWithTheResolversReason) {
  GatedResolver dns;
  dns.state->answer = EAI_NONAME;
  dns.open();
  LineSocket socket;
  socket.setResolver(dns.resolver());
  std::string error;
  EXPECT_FALSE(socket.connect("nowhere.example", 9, milliseconds(5000), &error));
  EXPECT_EQ(error, gai_strerror(EAI_NONAME));
  EXPECT_FALSE(socket.connecting());
}

}  // namespace
}  // namespace parley::client
