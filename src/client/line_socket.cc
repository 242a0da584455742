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
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

namespace parley::client {
namespace {

// Starts a non-blocking connect and waits for it at most `timeout`, so an
// unreachable address costs seconds, not the kernel's two minutes.
int connectOne(const addrinfo* a, std::chrono::milliseconds timeout, std::string* error) {
  int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
  if (fd < 0) {
    *error = std::strerror(errno);
    return -1;
  }
  int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
  if (rc < 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    do {
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
      *error = "timed out";
      ::close(fd);
      return -1;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    rc = so_error == 0 ? 0 : -1;
    errno = so_error;
  }
  if (rc < 0) {
    *error = std::strerror(errno);
    ::close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, flags);  // back to blocking writes
  int one = 1;
  // Chat lines are small and interactive: do not hold them back (Nagle).
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace

bool LineSocket::connect(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
                         std::string* error) {
  close();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    *error = gai_strerror(rc);
    return false;
  }
  for (addrinfo* a = res; a && fd_ < 0; a = a->ai_next) fd_ = connectOne(a, timeout, error);
  freeaddrinfo(res);
  if (fd_ >= 0 && tls_ && !startTls(host, timeout, error)) close();
  return fd_ >= 0;
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
    SSL_shutdown(ssl_);  // sends close_notify if it can; never waits for the server's
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
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

bool LineSocket::startTls(const std::string& host, std::chrono::milliseconds timeout,
                          std::string* error) {
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
  bool is_address = inet_pton(AF_INET, host.c_str(), &probe) == 1 ||
                    inet_pton(AF_INET6, host.c_str(), &probe) == 1;
  if (is_address) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    SSL_set1_host(ssl_, host.c_str());
  }
  // Non-blocking from here on: the handshake keeps to `timeout`, and reads
  // must return when OpenSSL has nothing more decrypted.
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL, 0) | O_NONBLOCK);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int rc = SSL_connect(ssl_);
    if (rc == 1) return true;
    int err = SSL_get_error(ssl_, rc);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) && left.count() > 0 &&
        waitFor(fd_, err, static_cast<int>(left.count()))) {
      continue;
    }
    long verify = SSL_get_verify_result(ssl_);
    *error = verify != X509_V_OK
                 ? std::string("TLS: server certificate: ") + X509_verify_cert_error_string(verify)
                 : tlsError("TLS handshake failed");
    return false;
  }
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
