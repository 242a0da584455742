// Throwaway MariaDB and Redis servers for tests: started on 127.0.0.1 on a
// free port, in a temp directory, never touching system services; stoppable
// and restartable mid-test (same port, same data), removed at destruction.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "child_process.h"

namespace parley::testing {

// A free TCP port on 127.0.0.1 for a server a test starts itself: one that
// binds now, taken below the kernel's ephemeral range. (A port the kernel
// picked for a bind to port 0 is an ephemeral one: until the server binds
// it, any test's outgoing connection may take it as its source port.)
uint16_t freePort();

class MariaDbInstance {
 public:
  MariaDbInstance();
  ~MariaDbInstance();
  // Initializes the data directory once, starts mariadbd, creates the
  // `parley` database and user. Fails the test on error.
  void start();
  void stop();
  std::string url() const;  // mysql://parley:parley@127.0.0.1:PORT/parley
  uint16_t port() const { return port_; }

 private:
  bool ping() const;
  std::string dir_;
  uint16_t port_;
  bool initialized_ = false;
  ChildProcess process_;
};

class RedisInstance {
 public:
  RedisInstance();
  ~RedisInstance();
  void start();
  void stop();
  std::string url() const;  // redis://127.0.0.1:PORT
  uint16_t port() const { return port_; }

 private:
  std::string dir_;
  uint16_t port_;
  ChildProcess process_;
};

// nginx as the TCP load balancer in front of `upstream_ports`, configured
// from the project's own deploy/nginx.conf (so the test covers that file).
class NginxInstance {
 public:
  explicit NginxInstance(std::vector<uint16_t> upstream_ports);
  ~NginxInstance();
  void start();
  void stop();
  uint16_t port() const { return port_; }

 private:
  std::string dir_;
  uint16_t port_;
  std::vector<uint16_t> upstreams_;
  ChildProcess process_;
};

}  // namespace parley::testing
