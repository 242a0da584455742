// SqliteStore with Durability::kProcess: each start moves the next message
// id past what an earlier run may have acknowledged without syncing, so ids
// (each recipient's seq) lost to a power loss are never handed out again;
// the row that does it stays out of every stream.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "store/sqlite_store.h"

namespace parley {
namespace {

class SqliteStoreDurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("parley-durability-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteStore> open(Durability durability) {
    auto store = SqliteStore::open((dir_ / "p.db").string(), 1, nullptr, durability);
    EXPECT_TRUE(store.ok()) << store.status().toString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Sends one direct message from alice to bob and returns its id.
  MessageId send(Store& store, const std::string& text) {
    auto alice = store.findUser("alice");
    auto bob = store.findUser("bob");
    EXPECT_TRUE(alice.ok() && bob.ok());
    auto sent = store.appendDirect(alice.value().id, bob.value().id, text, 1);
    EXPECT_TRUE(sent.ok()) << sent.status().toString();
    return sent.ok() ? sent.value().id : 0;
  }

  std::filesystem::path dir_;
};

TEST_F(SqliteStoreDurabilityTest, EachStartInProcessModeSkipsTheIdsALossCouldReuse) {
  MessageId first = 0;
  {
    auto store = open(Durability::kProcess);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->createUser("alice", "h", 1).ok());
    ASSERT_TRUE(store->createUser("bob", "h", 1).ok());
    first = send(*store, "one");
  }
  MessageId after_disk_start = 0;
  {
    auto store = open(Durability::kDisk);  // synced before every ack: no gap
    ASSERT_TRUE(store);
    after_disk_start = send(*store, "two");
    EXPECT_EQ(after_disk_start, first + 1);
  }
  MessageId after_process_start = 0;
  {
    auto store = open(Durability::kProcess);
    ASSERT_TRUE(store);
    after_process_start = send(*store, "three");
    EXPECT_GT(after_process_start, after_disk_start + SqliteStore::kRestartIdGap - 1);
  }
  // Two starts with nothing acknowledged in between skip once.
  { ASSERT_TRUE(open(Durability::kProcess)); }
  auto store = open(Durability::kProcess);
  ASSERT_TRUE(store);
  MessageId later = send(*store, "four");
  EXPECT_GT(later, after_process_start + SqliteStore::kRestartIdGap - 1);
  EXPECT_LT(later, after_process_start + 2 * SqliteStore::kRestartIdGap);

  // The rows that moved the ids are in no one's stream or history.
  auto bob = store->findUser("bob");
  auto alice = store->findUser("alice");
  ASSERT_TRUE(bob.ok() && alice.ok());
  auto inbox = store->inboxAfter(bob.value().id, 0, 100);
  ASSERT_TRUE(inbox.ok()) << inbox.status().toString();
  ASSERT_EQ(inbox.value().size(), 4u);
  EXPECT_EQ(inbox.value()[0].message.text, "one");
  EXPECT_EQ(inbox.value()[3].message.text, "four");
  EXPECT_EQ(inbox.value()[3].seq, later);
  auto history = store->directHistory(alice.value().id, bob.value().id, std::nullopt, 100);
  ASSERT_TRUE(history.ok()) << history.status().toString();
  EXPECT_EQ(history.value().size(), 4u);
}

TEST_F(SqliteStoreDurabilityTest, ProcessModeIsRefusedForMariaDb) {
  auto store = openStore("mysql://u:p@127.0.0.1:1/db", nullptr, Durability::kProcess);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kBadRequest) << store.status().toString();
}

TEST(DurabilityTest, ParsesTheTwoModesAndNothingElse) {
  EXPECT_EQ(parseDurability("disk").value(), Durability::kDisk);
  EXPECT_EQ(parseDurability("process").value(), Durability::kProcess);
  EXPECT_FALSE(parseDurability("fsync").ok());
  EXPECT_FALSE(parseDurability("").ok());
}

}  // namespace
}  // namespace parley
