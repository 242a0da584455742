// LineSocket: the TCP connection to the server, one JSON line each way,
// optionally over TLS (OpenSSL; the server's certificate is verified against
// the system's CAs or --tls-ca, and must name --host). Part of the `parley`
// executable, not of the library: it makes the system calls. Blocking writes
// (a chat line is small and the server reads promptly), non-blocking reads so
// the terminal loop can poll() it beside stdin.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/line_buffer.h"

struct addrinfo;
struct ssl_st;
struct ssl_ctx_st;

namespace parley::client {

class LineSocket {
 public:
  LineSocket() = default;
  LineSocket(const LineSocket&) = delete;
  LineSocket& operator=(const LineSocket&) = delete;
  ~LineSocket();

  // Connections from now on use TLS, trusting the CA certificates in
  // `ca_file` (PEM), or the system's when it is empty.
  void useTls(const std::string& ca_file);

  // How a host name becomes addresses: getaddrinfo(3) unless a test slows
  // it down. It runs on a thread of its own (see beginConnect), and an
  // attempt waits up to `budget` for it: as long as a resolver with a dead
  // nameserver takes to try the next one (glibc: 5 s a try), several times.
  using Resolver = std::function<int(const std::string& host, const std::string& service,
                                     const addrinfo& hints, addrinfo** result)>;
  static constexpr std::chrono::milliseconds kResolveBudget{30000};
  void setResolver(Resolver resolver, std::chrono::milliseconds budget = kResolveBudget) {
    resolver_ = std::move(resolver);
    resolve_budget_ = budget;
  }

  // Connects to `host` (a name or an address) trying each of its addresses,
  // each within `timeout` (the TLS handshake within another, and a name's
  // resolution within 30 s). False with `error` set when none answered.
  // Blocks until then.
  bool connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
               std::string* error);

  // The same without blocking, for a caller with a poll loop of its own (the
  // terminal stays live while a reconnect waits for an unreachable server):
  // beginConnect() starts on the first address; while connecting(), poll
  // fd() for waitEvents() until deadline(), then call continueConnect(),
  // which moves on (the addresses once a name is resolved, the next address,
  // the TLS handshake) or tells the end. A host name is resolved on a thread
  // of its own, since getaddrinfo(3) cannot be polled and a slow DNS server
  // would hold the caller for as long as it likes; one that takes longer
  // than 30 s fails the attempt, and the next attempt for the same name
  // waits for that same lookup rather than starting another.
  enum class Step { kConnected, kPending, kFailed };
  Step beginConnect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                    std::string* error);
  Step continueConnect(std::string* error);
  bool connecting() const {
    return phase_ == Phase::kResolving || phase_ == Phase::kTcp || phase_ == Phase::kTls;
  }
  short waitEvents() const;
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }

  void close();
  bool connected() const { return phase_ == Phase::kOpen; }
  // The socket, or -1: while connecting too (poll it for waitEvents()); while
  // a name is resolved, a pipe that turns readable when it is.
  int fd() const;

  // Writes `line` + "\n" completely. False if the connection broke.
  bool sendLine(const std::string& line);
  // Reads what is available without blocking. False when the server closed
  // the connection or it broke (lines received before that still pop).
  bool readAvailable();
  std::optional<std::string> popLine() { return buffer_.pop(); }
  // The server sent more than the line limit without a newline.
  bool overflowed() const { return buffer_.overflowed(); }

 private:
  enum class Phase { kClosed, kResolving, kTcp, kTls, kOpen };
  struct Address {
    sockaddr_storage storage;
    socklen_t length = 0;
    int family = 0;
    int protocol = 0;
  };
  struct Resolution;  // shared with the resolving thread, which may outlive us
  static std::vector<Address> toAddresses(const addrinfo* list);
  Step startResolving(const std::string& service, std::string* error);
  Step stepResolving(std::string* error);
  // Starts a non-blocking connect to the next address (closing the last).
  Step tryNextAddress(std::string* error);
  Step tcpConnected(std::string* error);
  bool startTls(std::string* error);
  Step stepTls(std::string* error);
  bool sendTls(const std::string& data);
  bool readTls();

  Phase phase_ = Phase::kClosed;
  Resolver resolver_;
  std::chrono::milliseconds resolve_budget_ = kResolveBudget;
  // While resolving, and after an attempt gave up on a lookup still running
  // (the next attempt for the same host and port takes it over).
  std::shared_ptr<Resolution> resolution_;
  std::string resolution_key_;
  std::vector<Address> addresses_;  // while connecting
  size_t next_address_ = 0;
  std::string host_;  // the name the certificate must carry
  std::chrono::milliseconds timeout_{0};
  std::chrono::steady_clock::time_point deadline_{};  // of the address or the handshake
  short tls_wants_ = 0;                               // POLLIN or POLLOUT
  int fd_ = -1;
  LineBuffer buffer_;
  bool tls_ = false;
  std::string tls_ca_;
  ssl_ctx_st* ctx_ = nullptr;  // made at the first TLS connect
  ssl_st* ssl_ = nullptr;      // the TLS session of this connection
};

}  // namespace parley::client
