// PasswordHasher: argon2id (libsodium crypto_pwhash_str). The cost is a
// setting because each hash takes tens of MiB and milliseconds by design;
// concurrency is capped so a login storm cannot exhaust memory.
//
// Thread safety: all methods may be called from any (blocking-pool) thread.
// They block for the duration of a hash: never call them on a loop thread.
#pragma once

#include <cstddef>
#include <semaphore>
#include <string>

#include "common/status.h"

namespace parley {

enum class HashCost {
  kInteractive,  // libsodium's interactive limits: 64 MiB, ~2 passes (default)
  kModerate,     // 256 MiB: stronger, slower
  kMinimum,      // libsodium's minimum: only for tests and benchmarks
};

// Parses "interactive" | "moderate" | "min".
Result<HashCost> parseHashCost(const std::string& name);

class PasswordHasher {
 public:
  // At most `max_concurrent` hashes run at once; others wait.
  PasswordHasher(HashCost cost, std::ptrdiff_t max_concurrent);

  // The encoded argon2id string (algorithm, parameters, salt and hash).
  Result<std::string> hash(const std::string& password);
  // True if `password` matches `encoded`, whatever cost it was made with.
  bool verify(const std::string& encoded, const std::string& password);
  // Spends the time of one verification without a real hash, so that a login
  // for an unknown name takes as long as one with a wrong password.
  void burnVerify(const std::string& password);

 private:
  unsigned long long opslimit_;
  size_t memlimit_;
  std::counting_semaphore<1024> slots_;
  std::string dummy_hash_;
};

}  // namespace parley
