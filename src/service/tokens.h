// Resume tokens: 32 random bytes from libsodium, shown to the client in hex.
// The store keeps only a BLAKE2b hash, so a leaked database cannot be used to
// resume anyone's session.
#pragma once

#include <cstddef>
#include <string>

namespace parley {

std::string newToken();
// 64 hex digits (kTokenHashChars).
std::string hashToken(const std::string& token);
constexpr size_t kTokenHashChars = 64;

}  // namespace parley
