// Resume tokens: 32 random bytes from libsodium, shown to the client in hex.
// The store keeps only a BLAKE2b hash, so a leaked database cannot be used to
// resume anyone's session.
#pragma once

#include <array>
#include <string>

namespace parley {

std::string newToken();
// 64 hex digits.
std::string hashToken(const std::string& token);

// A hashToken() result decoded to its 32 bytes, so that every logged-in
// session can keep its own without an allocation. All zero means none.
using PackedTokenHash = std::array<unsigned char, 32>;
// All zero if `hex` is not 64 hex digits.
PackedTokenHash packTokenHash(const std::string& hex);
// "" for all zero.
std::string unpackTokenHash(const PackedTokenHash& packed);

}  // namespace parley
