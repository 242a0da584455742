// One behaviour suite, run against every Store: SQLite in a temp dir and
// MySQL on a real throwaway MariaDB. Each test uses names of its own, so the
// MariaDB database is shared by the whole binary (started once).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/metrics.h"
#include "service_instance.h"
#include "store/mysql_conn.h"
#include "store/mysql_store.h"
#include "store/sqlite_db.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace parley {
namespace {

testing::MariaDbInstance* g_mariadb = nullptr;

class MariaDbEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_mariadb = new testing::MariaDbInstance();
    g_mariadb->start();
  }
  void TearDown() override {
    delete g_mariadb;
    g_mariadb = nullptr;
  }
};

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new MariaDbEnvironment);

// A directory of its own under the system's temp dir, removed with all in it
// when the test ends — also when an ASSERT returns early. Declare it before
// the stores that use it, so that they close first.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name)
      : path_(std::filesystem::temp_directory_path() /
              ("parley-" + name + "-" + std::to_string(getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Seqs given to one recipient, (seq, prev) sorted by seq: they strictly
// increase and each names the one before it (the first names `start`).
void expectChain(const std::vector<std::pair<Seq, Seq>>& seqs, Seq start) {
  Seq before = start;
  for (const auto& [seq, prev] : seqs) {
    EXPECT_GT(seq, before);
    EXPECT_EQ(prev, before) << "seq " << seq;
    before = seq;
  }
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    prefix_ = "t" + std::to_string(getpid() % 10000) + "_" + std::to_string(counter++) + "_";
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / ("parley-store-" + prefix_);
      std::filesystem::create_directories(dir_);
      open();
    } else {
      ASSERT_NE(g_mariadb, nullptr);
      open();
    }
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void open() {
    store_.reset();
    auto s = GetParam() == "sqlite" ? openStore("sqlite:" + (dir_ / "p.db").string())
                                    : openStore(g_mariadb->url());
    ASSERT_TRUE(s.ok()) << s.status().toString();
    store_ = std::move(s).value();
  }
  std::string n(const std::string& base) { return prefix_ + base; }
  User user(const std::string& base) {
    auto u = store_->createUser(n(base), "hash", 1);
    EXPECT_TRUE(u.ok()) << u.status().toString();
    return u.ok() ? u.value() : User{};
  }

  std::string prefix_;
  std::filesystem::path dir_;
  StorePtr store_;
};

TEST_P(StoreTest, UsersAreUniqueCaseInsensitively) {
  User a = user("alice");
  EXPECT_GT(a.id, 0);
  auto dup = store_->createUser(n("ALICE"), "h", 1);
  EXPECT_TRUE(dup.status().isConflict()) << dup.status().toString();
  auto found = store_->findUser(n("Alice"));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, a.id);
  EXPECT_EQ(found->name, n("alice"));
  auto creds = store_->findCredentials(n("alice"));
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->password_hash, "hash");
  EXPECT_EQ(store_->findUserById(a.id)->name, n("alice"));
  EXPECT_TRUE(store_->findUser(n("nobody")).status().isNotFound());
  EXPECT_TRUE(store_->findUserById(999999999).status().isNotFound());
}

TEST_P(StoreTest, FriendshipIsMutual) {
  User a = user("a"), b = user("b"), c = user("c");
  ASSERT_TRUE(store_->addFriendship(a.id, c.id, 1).ok());
  ASSERT_TRUE(store_->addFriendship(a.id, b.id, 1).ok());
  EXPECT_TRUE(store_->addFriendship(b.id, a.id, 1).isConflict());
  EXPECT_TRUE(store_->areFriends(b.id, a.id).value());
  EXPECT_FALSE(store_->areFriends(b.id, c.id).value());
  auto friends = store_->listFriends(a.id);
  ASSERT_TRUE(friends.ok());
  ASSERT_EQ(friends->size(), 2u);
  EXPECT_EQ((*friends)[0].name, n("b"));  // sorted by name
  EXPECT_EQ((*friends)[1].name, n("c"));
}

TEST_P(StoreTest, GroupsAndMembers) {
  User a = user("a"), b = user("b");
  auto g = store_->createGroup(n("devs"), "the devs", a.id, 1);
  ASSERT_TRUE(g.ok()) << g.status().toString();
  EXPECT_TRUE(store_->createGroup(n("DEVS"), "", b.id, 1).status().isConflict());
  EXPECT_EQ(store_->memberRole(g->id, a.id).value(), "owner");
  ASSERT_TRUE(store_->addMember(g->id, b.id, 2).ok());
  EXPECT_TRUE(store_->addMember(g->id, b.id, 3).isConflict());
  EXPECT_EQ(store_->memberRole(g->id, b.id).value(), "member");
  EXPECT_EQ(store_->findGroup(n("Devs"))->desc, "the devs");
  EXPECT_EQ(store_->listMembers(g->id)->size(), 2u);
  EXPECT_EQ(store_->memberIds(g->id)->size(), 2u);
  EXPECT_EQ(store_->listGroups(b.id)->size(), 1u);
  ASSERT_TRUE(store_->removeMember(g->id, b.id).ok());
  EXPECT_TRUE(store_->removeMember(g->id, b.id).isNotFound());
  EXPECT_TRUE(store_->memberRole(g->id, b.id).status().isNotFound());
  EXPECT_TRUE(store_->listGroups(b.id)->empty());
  EXPECT_TRUE(store_->findGroup(n("nope")).status().isNotFound());
}

TEST_P(StoreTest, LimitsRefuseOnlyNewcomersAndAreCountedWithTheInsert) {
  User a = user("a"), b = user("b"), c = user("c");
  auto g = store_->createGroup(n("pair"), "", a.id, 1);
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(store_->addMember(g->id, b.id, 2, 2).ok());
  EXPECT_TRUE(store_->addMember(g->id, c.id, 3, 2).isForbidden()) << "two members: full";
  EXPECT_TRUE(store_->addMember(g->id, b.id, 3, 2).isConflict()) << "a member hears it is in";
  EXPECT_EQ(store_->memberIds(g->id)->size(), 2u);
  ASSERT_TRUE(store_->addFriendship(a.id, b.id, 1, 1).ok());
  EXPECT_TRUE(store_->addFriendship(a.id, b.id, 1, 1).isConflict());
  EXPECT_TRUE(store_->addFriendship(c.id, b.id, 1, 1).isForbidden()) << "b has its one friend";
  EXPECT_TRUE(store_->addFriendship(a.id, c.id, 1, 1).isForbidden()) << "so has a";
  EXPECT_FALSE(store_->areFriends(c.id, b.id).value());
  EXPECT_TRUE(store_->addFriendship(a.id, c.id, 1, 2).ok()) << "a higher limit";
}

TEST_P(StoreTest, ConcurrentJoinsAndFriendshipsNeverPassTheLimit) {
  // Sixteen newcomers at once against room for five: a check made outside
  // the inserting transaction lets several through together.
  constexpr size_t kRoom = 5;
  constexpr int kNewcomers = 16;
  User owner = user("owner");
  auto g = store_->createGroup(n("club"), "", owner.id, 1);
  ASSERT_TRUE(g.ok());
  std::vector<User> joiners;
  for (int i = 0; i < kNewcomers; ++i) joiners.push_back(user("j" + std::to_string(i)));
  std::atomic<int> joined{0}, refused{0}, befriended{0}, turned_away{0};
  std::vector<std::thread> threads;
  for (const User& j : joiners) {
    threads.emplace_back([&, j] {
      Status st = store_->addMember(g->id, j.id, 2, kRoom + 1);  // the owner is a member
      (st.ok() ? joined : st.isForbidden() ? refused : turned_away)++;
      st = store_->addFriendship(j.id, owner.id, 2, kRoom);
      (st.ok() ? befriended : st.isForbidden() ? refused : turned_away)++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(turned_away.load(), 0) << "every request is either done or refused for the limit";
  EXPECT_EQ(joined.load(), static_cast<int>(kRoom));
  EXPECT_EQ(befriended.load(), static_cast<int>(kRoom));
  EXPECT_EQ(refused.load(), 2 * kNewcomers - 2 * static_cast<int>(kRoom));
  EXPECT_EQ(store_->memberIds(g->id)->size(), kRoom + 1);
  EXPECT_EQ(store_->listFriends(owner.id)->size(), kRoom);
}

TEST_P(StoreTest, GroupSendByANonMemberIsRefusedInTheStoringTransaction) {
  User a = user("a"), b = user("b"), c = user("c");
  auto g = store_->createGroup(n("g"), "", a.id, 1);
  ASSERT_TRUE(store_->addMember(g->id, b.id, 1).ok());
  EXPECT_TRUE(store_->appendGroup(g->id, c.id, "not a member", 1).status().isNotFound());
  ASSERT_TRUE(store_->appendGroup(g->id, b.id, "member", 1).ok());
  // Membership changes are seen by the next append (SQLite caches members
  // in its writer and must drop them on every change).
  ASSERT_TRUE(store_->removeMember(g->id, b.id).ok());
  EXPECT_TRUE(store_->appendGroup(g->id, b.id, "left", 1).status().isNotFound());
  ASSERT_TRUE(store_->addMember(g->id, c.id, 2).ok());
  auto r = store_->appendGroup(g->id, c.id, "joined", 2);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  ASSERT_EQ(r->slots.size(), 1u);  // a only: b left, c is the sender
  EXPECT_EQ(r->slots[0].user, a.id);
  EXPECT_TRUE(store_->inboxAfter(c.id, 0, 10)->empty());  // nothing from before c joined
}

TEST_P(StoreTest, AsynchronousAppendsKeepSubmissionOrderAndGapFreeSeqs) {
  User a = user("a"), b = user("b");
  constexpr int kCount = 300;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<MessageId, Seq>> done;
  for (int i = 0; i < kCount; ++i) {
    store_->appendDirectAsync(a.id, b.id, "m" + std::to_string(i), i,
                              [&](Result<Store::Appended> r) {
                                std::lock_guard<std::mutex> lock(mu);
                                ASSERT_TRUE(r.ok()) << r.status().toString();
                                done.emplace_back(r->id, r->slots.at(0).seq);
                                cv.notify_one();
                              });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return done.size() == kCount; }));
  // Completions come in submission order (a store that queues runs them in
  // commit order), ids and seqs increase, seqs without a gap.
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(done[static_cast<size_t>(i)].second, i + 1);
    if (i > 0) {
      EXPECT_GT(done[static_cast<size_t>(i)].first, done[static_cast<size_t>(i) - 1].first);
    }
  }
  auto inbox = store_->inboxAfter(b.id, 0, 1000);
  ASSERT_EQ(inbox->size(), static_cast<size_t>(kCount));
  EXPECT_EQ(inbox->back().message.text, "m" + std::to_string(kCount - 1));
}

TEST_P(StoreTest, FailingAppendsAmongQueuedOnesUndoOnlyThemselves) {
  // Appends that fail inside the storing transaction (a non-member's group
  // message; a message to an id that is no user, which fails after its
  // message row was written) queued between good ones: SQLite's writer runs
  // them in one batch, and each failure must take back only its own rows and
  // seqs.
  User a = user("a"), b = user("b"), outsider = user("o");
  auto g = store_->createGroup(n("g"), "", a.id, 1);
  ASSERT_TRUE(store_->addMember(g->id, b.id, 1).ok());
  constexpr int kCount = 120;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::vector<std::pair<Seq, Seq>> b_seqs;  // (seq, prev)
  std::vector<std::string> failures;
  auto record = [&](Result<Store::Appended> r) {
    std::lock_guard<std::mutex> lock(mu);
    if (r.ok()) {
      for (const InboxSlot& slot : r->slots) {
        if (slot.user == b.id) b_seqs.emplace_back(slot.seq, slot.prev);
      }
    } else {
      failures.push_back(r.status().toString());
    }
    answered++;
    cv.notify_one();
  };
  for (int i = 0; i < kCount; ++i) {
    switch (i % 4) {
      case 0:
        store_->appendDirectAsync(a.id, b.id, "d" + std::to_string(i), i, record);
        break;
      case 1:
        store_->appendGroupAsync(g->id, outsider.id, "refused", i, record);
        break;
      case 2:
        store_->appendGroupAsync(g->id, a.id, "g" + std::to_string(i), i, record);
        break;
      default:
        store_->appendDirectAsync(a.id, UserId{999999999}, "to nobody", i, record);
        break;
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered == kCount; }));
  EXPECT_EQ(failures.size(), static_cast<size_t>(kCount / 2));
  ASSERT_EQ(b_seqs.size(), static_cast<size_t>(kCount / 2));
  std::sort(b_seqs.begin(), b_seqs.end());
  expectChain(b_seqs, 0);
  auto inbox = store_->inboxAfter(b.id, 0, 1000);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), static_cast<size_t>(kCount / 2));
  for (size_t i = 0; i < inbox->size(); ++i) {
    EXPECT_EQ((*inbox)[i].seq, b_seqs[i].first) << "the inbox holds exactly the seqs given";
    EXPECT_NE((*inbox)[i].message.text, "refused");
    EXPECT_NE((*inbox)[i].message.text, "to nobody");
  }
  EXPECT_TRUE(store_->inboxAfter(outsider.id, 0, 10)->empty());
}

TEST_P(StoreTest, DirectMessagesGetIncreasingSeqsAndAckClamps) {
  User a = user("a"), b = user("b");
  std::vector<MessageId> ids;
  std::vector<std::pair<Seq, Seq>> seqs;
  for (int i = 1; i <= 5; ++i) {
    auto r = store_->appendDirect(a.id, b.id, "m" + std::to_string(i), 100 + i);
    ASSERT_TRUE(r.ok()) << r.status().toString();
    ASSERT_EQ(r->slots.size(), 1u);
    EXPECT_EQ(r->slots[0].user, b.id);
    seqs.emplace_back(r->slots[0].seq, r->slots[0].prev);
    ids.push_back(r->id);
  }
  expectChain(seqs, 0);
  auto page = store_->inboxAfter(b.id, 0, 3);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].seq, seqs[0].first);
  EXPECT_EQ((*page)[0].message.id, ids[0]);
  EXPECT_EQ((*page)[0].message.from, n("a"));
  EXPECT_EQ((*page)[0].message.to, n("b"));
  EXPECT_EQ((*page)[0].message.text, "m1");
  EXPECT_EQ((*page)[0].message.ts, 101);
  auto rest = store_->inboxAfter(b.id, (*page)[2].seq, 10);
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[1].seq, seqs[4].first);
  EXPECT_EQ(store_->ackPoint(b.id).value(), 0);
  EXPECT_EQ(store_->ack(b.id, seqs[2].first).value(), seqs[2].first);
  EXPECT_EQ(store_->ack(b.id, seqs[1].first).value(), seqs[2].first) << "never backwards";
  EXPECT_EQ(store_->ack(b.id, seqs[4].first + 1000).value(), seqs[4].first)
      << "never past the last assigned seq";
  EXPECT_EQ(store_->ackPoint(b.id).value(), seqs[4].first);
  EXPECT_TRUE(store_->inboxAfter(a.id, 0, 10)->empty()) << "the sender's inbox is untouched";
}

TEST_P(StoreTest, GroupMessageIsStoredOnceWithASlotPerOtherMember) {
  User a = user("a"), b = user("b"), c = user("c");
  auto g = store_->createGroup(n("g"), "", a.id, 1);
  ASSERT_TRUE(store_->addMember(g->id, b.id, 1).ok());
  ASSERT_TRUE(store_->addMember(g->id, c.id, 1).ok());
  auto first = store_->appendDirect(a.id, c.id, "direct first", 1);
  ASSERT_TRUE(first.ok());
  Seq c_first = first->slots.at(0).seq;
  auto r = store_->appendGroup(g->id, a.id, "hello group", 5);
  ASSERT_TRUE(r.ok()) << r.status().toString();
  std::map<UserId, InboxSlot> slots;
  for (auto s : r->slots) slots[s.user] = s;
  ASSERT_EQ(slots.size(), 2u) << "b and c, not the sender";
  EXPECT_EQ(slots[b.id].prev, 0) << "b's first message";
  EXPECT_GT(slots[b.id].seq, 0);
  EXPECT_EQ(slots[c.id].prev, c_first) << "c's direct message came before";
  EXPECT_GT(slots[c.id].seq, c_first);
  EXPECT_TRUE(store_->inboxAfter(a.id, 0, 10)->empty()) << "no echo to the sender";
  auto cb = store_->inboxAfter(c.id, c_first, 10);
  ASSERT_EQ(cb->size(), 1u);
  EXPECT_EQ((*cb)[0].message.id, r->id);
  EXPECT_EQ((*cb)[0].message.group, n("g"));
  EXPECT_TRUE((*cb)[0].message.isGroup());
  auto history = store_->groupHistory(g->id, std::nullopt, 50);
  ASSERT_EQ(history->size(), 1u) << "one stored copy, not one per member";
}

TEST_P(StoreTest, AMembersStreamHoldsWhatWasSaidWhileItWasAMember) {
  // b hears the group only while a member: nothing from before joining,
  // what was said while a member stays owed after leaving (until acked),
  // nothing between leaving and joining again, everything after.
  User a = user("a"), b = user("b");
  auto g = store_->createGroup(n("g"), "", a.id, 1);
  ASSERT_TRUE(g.ok());
  auto say = [&](const std::string& text) {
    auto r = store_->appendGroup(g->id, a.id, text, 1);
    EXPECT_TRUE(r.ok()) << r.status().toString();
    return r.ok() ? r.value() : Store::Appended{};
  };
  auto texts = [&](Seq after) {
    std::vector<std::string> out;
    auto page = store_->inboxAfter(b.id, after, 100);
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return out;
    for (size_t i = 0; i < page->size(); ++i) {
      if (i > 0) {
        EXPECT_GT((*page)[i].seq, (*page)[i - 1].seq);
      }
      out.push_back((*page)[i].message.text);
    }
    return out;
  };
  EXPECT_TRUE(say("before b").slots.empty()) << "the sender hears nothing of its own";
  ASSERT_TRUE(store_->addMember(g->id, b.id, 2).ok());
  auto first = say("while b is in");
  ASSERT_EQ(first.slots.size(), 1u);
  EXPECT_EQ(first.slots[0].user, b.id);
  EXPECT_EQ(first.slots[0].prev, 0);
  ASSERT_TRUE(store_->removeMember(g->id, b.id).ok());
  EXPECT_TRUE(say("after b left").slots.empty());
  EXPECT_EQ(texts(0), (std::vector<std::string>{"while b is in"}))
      << "what b did not ack is still owed after leaving";
  ASSERT_TRUE(store_->addMember(g->id, b.id, 3).ok());
  auto back = say("b is back");
  ASSERT_EQ(back.slots.size(), 1u);
  EXPECT_EQ(back.slots[0].prev, first.slots[0].seq) << "b's stream goes on where it was";
  EXPECT_EQ(texts(0), (std::vector<std::string>{"while b is in", "b is back"}));
  EXPECT_EQ(texts(first.slots[0].seq), (std::vector<std::string>{"b is back"}));
  // Leaving and joining again with nothing said in between.
  ASSERT_TRUE(store_->removeMember(g->id, b.id).ok());
  ASSERT_TRUE(store_->addMember(g->id, b.id, 4).ok());
  auto again = say("again");
  ASSERT_EQ(again.slots.size(), 1u);
  EXPECT_EQ(again.slots[0].prev, back.slots[0].seq);
  EXPECT_EQ(store_->ack(b.id, again.slots[0].seq).value(), again.slots[0].seq);
  EXPECT_TRUE(texts(again.slots[0].seq).empty());
}

TEST_P(StoreTest, ReplayPagesMergeDirectAndGroupMessagesInSeqOrder) {
  User a = user("a"), b = user("b"), c = user("c");
  auto g1 = store_->createGroup(n("g1"), "", a.id, 1);
  auto g2 = store_->createGroup(n("g2"), "", c.id, 1);
  ASSERT_TRUE(store_->addMember(g1->id, b.id, 1).ok());
  ASSERT_TRUE(store_->addMember(g2->id, b.id, 1).ok());
  std::vector<std::pair<Seq, Seq>> given;  // b's (seq, prev), in the order stored
  std::vector<std::string> said;
  for (int i = 0; i < 30; ++i) {
    Result<Store::Appended> r = Status::Internal("unset");
    std::string text = "m" + std::to_string(i);
    switch (i % 3) {
      case 0:
        r = store_->appendDirect(a.id, b.id, text, i);
        break;
      case 1:
        r = store_->appendGroup(g1->id, a.id, text, i);
        break;
      default:
        r = store_->appendGroup(g2->id, c.id, text, i);
        break;
    }
    ASSERT_TRUE(r.ok()) << r.status().toString();
    for (const InboxSlot& slot : r->slots) {
      if (slot.user == b.id) given.emplace_back(slot.seq, slot.prev);
    }
    said.push_back(text);
  }
  expectChain(given, 0);
  std::vector<std::string> replayed;
  Seq after = 0;
  for (int page = 0; page < 10; ++page) {
    auto p = store_->inboxAfter(b.id, after, 7);
    ASSERT_TRUE(p.ok());
    if (p->empty()) break;
    for (const Delivery& d : *p) {
      EXPECT_GT(d.seq, after);
      after = d.seq;
      replayed.push_back(d.message.text);
    }
  }
  EXPECT_EQ(replayed, said) << "pages of 7 across three sources, in order, none twice";
}

TEST_P(StoreTest, ReplayPagesThroughManyConversationsMissNothing) {
  // 60 users write to one recipient, round after round, so every page of
  // the replay draws on many conversations at once.
  User me = user("hub");
  std::vector<User> peers;
  for (int i = 0; i < 60; ++i) peers.push_back(user("peer" + std::to_string(i)));
  std::vector<MessageId> sent;
  for (int round = 0; round < 5; ++round) {
    for (const User& p : peers) {
      auto a = store_->appendDirect(p.id, me.id, "r" + std::to_string(round), round);
      ASSERT_TRUE(a.ok()) << a.status().toString();
      sent.push_back(a->id);
    }
    // The recipient answers one of them: its own messages are not its stream.
    ASSERT_TRUE(store_->appendDirect(me.id, peers[static_cast<size_t>(round)].id, "back", 9).ok());
  }
  std::vector<MessageId> replayed;
  Seq after = 0;
  while (true) {
    auto page = store_->inboxAfter(me.id, after, 7);
    ASSERT_TRUE(page.ok()) << page.status().toString();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 7u);
    for (const Delivery& d : page.value()) replayed.push_back(d.message.id);
    after = page->back().seq;
  }
  EXPECT_EQ(replayed, sent);
}

TEST_P(StoreTest, ConcurrentAppendsToOneRecipientNeverSkipOrRepeatASeq) {
  std::vector<User> senders;
  for (int i = 0; i < 8; ++i) senders.push_back(user("s" + std::to_string(i)));
  User target = user("target");
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (const User& s : senders) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!store_->appendDirect(s.id, target.id, "x", 1).ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = store_->inboxAfter(target.id, 0, 1000);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), senders.size() * kPerThread);
  for (size_t i = 1; i < all->size(); ++i) EXPECT_GT((*all)[i].seq, (*all)[i - 1].seq);
}

TEST_P(StoreTest, HistoryPagesNewestLast) {
  User a = user("a"), b = user("b"), c = user("c");
  std::vector<MessageId> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(
        store_->appendDirect(i % 2 ? a.id : b.id, i % 2 ? b.id : a.id, "h" + std::to_string(i), i)
            ->id);
  }
  ASSERT_TRUE(store_->appendDirect(a.id, c.id, "other conversation", 1).ok());
  auto last = store_->directHistory(b.id, a.id, std::nullopt, 4);
  ASSERT_EQ(last->size(), 4u);
  EXPECT_EQ((*last)[0].text, "h2");
  EXPECT_EQ((*last)[3].text, "h5");
  auto before = store_->directHistory(a.id, b.id, ids[2], 10);
  ASSERT_EQ(before->size(), 2u);
  EXPECT_EQ((*before)[0].text, "h0");
  EXPECT_EQ((*before)[1].text, "h1");
}

TEST_P(StoreTest, TokensExpireAndDie) {
  User a = user("a");
  const std::string hash = prefix_ + std::string(64 - prefix_.size(), 'f');
  ASSERT_TRUE(store_->saveToken(hash, a.id, 1000).ok());
  EXPECT_EQ(store_->tokenUser(hash, 999).value(), a.id);
  EXPECT_TRUE(store_->tokenUser(hash, 1000).status().isNotFound()) << "expired";
  ASSERT_TRUE(store_->deleteToken(hash).ok());
  EXPECT_TRUE(store_->tokenUser(hash, 0).status().isNotFound());
}

TEST_P(StoreTest, ExpiredTokensArePurgedOldestFirstUpToTheLimit) {
  User a = user("a");
  auto hash = [&](char c) { return prefix_ + std::string(64 - prefix_.size(), c); };
  // Far in the past, so other tests' tokens (expiring later) are untouched
  // in the shared MariaDB database.
  ASSERT_TRUE(store_->saveToken(hash('1'), a.id, 10).ok());
  ASSERT_TRUE(store_->saveToken(hash('2'), a.id, 20).ok());
  ASSERT_TRUE(store_->saveToken(hash('3'), a.id, 30).ok());
  const TimestampMs live_until = 4'000'000'000'000;
  ASSERT_TRUE(store_->saveToken(hash('4'), a.id, live_until).ok());

  auto first = store_->purgeExpiredTokens(25, 1);
  ASSERT_TRUE(first.ok()) << first.status().toString();
  EXPECT_EQ(first.value(), 1) << "the limit holds";
  EXPECT_TRUE(store_->tokenUser(hash('2'), 0).ok()) << "only the oldest went first";
  EXPECT_TRUE(store_->tokenUser(hash('1'), 0).status().isNotFound());

  auto rest = store_->purgeExpiredTokens(30, 100);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest.value(), 2) << "expiring at `now` counts as expired";
  EXPECT_TRUE(store_->tokenUser(hash('3'), 0).status().isNotFound());
  EXPECT_EQ(store_->tokenUser(hash('4'), 31).value(), a.id) << "live tokens stay";
}

TEST_P(StoreTest, SqlLookingTextIsStoredVerbatim) {
  User a = user("a"), b = user("b");
  const std::string text = "'; DROP TABLE messages; -- \" \\ \xF0\x9F\x98\x80 %s ?";
  ASSERT_TRUE(store_->appendDirect(a.id, b.id, text, 1).ok());
  EXPECT_EQ(store_->directHistory(a.id, b.id, std::nullopt, 1)->at(0).text, text);
  auto g = store_->createGroup(n("verbatim"), "", a.id, 1);
  ASSERT_TRUE(g.ok()) << g.status().toString();
  ASSERT_TRUE(store_->addMember(g->id, b.id, 1).ok());
  ASSERT_TRUE(store_->appendGroup(g->id, a.id, text, 2).ok());
  EXPECT_EQ(store_->groupHistory(g->id, std::nullopt, 1)->at(0).text, text);
  EXPECT_TRUE(store_->ping().ok());
}

TEST_P(StoreTest, DataSurvivesReopen) {
  User a = user("a"), b = user("b");
  ASSERT_TRUE(store_->appendDirect(a.id, b.id, "kept", 1).ok());
  open();
  auto inbox = store_->inboxAfter(b.id, 0, 10);
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].message.text, "kept");
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreTest, ::testing::Values("sqlite", "mysql"),
                         [](const auto& info) { return info.param; });

// The script that builds an empty database of schema `version` as a server
// of that version left it: its migrations in order, and their record.
std::string schemaUpTo(int version) {
  std::string script = "CREATE TABLE schema_version (version INTEGER NOT NULL);";
  for (int v = 0; v < version; ++v) {
    script += sqlite_schema::kMigrations[v];
    script += "INSERT INTO schema_version VALUES (" + std::to_string(v + 1) + ");";
  }
  return script;
}

TEST(SqliteMigrationTest, Version2DatabaseKeepsItsInboxAfterUpgrade) {
  // A database written by schema version 2 (per-user gap-free seqs in an
  // inbox row per recipient, users.last_seq) is upgraded in place to message
  // ids as seqs: ack points move to the id they covered, unacked group
  // messages stay owed, and new messages continue each user's stream.
  ScratchDir scratch("migrate");
  const std::filesystem::path& dir = scratch.path();
  std::string path = (dir / "v2.db").string();
  {
    SqliteDb db;
    ASSERT_TRUE(db.open(path, /*read_only=*/false).ok());
    std::string script = schemaUpTo(2);
    // ann writes three direct messages to ben (ids 1-3), then two to their
    // group with cat (ids 4-5). ben acked his seq 4 (message 4); cat nothing.
    script +=
        "INSERT INTO users(id, name, password_hash, last_seq, ack_seq, created_ms) VALUES"
        "  (1, 'ann', 'h', 0, 0, 1), (2, 'ben', 'h', 5, 4, 1), (3, 'cat', 'h', 2, 0, 1);"
        "INSERT INTO chat_groups(id, name, created_ms) VALUES (1, 'g', 1);"
        "INSERT INTO group_members VALUES (1, 1, 'owner', 1), (1, 2, 'member', 1),"
        "  (1, 3, 'member', 1);"
        "INSERT INTO messages(id, chat, sender_id, recipient_id, group_id, body, ts) VALUES"
        "  (1, 'd:1:2', 1, 2, NULL, 'one', 1), (2, 'd:1:2', 1, 2, NULL, 'two', 2),"
        "  (3, 'd:1:2', 1, 2, NULL, 'three', 3), (4, 'g:1', 1, NULL, 1, 'four', 4),"
        "  (5, 'g:1', 1, NULL, 1, 'five', 5);"
        "INSERT INTO inbox VALUES (2, 1, 1), (2, 2, 2), (2, 3, 3), (2, 4, 4), (2, 5, 5),"
        "  (3, 1, 4), (3, 2, 5);";
    ASSERT_TRUE(db.execScript(script.c_str()).ok());
  }
  auto opened = openStore("sqlite:" + path);
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  Store& store = **opened;
  EXPECT_EQ(store.ackPoint(2).value(), 4);
  EXPECT_EQ(store.ackPoint(3).value(), 0);
  auto texts = [&](UserId user, Seq after) {
    std::vector<std::string> out;
    auto page = store.inboxAfter(user, after, 10);
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return out;
    for (const Delivery& d : page.value()) {
      EXPECT_EQ(d.seq, d.message.id);
      out.push_back(d.message.text);
    }
    return out;
  };
  EXPECT_EQ(texts(2, 4), (std::vector<std::string>{"five"}));
  EXPECT_EQ(texts(3, 0), (std::vector<std::string>{"four", "five"}));
  EXPECT_TRUE(texts(1, 0).empty()) << "the sender is not owed its own group messages";

  auto six = store.appendGroup(1, 1, "six", 6);
  ASSERT_TRUE(six.ok()) << six.status().toString();
  ASSERT_EQ(six->slots.size(), 2u);
  for (const InboxSlot& slot : six->slots) {
    EXPECT_EQ(slot.seq, 6);
    EXPECT_EQ(slot.prev, 5) << "user " << slot.user;
  }
  auto seven = store.appendDirect(2, 1, "seven", 7);
  ASSERT_TRUE(seven.ok());
  EXPECT_EQ(seven->slots.at(0).prev, 0) << "ann's first message";
  EXPECT_EQ(texts(2, 4), (std::vector<std::string>{"five", "six"}));
  EXPECT_EQ(texts(3, 5), (std::vector<std::string>{"six"}));
  EXPECT_EQ(store.ack(3, 100).value(), 6) << "clamped to cat's newest";
  opened->reset();
}

TEST(SqliteMigrationTest, Version4DirectMessagesStayInTheirRecipientsStreams) {
  // Schema 5 finds direct messages through direct_peers instead of an index
  // on recipient_id: the upgrade must list every pair that ever wrote, so
  // nothing unacked drops out of a stream, and seqs go on from there.
  ScratchDir scratch("migrate4");
  const std::filesystem::path& dir = scratch.path();
  std::string path = (dir / "v4.db").string();
  {
    SqliteDb db;
    ASSERT_TRUE(db.open(path, /*read_only=*/false).ok());
    std::string script = schemaUpTo(4);
    // ann -> ben (1, 3), cat -> ben (2), ben -> ann (4), ann -> cat (5);
    // ben acked up to 1.
    script +=
        "INSERT INTO users(id, name, password_hash, ack_seq, created_ms) VALUES"
        "  (1, 'ann', 'h', 0, 1), (2, 'ben', 'h', 1, 1), (3, 'cat', 'h', 0, 1);"
        "INSERT INTO messages(id, chat, sender_id, recipient_id, group_id, body, ts) VALUES"
        "  (1, 'd:1:2', 1, 2, NULL, 'a1', 1), (2, 'd:2:3', 3, 2, NULL, 'c2', 2),"
        "  (3, 'd:1:2', 1, 2, NULL, 'a3', 3), (4, 'd:1:2', 2, 1, NULL, 'b4', 4),"
        "  (5, 'd:1:3', 1, 3, NULL, 'a5', 5);";
    ASSERT_TRUE(db.execScript(script.c_str()).ok());
  }
  auto opened = openStore("sqlite:" + path);
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  Store& store = **opened;
  auto ids = [&](UserId user, Seq after) {
    std::vector<MessageId> out;
    auto page = store.inboxAfter(user, after, 10);
    EXPECT_TRUE(page.ok());
    if (page.ok()) {
      for (const Delivery& d : page.value()) out.push_back(d.message.id);
    }
    return out;
  };
  EXPECT_EQ(ids(2, 1), (std::vector<MessageId>{2, 3})) << "ben: from ann and cat, not his own";
  EXPECT_EQ(ids(1, 0), (std::vector<MessageId>{4}));
  EXPECT_EQ(ids(3, 0), (std::vector<MessageId>{5}));
  auto six = store.appendDirect(3, 2, "c6", 6);
  ASSERT_TRUE(six.ok());
  EXPECT_EQ(six->slots.at(0).prev, 3) << "ben's newest before it";
  auto seven = store.appendDirect(2, 3, "b7", 7);
  ASSERT_TRUE(seven.ok());
  EXPECT_EQ(seven->slots.at(0).prev, 5) << "cat's newest, not her own c6";
  EXPECT_EQ(ids(2, 1), (std::vector<MessageId>{2, 3, 6}));
  EXPECT_EQ(ids(3, 0), (std::vector<MessageId>{5, 7}));
  opened->reset();
  // A fresh start: the writer's caches are empty, seqs come from the file.
  opened = openStore("sqlite:" + path);
  ASSERT_TRUE(opened.ok());
  auto eight = (*opened)->appendDirect(1, 3, "a8", 8);
  ASSERT_TRUE(eight.ok());
  EXPECT_EQ(eight->slots.at(0).prev, 7);
  opened->reset();
}

// The first column of the first row of `sql`, as text; "" when there is none.
std::string firstValue(SqliteDb& db, const char* sql) {
  auto prepared = db.prepare(sql);
  EXPECT_TRUE(prepared.ok()) << sql;
  if (!prepared.ok()) return "";
  Stmt s = db.stmt(prepared.value());
  return s.step() ? s.text(0) : "";
}

TEST(SqliteMigrationTest, Version5MessagesKeepTheirIdsWithoutAutoincrement) {
  // Schema 6 rebuilds messages without AUTOINCREMENT: every row, id and
  // column must survive, history and streams must read as before, and new
  // ids must go on after the largest old one.
  ScratchDir scratch("migrate5");
  const std::filesystem::path& dir = scratch.path();
  std::string path = (dir / "v5.db").string();
  {
    SqliteDb db;
    ASSERT_TRUE(db.open(path, /*read_only=*/false).ok());
    std::string script = schemaUpTo(5);
    // ann -> ben (1, 3), ben -> ann (2), ann's group message (4); ben acked 1.
    script +=
        "INSERT INTO users(id, name, password_hash, ack_seq, created_ms) VALUES"
        "  (1, 'ann', 'h', 0, 1), (2, 'ben', 'h', 1, 1);"
        "INSERT INTO chat_groups(id, name, created_ms) VALUES (1, 'g', 1);"
        "INSERT INTO group_members VALUES (1, 1, 'owner', 1), (1, 2, 'member', 1);"
        "INSERT INTO group_spans VALUES (1, 1, 0, NULL), (2, 1, 0, NULL);"
        "INSERT INTO direct_peers VALUES (2, 1), (1, 2);"
        "INSERT INTO messages(chat, sender_id, recipient_id, group_id, body, ts) VALUES"
        "  ('d:1:2', 1, 2, NULL, 'a1', 11), ('d:1:2', 2, 1, NULL, 'b2', 12),"
        "  ('d:1:2', 1, 2, NULL, 'a3', 13), ('g:1', 1, NULL, 1, 'g4', 14);";
    ASSERT_TRUE(db.execScript(script.c_str()).ok());
  }
  auto opened = openStore("sqlite:" + path);
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  Store& store = **opened;
  auto stream = [&](UserId user, Seq after) {
    std::vector<std::pair<MessageId, std::string>> out;
    auto page = store.inboxAfter(user, after, 10);
    EXPECT_TRUE(page.ok());
    if (page.ok()) {
      for (const Delivery& d : page.value()) {
        EXPECT_EQ(d.seq, d.message.id);
        out.emplace_back(d.message.id, d.message.text);
      }
    }
    return out;
  };
  using Stream = std::vector<std::pair<MessageId, std::string>>;
  EXPECT_EQ(stream(2, 1), (Stream{{3, "a3"}, {4, "g4"}}));
  EXPECT_EQ(stream(1, 0), (Stream{{2, "b2"}}));
  auto history = store.directHistory(1, 2, std::nullopt, 10);
  ASSERT_TRUE(history.ok()) << history.status().toString();
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ(history->front().ts, 11) << "the other columns came along";
  auto five = store.appendDirect(2, 1, "b5", 15);
  ASSERT_TRUE(five.ok()) << five.status().toString();
  EXPECT_EQ(five->id, 5) << "ids go on after the largest old one";
  EXPECT_EQ(five->slots.at(0).prev, 2) << "ann's newest before it";
  opened->reset();
  {
    SqliteDb db;
    ASSERT_TRUE(db.open(path, /*read_only=*/true).ok());
    std::string table = firstValue(db, "SELECT sql FROM sqlite_master WHERE name = 'messages'");
    ASSERT_NE(table, "");
    EXPECT_EQ(table.find("AUTOINCREMENT"), std::string::npos);
    EXPECT_EQ(firstValue(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_by_chat'"),
              "1")
        << "the history index is back";
    EXPECT_EQ(firstValue(db, "PRAGMA page_size"), "4096") << "an existing file keeps its page size";
  }
}

TEST(SqliteStoreFileTest, ANewDatabaseUsesTwoKibibytePages) {
  // Smaller pages cut the bytes a commit writes (one index leaf per
  // conversation in the batch); only a new file can get them.
  ScratchDir scratch("page");
  const std::filesystem::path& dir = scratch.path();
  std::string path = (dir / "p.db").string();
  {
    auto created = openStore("sqlite:" + path);
    ASSERT_TRUE(created.ok()) << created.status().toString();
    auto a = (*created)->createUser("ann", "h", 1), b = (*created)->createUser("ben", "h", 1);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE((*created)->appendDirect(a->id, b->id, std::string(4096, 'x'), 2).ok());
  }
  SqliteDb db;
  ASSERT_TRUE(db.open(path, /*read_only=*/true).ok());
  EXPECT_EQ(firstValue(db, "PRAGMA page_size"), "2048");
  EXPECT_EQ(firstValue(db, "SELECT length(body) FROM messages"), "4096")
      << "a longest message spans overflow pages intact";
}

TEST(SqliteStoreFileTest, AReaderSkipsItsOwnMessagesInTheIndexNotTheTable) {
  // The streams skip the reader's own messages in each conversation; with
  // the sender in the chat index (schema 7) that test reads no table row.
  ScratchDir scratch("covering");
  std::string path = (scratch.path() / "c.db").string();
  {
    auto created = openStore("sqlite:" + path);
    ASSERT_TRUE(created.ok()) << created.status().toString();
    Store& store = **created;
    auto a = store.createUser("ann", "h", 1), b = store.createUser("ben", "h", 1);
    ASSERT_TRUE(a.ok() && b.ok());
    for (int i = 0; i < 300; ++i) ASSERT_TRUE(store.appendDirect(a->id, b->id, "own", i).ok());
    auto reply = store.appendDirect(b->id, a->id, "reply", 300);
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->slots.at(0).prev, 0) << "ann had been sent nothing before";
    auto page = store.inboxAfter(a->id, 0, 10);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->size(), 1u);
    EXPECT_EQ(page->front().message.text, "reply");
  }
  SqliteDb db;
  ASSERT_TRUE(db.open(path, /*read_only=*/true).ok());
  EXPECT_EQ(
      firstValue(db, "SELECT group_concat(name, ',') FROM pragma_index_info('messages_by_chat')"),
      "chat,id,sender_id");
  auto prepared = db.prepare(
      "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE chat = 'd:1:2' AND id < 1000"
      " AND sender_id <> 1 ORDER BY id DESC LIMIT 1");
  ASSERT_TRUE(prepared.ok());
  Stmt plan = db.stmt(prepared.value());
  ASSERT_TRUE(plan.step());
  EXPECT_NE(plan.text(3).find("COVERING INDEX messages_by_chat"), std::string::npos)
      << plan.text(3);
}

TEST(SqliteStoreFileTest, ADatabaseReachedThroughASymbolicLinkWorks) {
  // SQLite follows the link and keeps its WAL beside the real file; the
  // writer's own fsync of the WAL must find that one (it once looked for
  // "<link>-wal" and failed at the first write).
  ScratchDir scratch("link");
  const std::filesystem::path& dir = scratch.path();
  std::filesystem::create_directories(dir / "real");
  std::filesystem::create_directories(dir / "link");
  std::string real = (dir / "real" / "p.db").string();
  std::string link = (dir / "link" / "p.db").string();
  {
    auto created = openStore("sqlite:" + real);
    ASSERT_TRUE(created.ok()) << created.status().toString();
  }
  std::filesystem::create_symlink(real, link);
  {
    auto opened = openStore("sqlite:" + link);
    ASSERT_TRUE(opened.ok()) << opened.status().toString();
    auto a = (*opened)->createUser("ann", "h", 1), b = (*opened)->createUser("ben", "h", 1);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE((*opened)->appendDirect(a->id, b->id, "through the link", 2).ok());
  }
  auto reopened = openStore("sqlite:" + real);
  ASSERT_TRUE(reopened.ok());
  auto ben = (*reopened)->findUser("ben");
  ASSERT_TRUE(ben.ok());
  auto inbox = (*reopened)->inboxAfter(ben->id, 0, 10);
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ(inbox->front().message.text, "through the link");
  reopened->reset();
}

TEST(SqliteCheckpointTest, TheWalIsCopiedIntoTheDatabaseWithoutTheWriter) {
  // The writer's own automatic checkpoint only starts at 64 MiB of WAL; the
  // checkpointer thread must move a few commits into the database file
  // within moments.
  ScratchDir scratch("ckpt");
  const std::filesystem::path& dir = scratch.path();
  std::string path = (dir / "c.db").string();
  auto opened = openStore("sqlite:" + path);
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  Store& store = **opened;
  auto a = store.createUser("ann", "h", 1), b = store.createUser("ben", "h", 1);
  ASSERT_TRUE(a.ok() && b.ok());
  // Let the schema's own pages settle into the file first.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto before = std::filesystem::file_size(path);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(store.appendDirect(a->id, b->id, std::string(200, 'x'), i).ok());
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::filesystem::file_size(path) <= before &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(std::filesystem::file_size(path), before)
      << "60 KB of messages did not reach the database file";
  opened->reset();
}

TEST(SqliteCheckpointTest, TheStoreTimesItsWalSyncsAndItsWriterHolds) {
  // The two waits on the disk that every message may sit behind, for
  // /metrics: the WAL's fsync before a reply, and the writer held while the
  // WAL starts over (past SqliteCheckpointer::kRestartPages frames).
  ScratchDir scratch("disk");
  const std::filesystem::path& dir = scratch.path();
  Metrics metrics;
  auto opened = openStore("sqlite:" + (dir / "d.db").string(), StoreOptions{.metrics = &metrics});
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  Store& store = **opened;
  auto a = store.createUser("ann", "h", 1), b = store.createUser("ben", "h", 1);
  ASSERT_TRUE(a.ok() && b.ok());
  uint64_t syncs = metrics.store_wal_sync.count();
  EXPECT_GE(syncs, 2u) << "one at open, one per commit since";
  ASSERT_TRUE(store.appendDirect(a->id, b->id, "one", 2).ok());
  EXPECT_GT(metrics.store_wal_sync.count(), syncs);
  EXPECT_EQ(metrics.store_writer_hold.count(), 0u);

  // ~24 MiB of the longest messages, queued so that few large commits take
  // them: ~12,000 frames of 2 KiB, past the 8,192 that make the
  // checkpointer hold the writer. If this thread is descheduled while the
  // writer has caught up, the checkpointer copies the WAL and it starts
  // over part-way, below the threshold: another round then (at most three).
  constexpr int kCount = 6000;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  for (int round = 0; round < 3 && metrics.store_writer_hold.count() == 0; ++round) {
    for (int i = 0; i < kCount; ++i) {
      store.appendDirectAsync(a->id, b->id, std::string(4096, 'x'), i,
                              [&](Result<Store::Appended> r) {
                                EXPECT_TRUE(r.ok()) << r.status().toString();
                                std::lock_guard<std::mutex> lock(mu);
                                ++done;
                                cv.notify_one();
                              });
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60),
                              [&] { return done == kCount * (round + 1); }));
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (metrics.store_writer_hold.count() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_GE(metrics.store_writer_hold.count(), 1u);
  opened->reset();
}

TEST(StoreOptionsTest, TheWalSyncIntervalIsTheEmbeddedStoresOnly) {
  // Refused before any connection is tried: MariaDB's own settings decide
  // when its commits reach the disk.
  auto opened = openStore("mysql://u:p@127.0.0.1:1/parley",
                          StoreOptions{.wal_sync_interval = std::chrono::microseconds(500)});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Code::kBadRequest);
  EXPECT_NE(opened.status().message().find("--wal-sync-interval-us"), std::string::npos);

  // It reaches the embedded store's writer: each of two writes in a row
  // waits for its own sync, the interval after the one before (the second's
  // commit follows `started`, and its sync the interval after the first's).
  ScratchDir scratch("interval");
  constexpr auto kInterval = std::chrono::milliseconds(300);
  auto embedded = openStore("sqlite:" + (scratch.path() / "i.db").string(),
                            StoreOptions{.wal_sync_interval = kInterval});
  ASSERT_TRUE(embedded.ok()) << embedded.status().toString();
  auto a = (*embedded)->createUser("ann", "h", 1);
  ASSERT_TRUE(a.ok());
  auto started = std::chrono::steady_clock::now();
  auto b = (*embedded)->createUser("ben", "h", 1);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE((*embedded)->appendDirect(a->id, b->id, "one", 2).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - started, kInterval);
}

TEST(MysqlOutageTest, UnavailableWhileDownThenRecovers) {
  ASSERT_NE(g_mariadb, nullptr);
  auto opened = openStore(g_mariadb->url());
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  StorePtr store = std::move(opened).value();
  ASSERT_TRUE(store->createUser("outage_user", "h", 1).ok());
  g_mariadb->stop();
  auto start = std::chrono::steady_clock::now();
  auto down = store->findUser("outage_user");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().toString();
  EXPECT_LT(took, std::chrono::seconds(20)) << "a dead database must not hang callers";
  g_mariadb->start();
  auto back = store->findUser("outage_user");
  EXPECT_TRUE(back.ok()) << back.status().toString();
}

TEST(MysqlConnTest, RetryableSpeaksOfTheLastStatementOnly) {
  // MysqlStore::run() repeats a unit of work while retryable() is true; a
  // flag left from an earlier failure would repeat work that refused for a
  // reason of its own (three runs, 60 ms of sleeps, a pooled connection).
  ASSERT_NE(g_mariadb, nullptr);
  auto config = parseMysqlUrl(g_mariadb->url());
  ASSERT_TRUE(config.ok());
  MysqlConn conn(config.value());
  std::vector<SqlRow> rows;
  ASSERT_TRUE(conn.exec("SELECT CONNECTION_ID()", {}, &rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  // The server ends this very connection: a lost link, which is retryable.
  Status killed = conn.exec("KILL CONNECTION CONNECTION_ID()", {});
  EXPECT_FALSE(killed.ok());
  EXPECT_TRUE(conn.retryable()) << killed.toString();
  rows.clear();
  ASSERT_TRUE(conn.exec("SELECT 1", {}, &rows).ok()) << "reconnected";
  EXPECT_FALSE(conn.retryable()) << "a statement that succeeded leaves nothing to retry";
  ASSERT_TRUE(conn.begin().ok());
  EXPECT_FALSE(conn.retryable());
  conn.rollback();
}

// A connection keeps autocommit off from one transaction to the next (no
// `SET autocommit` round trips); statements outside a transaction turn it on
// again first. Without that, the first read after a transaction would open
// a new one, and every later read on the connection would see its snapshot.
TEST(MysqlConnTest, AReadAfterATransactionSeesWhatOthersCommitLater) {
  ASSERT_NE(g_mariadb, nullptr);
  auto config = parseMysqlUrl(g_mariadb->url());
  ASSERT_TRUE(config.ok());
  MysqlConn a(config.value()), b(config.value());
  ASSERT_TRUE(a.exec("CREATE TABLE IF NOT EXISTS snapshot_probe (id INT PRIMARY KEY)", {}).ok());
  ASSERT_TRUE(a.exec("DELETE FROM snapshot_probe", {}).ok());
  auto count = [&] {
    std::vector<SqlRow> rows;
    EXPECT_TRUE(a.autocommit().ok());
    EXPECT_TRUE(a.exec("SELECT COUNT(*) FROM snapshot_probe", {}, &rows).ok());
    return rows.empty() || !rows[0][0] ? std::string("?") : *rows[0][0];
  };
  ASSERT_TRUE(a.begin().ok());
  ASSERT_TRUE(a.exec("INSERT INTO snapshot_probe(id) VALUES (1)", {}).ok());
  ASSERT_TRUE(a.commit().ok());
  EXPECT_EQ(count(), "1");
  ASSERT_TRUE(b.exec("INSERT INTO snapshot_probe(id) VALUES (2)", {}).ok());
  EXPECT_EQ(count(), "2") << "the read is pinned to an old snapshot";
  // And the next transaction is one: what it rolls back is gone.
  ASSERT_TRUE(a.begin().ok());
  ASSERT_TRUE(a.exec("INSERT INTO snapshot_probe(id) VALUES (3)", {}).ok());
  a.rollback();
  EXPECT_EQ(count(), "2");
}

TEST(MysqlConnTest, ATransactionAfterAReconnectIsStillOne) {
  // A new session starts with autocommit on, whatever the last one had.
  ASSERT_NE(g_mariadb, nullptr);
  auto config = parseMysqlUrl(g_mariadb->url());
  ASSERT_TRUE(config.ok());
  MysqlConn a(config.value()), b(config.value());
  ASSERT_TRUE(a.exec("CREATE TABLE IF NOT EXISTS reconnect_probe (id INT PRIMARY KEY)", {}).ok());
  ASSERT_TRUE(a.exec("DELETE FROM reconnect_probe", {}).ok());
  ASSERT_TRUE(a.begin().ok());
  ASSERT_TRUE(a.commit().ok());  // autocommit stays off on this session...
  EXPECT_FALSE(a.exec("KILL CONNECTION CONNECTION_ID()", {}).ok());  // ...which ends
  ASSERT_TRUE(a.begin().ok()) << "reconnects";
  ASSERT_TRUE(a.exec("INSERT INTO reconnect_probe(id) VALUES (1)", {}).ok());
  a.rollback();
  std::vector<SqlRow> rows;
  ASSERT_TRUE(b.exec("SELECT COUNT(*) FROM reconnect_probe", {}, &rows).ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], std::optional<std::string>("0")) << "the insert was committed on its own";
}

// A CALL answers with its rows and then a status of its own: both must be
// read, or the connection's next statement fails out of sync.
TEST(MysqlConnTest, ACallLeavesTheConnectionReadyForTheNextStatement) {
  ASSERT_NE(g_mariadb, nullptr);
  auto config = parseMysqlUrl(g_mariadb->url());
  ASSERT_TRUE(config.ok());
  MysqlConn conn(config.value());
  ASSERT_TRUE(conn.execDefinition("DROP PROCEDURE IF EXISTS call_probe").ok());
  ASSERT_TRUE(conn.execDefinition("CREATE PROCEDURE call_probe(IN n INT)"
                                  " BEGIN SELECT n, n + 1; END")
                  .ok());
  for (int64_t i = 0; i < 3; ++i) {
    std::vector<SqlRow> rows;
    Status st = conn.exec("CALL call_probe(?)", {i}, &rows);
    ASSERT_TRUE(st.ok()) << st.toString();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0][1], std::optional<std::string>(std::to_string(i + 1)));
    rows.clear();
    st = conn.exec("SELECT 7", {}, &rows);
    ASSERT_TRUE(st.ok()) << st.toString();
    ASSERT_EQ(rows.size(), 1u);
  }
}

// A send is one CALL that commits inside the server; a connection lost while
// it runs may have committed, so the store must not run it again (a second
// copy of the message). Here the CALL waits on the recipient's row, locked by
// another session, when its connection is killed: a retry would wait for the
// lock and then store the message.
TEST(MysqlStoreTest, ASendWhoseConnectionIsLostMidCallIsNotRepeated) {
  ASSERT_NE(g_mariadb, nullptr);
  auto opened = openStore(g_mariadb->url());
  ASSERT_TRUE(opened.ok()) << opened.status().toString();
  StorePtr store = std::move(opened).value();
  auto from = store->createUser("midcall_from", "h", 1);
  auto to = store->createUser("midcall_to", "h", 1);
  ASSERT_TRUE(from.ok() && to.ok());
  auto config = parseMysqlUrl(g_mariadb->url());
  ASSERT_TRUE(config.ok());
  MysqlConn locker(config.value()), killer(config.value());
  std::vector<SqlRow> rows;
  ASSERT_TRUE(locker.begin().ok());
  ASSERT_TRUE(locker.exec("SELECT id FROM users WHERE id = ? FOR UPDATE", {to->id}, &rows).ok());

  auto sent = std::async(std::launch::async,
                         [&] { return store->appendDirect(from->id, to->id, "once", 5); });
  // Find the session running the CALL (the processlist shows the statement
  // inside it, blocked on the lock) and end it.
  bool killed = false;
  for (int i = 0; i < 200 && !killed; ++i) {
    rows.clear();
    ASSERT_TRUE(killer
                    .exec("SELECT id FROM information_schema.processlist"
                          " WHERE id <> CONNECTION_ID() AND info LIKE 'UPDATE users SET last_seq%'",
                          {}, &rows)
                    .ok());
    if (!rows.empty() && rows[0][0]) {
      killed = killer.exec("KILL CONNECTION ?", {int64_t{std::stoll(*rows[0][0])}}).ok();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ASSERT_TRUE(killed) << "the CALL was never seen waiting";
  // Give a retry the time to start waiting for the lock again, then free it.
  auto early = sent.wait_for(std::chrono::seconds(1));
  locker.rollback();
  auto result = sent.get();
  EXPECT_EQ(early, std::future_status::ready) << "the store retried the CALL";
  EXPECT_EQ(result.status().code(), Code::kUnavailable) << result.status().toString();
  auto inbox = store->inboxAfter(to->id, 0, 10);
  ASSERT_TRUE(inbox.ok());
  EXPECT_TRUE(inbox->empty()) << "killed before its COMMIT: nothing stored, nothing repeated";
}

TEST(MysqlUrlTest, Parses) {
  auto c = parseMysqlUrl("mysql://u:p@h:3307/db");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->user, "u");
  EXPECT_EQ(c->password, "p");
  EXPECT_EQ(c->host, "h");
  EXPECT_EQ(c->port, 3307u);
  EXPECT_EQ(c->database, "db");
  EXPECT_EQ(parseMysqlUrl("mysql://u@h/db")->port, 3306u);
  EXPECT_FALSE(parseMysqlUrl("mysql://h/db").ok());
  EXPECT_FALSE(parseMysqlUrl("postgres://u@h/db").ok());
}

}  // namespace
}  // namespace parley
