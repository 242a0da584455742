#include "service/tokens.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(TokensTest, TokensAreRandomAndHashesAre64HexDigits) {
  std::string a = newToken();
  std::string b = newToken();
  EXPECT_NE(a, b);
  std::string hash = hashToken(a);
  EXPECT_EQ(hash.size(), 64u);
  EXPECT_EQ(hash.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(hash, hashToken(a));
  EXPECT_NE(hash, hashToken(b));
}

TEST(TokensTest, PackedHashUnpacksToTheSameDigits) {
  std::string hash = hashToken(newToken());
  PackedTokenHash packed = packTokenHash(hash);
  EXPECT_EQ(unpackTokenHash(packed), hash);
}

TEST(TokensTest, NoHashOrAMalformedOnePacksToNone) {
  EXPECT_EQ(unpackTokenHash(packTokenHash("")), "");
  EXPECT_EQ(unpackTokenHash(packTokenHash("abc")), "");
  EXPECT_EQ(unpackTokenHash(packTokenHash(std::string(64, 'z'))), "");
  EXPECT_EQ(unpackTokenHash(PackedTokenHash{}), "");
}

}  // namespace
}  // namespace parley
