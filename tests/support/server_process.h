// ServerProcess: the real parley-server binary, started for a test on a free
// loopback port in its own temp directory, stopped (SIGTERM) or crashed
// (SIGKILL) on demand.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "child_process.h"

namespace parley::testing {

class ServerProcess {
 public:
  // `args` are extra flags (e.g. {"--max-line", "1024"}); "{dir}" in them
  // stands for the server's temp directory. `port` 0 picks a free port at
  // each start; a fixed one survives restarts (nginx upstreams).
  explicit ServerProcess(std::vector<std::string> args = {}, uint16_t port = 0);
  ~ServerProcess();

  // Starts the server and waits until it listens. Fails the test on error.
  void start();
  // SIGTERM, then waits; returns the exit status (-1 if it had to be killed).
  int stop();
  // SIGKILL: a crash. The data directory stays for a restart.
  void kill9();
  bool running() const { return process_.running(); }
  pid_t pid() const { return process_.pid(); }
  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string dataPath() const { return dir_ + "/parley.db"; }
  std::string logTail() const;
  // The port written to `path` by the server (--admin-port-file,
  // --web-port-file), waiting up to 15 s for it. Fails the test if absent.
  uint16_t portFromFile(const std::string& path) const;

 private:
  std::vector<std::string> args_;
  uint16_t fixed_port_ = 0;
  std::string dir_;
  ChildProcess process_;
  uint16_t port_ = 0;
};

// The directory that holds the built binaries (set by CMake).
std::string binaryPath(const char* name);

}  // namespace parley::testing
