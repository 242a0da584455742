// Resume tokens: 32 random bytes from libsodium, shown to the client in hex.
// The store keeps only a BLAKE2b hash, so a leaked database cannot be used to
// resume anyone's session.
#pragma once

#include <string>

namespace parley {

std::string newToken();
std::string hashToken(const std::string& token);

}  // namespace parley
