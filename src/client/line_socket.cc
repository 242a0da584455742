#include "client/line_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

namespace parley::client {

// What the resolving thread hands over: the addresses and getaddrinfo's
// code, and a pipe whose read end the caller polls (written once, when the
// addresses are in). Owned by both, so a socket that gives up (timeout,
// close, destruction) leaves the thread something valid to finish with.
struct LineSocket::Resolution {
  Resolution() = default;
  Resolution(const Resolution&) = delete;
  Resolution& operator=(const Resolution&) = delete;
  ~Resolution() {
    for (int fd : pipe) {
      if (fd >= 0) ::close(fd);
    }
  }
  // Runs `resolver` and hands its answer over (on the resolving thread, or
  // on the caller's when no thread could be had).
  void run(const Resolver& resolver, const std::string& host, const std::string& service) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int code = resolver(host, service, hints, &res);
    std::vector<Address> found = code == 0 ? toAddresses(res) : std::vector<Address>{};
    if (code == 0 && res) freeaddrinfo(res);
    {
      std::lock_guard lock(mu);
      rc = code;
      addresses = std::move(found);
      done = true;
    }
    char one = 1;
    [[maybe_unused]] ssize_t n = ::write(pipe[1], &one, 1);  // written once: never full
  }

  int pipe[2] = {-1, -1};
  std::mutex mu;
  bool done = false;  // guarded by mu, as are the two below
  int rc = 0;
  std::vector<Address> addresses;
};

namespace {

int systemResolver(const std::string& host, const std::string& service, const addrinfo& hints,
                   addrinfo** result) {
  return getaddrinfo(host.c_str(), service.c_str(), &hints, result);
}

}  // namespace

std::vector<LineSocket::Address> LineSocket::toAddresses(const addrinfo* list) {
  std::vector<Address> out;
  for (const addrinfo* a = list; a; a = a->ai_next) {
    Address address;
    std::memcpy(&address.storage, a->ai_addr, a->ai_addrlen);
    address.length = a->ai_addrlen;
    address.family = a->ai_family;
    address.protocol = a->ai_protocol;
    out.push_back(address);
  }
  return out;
}

LineSocket::Step LineSocket::beginConnect(const std::string& host, uint16_t port,
                                          std::chrono::milliseconds timeout, std::string* error) {
  close();
  host_ = host;
  timeout_ = timeout;
  next_address_ = 0;
  const std::string service = std::to_string(port);
  // An address needs no resolver: it is parsed here, at once.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc == EAI_NONAME) return startResolving(service, error);  // a name
  if (rc != 0) {
    *error = gai_strerror(rc);
    return Step::kFailed;
  }
  addresses_ = toAddresses(res);
  freeaddrinfo(res);
  return tryNextAddress(error);
}

LineSocket::Step LineSocket::startResolving(const std::string& service, std::string* error) {
  const std::string key = host_ + " " + service;
  if (!resolution_ || resolution_key_ != key) {  // else: a lookup an attempt gave up on
    auto resolution = std::make_shared<Resolution>();
    if (::pipe2(resolution->pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      *error = std::strerror(errno);
      return Step::kFailed;
    }
    Resolver resolver = resolver_ ? resolver_ : Resolver(systemResolver);
    // The thread takes no signal: the terminal's handlers run on its thread.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    bool started = false;
    try {
      std::thread([resolution, resolver, host = host_, service] {
        resolution->run(resolver, host, service);
      }).detach();
      started = true;
    } catch (const std::exception&) {  // no thread to be had
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (!started) resolution->run(resolver, host_, service);  // blocking, as before threads
    resolution_ = std::move(resolution);
    resolution_key_ = key;
  }
  deadline_ = std::chrono::steady_clock::now() + std::max(timeout_, resolve_budget_);
  phase_ = Phase::kResolving;
  return stepResolving(error);
}

LineSocket::Step LineSocket::stepResolving(std::string* error) {
  bool done;
  int rc;
  {
    std::lock_guard lock(resolution_->mu);
    done = resolution_->done;
    rc = resolution_->rc;
    if (done && rc == 0) addresses_ = std::move(resolution_->addresses);
  }
  if (!done && std::chrono::steady_clock::now() < deadline_) return Step::kPending;
  phase_ = Phase::kClosed;
  if (!done) {
    // Kept: the next attempt for this name waits for this same lookup.
    *error = "timed out resolving " + host_;
    return Step::kFailed;
  }
  resolution_.reset();  // used: the next attempt resolves afresh
  if (rc != 0) {
    *error = gai_strerror(rc);
    return Step::kFailed;
  }
  if (addresses_.empty()) {
    *error = "no address for " + host_;
    return Step::kFailed;
  }
  return tryNextAddress(error);
}

int LineSocket::fd() const { return phase_ == Phase::kResolving ? resolution_->pipe[0] : fd_; }

LineSocket::Step LineSocket::tryNextAddress(std::string* error) {
  while (next_address_ < addresses_.size()) {
    const Address& a = addresses_[next_address_++];
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::socket(a.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, a.protocol);
    if (fd_ < 0) {
      *error = std::strerror(errno);
      continue;
    }
    deadline_ = std::chrono::steady_clock::now() + timeout_;
    phase_ = Phase::kTcp;
    int rc = ::connect(fd_, reinterpret_cast<const sockaddr*>(&a.storage), a.length);
    if (rc == 0 || errno == EINPROGRESS) return rc == 0 ? tcpConnected(error) : Step::kPending;
    *error = std::strerror(errno);
  }
  close();
  return Step::kFailed;
}

LineSocket::Step LineSocket::continueConnect(std::string* error) {
  if (phase_ == Phase::kResolving) return stepResolving(error);
  if (phase_ == Phase::kTls) return stepTls(error);
  if (phase_ != Phase::kTcp) {
    *error = "not connecting";
    return Step::kFailed;
  }
  pollfd p{fd_, POLLOUT, 0};
  int ready;
  do {
    ready = ::poll(&p, 1, 0);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) {
    if (std::chrono::steady_clock::now() < deadline_) return Step::kPending;
    *error = "timed out";  // an unreachable address costs seconds, not the kernel's minutes
    return tryNextAddress(error);
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) {
    *error = std::strerror(so_error);
    return tryNextAddress(error);
  }
  return tcpConnected(error);
}

LineSocket::Step LineSocket::tcpConnected(std::string* error) {
  int one = 1;
  // Chat lines are small and interactive: do not hold them back (Nagle).
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  addresses_.clear();
  if (tls_) {
    deadline_ = std::chrono::steady_clock::now() + timeout_;
    if (!startTls(error)) {
      close();
      return Step::kFailed;
    }
    return stepTls(error);
  }
  // Plain connections write blocking (a chat line is small and the server
  // reads promptly) and read with MSG_DONTWAIT.
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL, 0) & ~O_NONBLOCK);
  phase_ = Phase::kOpen;
  return Step::kConnected;
}

short LineSocket::waitEvents() const {
  if (phase_ == Phase::kResolving) return POLLIN;
  if (phase_ == Phase::kTcp) return POLLOUT;
  if (phase_ == Phase::kTls) return tls_wants_;
  return POLLIN;
}

bool LineSocket::connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                         std::string* error) {
  Step step = beginConnect(host, port, timeout, error);
  while (step == Step::kPending) {
    auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
    pollfd p{fd(), waitEvents(), 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    if (rc < 0 && errno != EINTR) {
      *error = std::strerror(errno);
      close();
      return false;
    }
    step = continueConnect(error);
  }
  return step == Step::kConnected;
}

LineSocket::~LineSocket() {
  close();
  if (ctx_) SSL_CTX_free(ctx_);
}

void LineSocket::useTls(const std::string& ca_file) {
  // OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a server that went
  // away must show up as an error, not kill the client with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  tls_ = true;
  tls_ca_ = ca_file;
}

void LineSocket::close() {
  if (ssl_) {
    // close_notify if it can, never waiting for the server's; not for a
    // handshake that never finished (OpenSSL would only queue an error that
    // the next connect's message then reports instead of its own).
    if (SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
    SSL_free(ssl_);
    ssl_ = nullptr;
    ERR_clear_error();
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  phase_ = Phase::kClosed;  // a lookup in progress is kept for the next attempt
  addresses_.clear();
  buffer_ = LineBuffer();
}

namespace {

std::string tlsError(const char* what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return std::string(what) + (e ? std::string(": ") + buf : "");
}

// Waits until `fd` is ready for what OpenSSL asked (`ssl_error` is
// SSL_ERROR_WANT_READ or _WRITE); false on timeout or any other error.
bool waitFor(int fd, int ssl_error, int timeout_ms) {
  short events = ssl_error == SSL_ERROR_WANT_READ    ? POLLIN
                 : ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                     : 0;
  if (events == 0) return false;
  pollfd p{fd, events, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  return rc > 0;
}

}  // namespace

bool LineSocket::startTls(std::string* error) {
  if (!ctx_) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) {
      *error = tlsError("TLS");
      return false;
    }
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    int loaded = tls_ca_.empty() ? SSL_CTX_set_default_verify_paths(ctx_)
                                 : SSL_CTX_load_verify_locations(ctx_, tls_ca_.c_str(), nullptr);
    if (loaded != 1) {
      *error = tlsError(("cannot load CA certificates " + tls_ca_).c_str());
      SSL_CTX_free(ctx_);
      ctx_ = nullptr;
      return false;
    }
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  // The certificate must name the host we asked for: an address as an IP
  // SAN, a name as a DNS SAN (which is also sent as SNI).
  in6_addr probe{};
  bool is_address = inet_pton(AF_INET, host_.c_str(), &probe) == 1 ||
                    inet_pton(AF_INET6, host_.c_str(), &probe) == 1;
  if (is_address) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host_.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, host_.c_str());
    SSL_set1_host(ssl_, host_.c_str());
  }
  // The socket stays non-blocking: the handshake keeps to the deadline, and
  // reads must return when OpenSSL has nothing more decrypted.
  phase_ = Phase::kTls;
  return true;
}

LineSocket::Step LineSocket::stepTls(std::string* error) {
  int rc = SSL_connect(ssl_);
  if (rc == 1) {
    phase_ = Phase::kOpen;
    return Step::kConnected;
  }
  int err = SSL_get_error(ssl_, rc);
  if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
      std::chrono::steady_clock::now() < deadline_) {
    tls_wants_ = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    return Step::kPending;
  }
  long verify = SSL_get_verify_result(ssl_);
  *error = verify != X509_V_OK
               ? std::string("TLS: server certificate: ") + X509_verify_cert_error_string(verify)
           : err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE
               ? std::string("TLS handshake timed out")
               : tlsError("TLS handshake failed");
  close();
  return Step::kFailed;
}

bool LineSocket::sendTls(const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    int n = SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off));
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (!waitFor(fd_, SSL_get_error(ssl_, n), -1)) return false;
  }
  return true;
}

bool LineSocket::readTls() {
  char buf[16384];
  for (;;) {
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
      continue;  // drain OpenSSL's buffer: poll() cannot see what it holds
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) return true;
    if (err == SSL_ERROR_WANT_WRITE) {
      if (waitFor(fd_, err, 1000)) continue;
    }
    ERR_clear_error();
    return false;  // closed by the server (with or without close_notify) or broken
  }
}

bool LineSocket::sendLine(const std::string& line) {
  if (fd_ < 0) return false;
  std::string data = line + "\n";
  if (ssl_) return sendTls(data);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

bool LineSocket::readAvailable() {
  if (fd_ < 0) return false;
  if (ssl_) return readTls();
  char buf[65536];
  while (true) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) return true;
      continue;  // maybe more: take it now, so one burst gets one ack
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;  // 0: closed by the server; <0: broken
  }
}

}  // namespace parley::client
