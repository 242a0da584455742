// parley-server: parse the configuration, start one node, wait for SIGINT or
// SIGTERM, stop gracefully.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <fstream>

#include "server/config.h"
#include "server/parley_server.h"

int main(int argc, char** argv) {
  parley::server::Config config;
  if (int code = parley::server::parseConfig(argc, argv, &config); code >= 0) return code;
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");

  // Block the stop signals in every thread (the ones started below inherit
  // the mask), then wait for them here with sigwait: no async-signal-safety
  // puzzles in handlers.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // Every connection is a file: take every file the hard limit allows
  // (many systems start processes with a soft limit of 1024).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  // Past a file size limit (RLIMIT_FSIZE) a write should fail like a full
  // disk — the store answers `unavailable` and recovers — not kill the node.
  std::signal(SIGXFSZ, SIG_IGN);

  parley::server::ParleyServer server(config);
  parley::Status started = server.start();
  if (!started.ok()) {
    spdlog::critical("cannot start: {}", started.toString());
    return 1;
  }
  // Each port file is written to a temporary name and renamed, so a reader
  // polling for it never sees it half-written.
  auto writePort = [](const std::string& path, uint16_t port) {
    if (path.empty()) return;
    std::string tmp = path + ".tmp";
    std::ofstream(tmp) << port << "\n";
    std::rename(tmp.c_str(), path.c_str());
  };
  // The client port last: tests take it as the sign that everything is up.
  writePort(config.admin_port_file, server.adminPort());
  writePort(config.web_port_file, server.webPort());
  writePort(config.port_file, server.port());
  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  spdlog::info("stopped");
  return 0;
}
