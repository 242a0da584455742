// ChildProcess: a program started by a test (parley-server, mariadbd,
// redis-server), with its output in a log file. The child is tied to the test
// process: if the test dies (a crash, an abort, a CTest timeout's SIGKILL), the
// kernel sends the child SIGTERM, so no throwaway server outlives its test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace parley::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill9(); }

  // Starts argv[0] (a path) with stdout and stderr appended to `log_path`.
  void spawn(const std::vector<std::string>& argv, const std::string& log_path);
  // SIGTERM, then waits up to `grace` (SIGKILL after that). Returns the exit
  // status, or -1 when it had to be killed or died of a signal.
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(20));
  // SIGKILL and reap: a crash.
  void kill9();
  // True (and reaped) if the child has exited on its own.
  bool exited();
  // Its exit status once exited() said so; -1 if a signal ended it.
  int exitStatus() const { return exit_status_; }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
};

}  // namespace parley::testing
