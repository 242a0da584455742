#include "net/admission.h"

#include <gtest/gtest.h>

#include <utility>

namespace parley::net {
namespace {

TEST(AdmissionTest, LimitsInAllAndPerAddress) {
  auto admission = std::make_shared<Admission>(3, 2);
  EXPECT_TRUE(admission->admit("10.0.0.1"));
  EXPECT_TRUE(admission->admit("10.0.0.1"));
  EXPECT_FALSE(admission->admit("10.0.0.1"));  // per address
  EXPECT_TRUE(admission->admit("10.0.0.2"));
  EXPECT_FALSE(admission->admit("10.0.0.3"));  // in all
  EXPECT_EQ(admission->open(), 3u);
  admission->release("10.0.0.1");
  EXPECT_TRUE(admission->admit("10.0.0.1"));
}

TEST(AdmissionTest, SlotGivesThePlaceBackOnceWhereverItWasMoved) {
  auto admission = std::make_shared<Admission>(0, 1);
  ASSERT_TRUE(admission->admit("10.0.0.1"));
  {
    AdmissionSlot slot(admission, "10.0.0.1");
    AdmissionSlot moved(std::move(slot));
    AdmissionSlot assigned;
    assigned = std::move(moved);
    EXPECT_EQ(admission->open(), 1u);
    EXPECT_FALSE(admission->admit("10.0.0.1"));
  }
  EXPECT_EQ(admission->open(), 0u);
  EXPECT_TRUE(admission->admit("10.0.0.1"));
}

TEST(AdmissionTest, ReleasedSlotReleasesNothingMore) {
  auto admission = std::make_shared<Admission>(0, 0);
  ASSERT_TRUE(admission->admit("a"));
  ASSERT_TRUE(admission->admit("a"));
  AdmissionSlot slot(admission, "a");
  slot.release();
  EXPECT_EQ(admission->open(), 1u);
  slot.release();
  EXPECT_EQ(admission->open(), 1u);
}

TEST(AdmissionTest, AssigningOverAHeldSlotReleasesItsPlace) {
  auto admission = std::make_shared<Admission>(0, 0);
  ASSERT_TRUE(admission->admit("a"));
  ASSERT_TRUE(admission->admit("b"));
  AdmissionSlot a(admission, "a");
  AdmissionSlot b(admission, "b");
  a = std::move(b);
  EXPECT_EQ(admission->open(), 1u);
}

}  // namespace
}  // namespace parley::net
