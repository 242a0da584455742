#include "server_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace parley::testing {

std::string binaryPath(const char* name) {
  return std::string(PARLEY_BINARY_DIR) + "/src/" +
         (std::string(name) == "parley" ? "client/" : "server/") + name;
}

ServerProcess::ServerProcess(std::vector<std::string> args, uint16_t port)
    : args_(std::move(args)), fixed_port_(port) {
  char tmpl[] = "/tmp/parley-it-XXXXXX";
  dir_ = mkdtemp(tmpl);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) kill9();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ServerProcess::start() {
  std::string port_file = dir_ + "/port";
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {binaryPath("parley-server"),
                                   "--host",
                                   "127.0.0.1",
                                   "--port",
                                   std::to_string(fixed_port_),
                                   "--port-file",
                                   port_file,
                                   "--data",
                                   dataPath(),
                                   "--hash-cost",
                                   "min",
                                   "--threads",
                                   "2",
                                   "--log-level",
                                   "info"};
  for (std::string arg : args_) {
    for (size_t at; (at = arg.find("{dir}")) != std::string::npos;) arg.replace(at, 5, dir_);
    argv.push_back(std::move(arg));
  }
  pid_ = fork();
  if (pid_ == 0) {
    std::string log = dir_ + "/server.log";
    FILE* f = freopen(log.c_str(), "a", stderr);
    (void)f;
    dup2(STDERR_FILENO, STDOUT_FILENO);
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    execv(c[0], c.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    int p = 0;
    if (in >> p && p > 0) {
      port_ = static_cast<uint16_t>(p);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "parley-server exited at start:\n" << logTail();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL() << "parley-server did not listen within 15 s:\n" << logTail();
}

int ServerProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill9();
  return -1;
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

uint16_t ServerProcess::portFromFile(const std::string& path) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    int p = 0;
    if (in >> p && p > 0) return static_cast<uint16_t>(p);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no port in " << path << ":\n" << logTail();
  return 0;
}

std::string ServerProcess::logTail() const {
  std::ifstream in(dir_ + "/server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

}  // namespace parley::testing
