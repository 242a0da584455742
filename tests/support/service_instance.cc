#include "service_instance.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

namespace parley::testing {
namespace {

std::string makeTempDir(const char* what) {
  std::string tmpl = std::string("/tmp/parley-") + what + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return mkdtemp(buf.data());
}

int run(const std::string& command) { return std::system(command.c_str()); }

bool waitUntil(int seconds, const std::function<bool()>& ready) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace

uint16_t freePort() {
  auto bindable = [](uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    socklen_t len = sizeof addr;
    if (ok && port == 0) ok = getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    ::close(fd);
    return ok ? ntohs(addr.sin_port) : uint16_t{0};
  };
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  constexpr int kLowest = 10000;
  if (ephemeral_low > kLowest + 1000) {
    thread_local std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<int> pick(kLowest, ephemeral_low - 1);
    for (int attempt = 0; attempt < 200; ++attempt) {
      if (uint16_t port = bindable(static_cast<uint16_t>(pick(random)))) return port;
    }
  }
  return bindable(0);  // no room below the ephemeral range: the kernel's choice
}

// --- MariaDB -----------------------------------------------------------------

MariaDbInstance::MariaDbInstance() : dir_(makeTempDir("mariadb")), port_(freePort()) {}

MariaDbInstance::~MariaDbInstance() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool MariaDbInstance::ping() const {
  return run("mariadb-admin --no-defaults --socket=" + dir_ + "/mysql.sock -uroot ping " +
             ">/dev/null 2>&1") == 0;
}

void MariaDbInstance::start() {
  // A private tmpdir: bootstrap servers running at once (tests in parallel)
  // otherwise collide on temporary-table names in the shared /tmp.
  const std::string tmp = dir_ + "/tmp";
  std::filesystem::create_directories(tmp);
  if (!initialized_) {
    int rc = run("mariadb-install-db --no-defaults --datadir=" + dir_ + "/data --tmpdir=" + tmp +
                 " --user=root --auth-root-authentication-method=socket --skip-test-db >" + dir_ +
                 "/install.log 2>&1");
    if (rc != 0) {
      std::ifstream log(dir_ + "/install.log");
      std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      FAIL() << "mariadb-install-db failed:\n"
             << text.substr(text.size() > 4000 ? text.size() - 4000 : 0);
    }
  }
  process_.spawn(
      {"/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + dir_ + "/data",
       "--socket=" + dir_ + "/mysql.sock", "--tmpdir=" + tmp, "--port=" + std::to_string(port_),
       "--bind-address=127.0.0.1", "--pid-file=" + dir_ + "/mariadb.pid", "--user=root",
       "--skip-name-resolve", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M"},
      dir_ + "/mariadb.log");
  ASSERT_TRUE(waitUntil(60, [this] { return ping(); }))
      << "MariaDB did not start; see " << dir_ << "/mariadb.log";
  if (!initialized_) {
    int rc = run("mariadb --no-defaults --socket=" + dir_ + "/mysql.sock -uroot -e \"" +
                 "CREATE DATABASE parley CHARACTER SET utf8mb4; "
                 "CREATE USER 'parley'@'127.0.0.1' IDENTIFIED BY 'parley'; "
                 "GRANT ALL ON parley.* TO 'parley'@'127.0.0.1';\"");
    ASSERT_EQ(rc, 0) << "could not create the parley database";
    initialized_ = true;
  }
}

void MariaDbInstance::stop() { process_.terminate(); }

std::string MariaDbInstance::url() const {
  return "mysql://parley:parley@127.0.0.1:" + std::to_string(port_) + "/parley";
}

// --- Redis -------------------------------------------------------------------

RedisInstance::RedisInstance() : dir_(makeTempDir("redis")), port_(freePort()) {}

RedisInstance::~RedisInstance() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void RedisInstance::start() {
  process_.spawn({"/usr/bin/redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                  "--save", "", "--appendonly", "no", "--dir", dir_},
                 dir_ + "/redis.log");
  std::string ping = "redis-cli -p " + std::to_string(port_) + " ping >/dev/null 2>&1";
  ASSERT_TRUE(waitUntil(20, [&] { return run(ping) == 0; }))
      << "Redis did not start; see " << dir_ << "/redis.log";
}

void RedisInstance::stop() { process_.terminate(); }

std::string RedisInstance::url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

// --- nginx -------------------------------------------------------------------

NginxInstance::NginxInstance(std::vector<uint16_t> upstream_ports)
    : dir_(makeTempDir("nginx")), port_(freePort()), upstreams_(std::move(upstream_ports)) {}

NginxInstance::~NginxInstance() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void NginxInstance::start() {
  std::ifstream in(std::string(PARLEY_SOURCE_DIR) + "/deploy/nginx.conf");
  ASSERT_TRUE(in) << "deploy/nginx.conf not found";
  std::stringstream conf;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("@UPSTREAM_SERVERS@") != std::string::npos) {
      for (uint16_t p : upstreams_) {
        conf << "    server 127.0.0.1:" << p << " max_fails=1 fail_timeout=2s;\n";
      }
      continue;
    }
    for (auto [key, value] : {std::pair<std::string, std::string>{"@RUN_DIR@", dir_},
                              {"@LISTEN@", "127.0.0.1:" + std::to_string(port_)}}) {
      for (size_t at; (at = line.find(key)) != std::string::npos;)
        line.replace(at, key.size(), value);
    }
    conf << line << "\n";
  }
  std::ofstream(dir_ + "/nginx.conf") << conf.str();
  // In the foreground, as our child: if the test dies, nginx's master gets
  // the parent-death SIGTERM and stops its workers (a daemonized nginx, or a
  // SIGKILLed master, would leave workers listening).
  process_.spawn({"/usr/sbin/nginx", "-p", dir_, "-c", dir_ + "/nginx.conf", "-g", "daemon off;"},
                 dir_ + "/start.log");
  std::string probe =
      "bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port_) + "' 2>/dev/null";
  ASSERT_TRUE(waitUntil(10, [&] { return !process_.exited() && run(probe) == 0; }))
      << "nginx does not listen; see " << dir_;
}

void NginxInstance::stop() { process_.terminate(); }

}  // namespace parley::testing
