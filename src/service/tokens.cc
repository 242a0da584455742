#include "service/tokens.h"

#include <sodium.h>

#include <algorithm>

namespace parley {

std::string newToken() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char hex[sizeof raw * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return hex;
}

std::string hashToken(const std::string& token) {
  unsigned char digest[32];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  char hex[sizeof digest * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
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
  char hex[sizeof(PackedTokenHash) * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, packed.data(), packed.size());
  return hex;
}

}  // namespace parley
