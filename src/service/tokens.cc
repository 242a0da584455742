#include "service/tokens.h"

#include <sodium.h>

#include <algorithm>

namespace parley {
namespace {

// Tokens, their hashes and packed hashes are all 32 bytes.
std::string toHex(const PackedTokenHash& bytes) {
  char hex[sizeof(PackedTokenHash) * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, bytes.data(), bytes.size());
  return hex;
}

}  // namespace

std::string newToken() {
  PackedTokenHash raw;
  randombytes_buf(raw.data(), raw.size());
  return toHex(raw);
}

std::string hashToken(const std::string& token) {
  PackedTokenHash digest;
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr,
                     0);
  return toHex(digest);
}

PackedTokenHash packTokenHash(const std::string& hex) {
  PackedTokenHash packed{};
  size_t length = 0;
  if (hex.size() != packed.size() * 2 ||
      sodium_hex2bin(packed.data(), packed.size(), hex.data(), hex.size(), nullptr, &length,
                     nullptr) != 0 ||
      length != packed.size()) {
    packed.fill(0);
  }
  return packed;
}

std::string unpackTokenHash(const PackedTokenHash& packed) {
  if (std::all_of(packed.begin(), packed.end(), [](unsigned char b) { return b == 0; })) return "";
  return toHex(packed);
}

}  // namespace parley
