#include "line_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace parley::testing {

LineClient::LineClient(uint16_t port, const std::string& host, const std::string& source) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (!source.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ADD_FAILURE() << "cannot bind to " << source;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    ADD_FAILURE() << "cannot connect to " << host << ":" << port << ": " << strerror(errno);
  }
}

LineClient::~LineClient() {
  close();
  if (ctx_) SSL_CTX_free(ctx_);
}

std::unique_ptr<LineClient> LineClient::overTls(uint16_t port, const std::string& ca_file) {
  signal(SIGPIPE, SIG_IGN);  // OpenSSL writes without MSG_NOSIGNAL
  auto c = std::make_unique<LineClient>(port);
  if (!c->connected()) return c;
  c->ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
  EXPECT_EQ(SSL_CTX_load_verify_locations(c->ctx_, ca_file.c_str(), nullptr), 1) << ca_file;
  c->ssl_ = SSL_new(c->ctx_);
  SSL_set_fd(c->ssl_, c->fd_);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl_), "127.0.0.1");
  if (SSL_connect(c->ssl_) != 1) {
    char err[256] = "";
    ERR_error_string_n(ERR_get_error(), err, sizeof err);
    ADD_FAILURE() << "TLS handshake failed: " << err;
    c->close();
  }
  return c;
}

void LineClient::close() {
  if (ssl_) {
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void LineClient::sendRaw(const std::string& bytes) {
  size_t off = 0;
  while (fd_ >= 0 && off < bytes.size()) {
    ssize_t n = ssl_ ? SSL_write(ssl_, bytes.data() + off, static_cast<int>(bytes.size() - off))
                     : ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the peer closed; later reads will tell
    off += static_cast<size_t>(n);
  }
}

std::optional<std::string> LineClient::readRawLine(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (eof_ || fd_ < 0) return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    // OpenSSL may hold decrypted bytes that poll() cannot see.
    bool pending = ssl_ && SSL_pending(ssl_) > 0;
    pollfd p{fd_, POLLIN, 0};
    if (!pending && poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    if (!receive()) eof_ = true;
  }
}

bool LineClient::receive() {
  char buf[65536];
  ssize_t n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    ERR_clear_error();
    return false;
  }
  buffer_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<json> LineClient::readLine(std::chrono::milliseconds timeout) {
  auto line = readRawLine(timeout);
  if (!line) return std::nullopt;
  json j = json::parse(*line, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "server sent a non-JSON line: " << *line;
  return j;
}

json LineClient::request(json request, std::chrono::milliseconds timeout) {
  int64_t rid = next_rid_++;
  request["rid"] = rid;
  sendLine(request.dump());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto j = readLine(std::max(left, std::chrono::milliseconds(1)));
    if (!j) {
      ADD_FAILURE() << "no response to " << request.dump();
      return json::object();
    }
    if (j->contains("event")) {
      events_.push_back(*j);
      continue;
    }
    EXPECT_EQ((*j)["rid"], rid) << "response out of order: " << j->dump();
    return *j;
  }
}

std::optional<json> LineClient::nextEvent(std::chrono::milliseconds timeout) {
  if (!events_.empty()) {
    json e = events_.front();
    events_.pop_front();
    return e;
  }
  auto j = readLine(timeout);
  if (j && !j->contains("event")) {
    ADD_FAILURE() << "expected an event, got " << j->dump();
    return std::nullopt;
  }
  return j;
}

std::optional<json> LineClient::nextEventOf(const std::string& kind,
                                            std::chrono::milliseconds timeout) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if ((*it)["event"] == kind) {
      json e = *it;
      events_.erase(it);
      return e;
    }
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto j = readLine(left);
    if (!j) return std::nullopt;
    if ((*j)["event"] == kind) return j;
    if (j->contains("event")) events_.push_back(*j);
  }
}

bool LineClient::closedByPeer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_ && std::chrono::steady_clock::now() < deadline) {
    readRawLine(std::chrono::milliseconds(50));
  }
  return eof_;
}

json LineClient::registerUser(const std::string& name, const std::string& password) {
  json r = request({{"op", "register"}, {"name", name}, {"password", password}});
  EXPECT_EQ(r.value("ok", false), true) << r.dump();
  return r;
}

json LineClient::login(const std::string& name, const std::string& password) {
  json r = request({{"op", "login"}, {"name", name}, {"password", password}});
  EXPECT_EQ(r.value("ok", false), true) << r.dump();
  return r;
}

}  // namespace parley::testing
