// RedisBus's subscriber decides what to send from the sessions held when it
// looks, not from the order in which sessions came and went.
#include <gtest/gtest.h>

#include "bus/redis_bus.h"

namespace parley {
namespace {

TEST(SubscriptionChangesTest, AReconnectBeforeTheSubscriberLooksStaysSubscribed) {
  // The last session of user 7 ended (count 1 -> 0) and a new one began
  // (0 -> 1): both touched 7; it is held now, so it is subscribed.
  SubscriptionChanges c = subscriptionChanges({7, 7}, {{7, 1}});
  EXPECT_EQ(c.subscribe, std::vector<UserId>{7});
  EXPECT_TRUE(c.unsubscribe.empty());
}

TEST(SubscriptionChangesTest, ALoginAndLogoutBeforeTheSubscriberLooksUnsubscribes) {
  SubscriptionChanges c = subscriptionChanges({7, 7}, {});
  EXPECT_TRUE(c.subscribe.empty());
  EXPECT_EQ(c.unsubscribe, std::vector<UserId>{7});
}

TEST(SubscriptionChangesTest, EachUserOnceInTheOrderFirstTouched) {
  SubscriptionChanges c = subscriptionChanges({3, 1, 2, 3, 1}, {{1, 2}, {3, 1}, {9, 1}});
  EXPECT_EQ(c.subscribe, (std::vector<UserId>{3, 1}));
  EXPECT_EQ(c.unsubscribe, std::vector<UserId>{2});  // 9 was not touched: nothing to send
}

}  // namespace
}  // namespace parley
