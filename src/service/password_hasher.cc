#include "service/password_hasher.h"

#include <sodium.h>

#include <algorithm>
#include <cstdlib>

namespace parley {

Result<HashCost> parseHashCost(const std::string& name) {
  if (name == "interactive") return HashCost::kInteractive;
  if (name == "moderate") return HashCost::kModerate;
  if (name == "min") return HashCost::kMinimum;
  return Status::BadRequest("hash cost must be interactive, moderate or min");
}

PasswordHasher::PasswordHasher(HashCost cost, std::ptrdiff_t max_concurrent)
    : slots_(std::max<std::ptrdiff_t>(1, std::min<std::ptrdiff_t>(max_concurrent, 1024))) {
  // Idempotent and thread-safe; needed before any other libsodium call.
  if (sodium_init() < 0) std::abort();
  switch (cost) {
    case HashCost::kInteractive:
      opslimit_ = crypto_pwhash_OPSLIMIT_INTERACTIVE;
      memlimit_ = crypto_pwhash_MEMLIMIT_INTERACTIVE;
      break;
    case HashCost::kModerate:
      opslimit_ = crypto_pwhash_OPSLIMIT_MODERATE;
      memlimit_ = crypto_pwhash_MEMLIMIT_MODERATE;
      break;
    case HashCost::kMinimum:
      opslimit_ = crypto_pwhash_OPSLIMIT_MIN;
      memlimit_ = crypto_pwhash_MEMLIMIT_MIN;
      break;
  }
  auto dummy = hash("parley-dummy-password");
  if (dummy.ok()) dummy_hash_ = std::move(dummy).value();
}

Result<std::string> PasswordHasher::hash(const std::string& password) {
  char out[crypto_pwhash_STRBYTES];
  slots_.acquire();
  int rc = crypto_pwhash_str_alg(out, password.data(), password.size(), opslimit_, memlimit_,
                                 crypto_pwhash_ALG_ARGON2ID13);
  slots_.release();
  if (rc != 0) return Status::Internal("password hashing ran out of memory");
  return std::string(out);
}

bool PasswordHasher::verify(const std::string& encoded, const std::string& password) {
  slots_.acquire();
  int rc = crypto_pwhash_str_verify(encoded.c_str(), password.data(), password.size());
  slots_.release();
  return rc == 0;
}

void PasswordHasher::burnVerify(const std::string& password) {
  if (!dummy_hash_.empty()) (void)verify(dummy_hash_, password);
}

}  // namespace parley
