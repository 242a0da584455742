// After a crash and restart: logs in every recipient named in an acked log
// (written by parley-soak --acked-log before the crash) and checks that each
// of its acknowledged messages is delivered by the replay that follows login.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace parley::bench {

struct VerifyOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7000;
  std::string acked_log;
  std::string password = "soakpass1";
  int sources = 8;
};

// {"users", "checked", "delivered", "lost", "examples": [...]}; lost > 0 is
// a durability failure.
nlohmann::json verifyAckedLog(const VerifyOptions& options);

}  // namespace parley::bench
