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
  process_.kill9();
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
  process_.spawn(argv, dir_ + "/server.log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(port_file);
    int p = 0;
    if (in >> p && p > 0) {
      port_ = static_cast<uint16_t>(p);
      return;
    }
    if (process_.exited()) {
      FAIL() << "parley-server exited at start:\n" << logTail();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL() << "parley-server did not listen within 15 s:\n" << logTail();
}

int ServerProcess::stop() {
  if (!process_.running()) return -1;
  return process_.terminate(std::chrono::seconds(15));
}

void ServerProcess::kill9() { process_.kill9(); }

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
