// The pairing desk (host/pairing_desk.h) on a real store: what a window admits, every refusal with
// nothing stored, and that an issued token admits exactly its node.
#include "host/pairing_desk.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "host/client_tokens.h"
#include "host/store/store.h"
#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

constexpr int64_t kNow = 1'000'000;

protocol::PairRequest request(const std::string& node_id, const std::string& code) {
  protocol::PairRequest r;
  r.node_id = node_id;
  r.code = code;
  return r;
}

struct DeskTest : ::testing::Test {
  void SetUp() override {
    // A database of its own per test: ctest runs them as parallel processes.
    const std::string path =
        test::scratch_dir(std::string("pairing_desk_") +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name()) +
        "/earshot.db";
    for (const char* suffix : {"", "-wal", "-shm"})
      unlink((path + suffix).c_str());
    std::string error;
    store = Store::open(path, {}, &error);
    ASSERT_TRUE(store) << error;
  }
  std::string refusal(PairingDesk& desk, uint64_t conn, const std::string& id,
                      const std::string& code, int64_t now = kNow) {
    std::optional<Refusal> r = desk.request(conn, request(id, code), "10.0.0.9", now);
    return r ? r->code : "";
  }
  std::unique_ptr<Store> store;
};

TEST_F(DeskTest, AConfirmedCodeIssuesATokenThatAdmitsOnlyItsNode) {
  PairingDesk desk(store.get(), {"n0"});
  EXPECT_EQ(desk.open(60, kNow), 60);
  EXPECT_EQ(refusal(desk, 7, "kitchen", "042917"), "");
  ASSERT_EQ(desk.waiting().size(), 1u);
  PairingDesk::Confirmation c = desk.confirm("042917", kNow + 1000);
  ASSERT_TRUE(c.ok) << c.message;
  EXPECT_EQ(c.conn, 7u);
  EXPECT_EQ(c.paired.node_id, "kitchen");
  EXPECT_EQ(c.paired.token.rfind("kitchen.", 0), 0u);
  EXPECT_EQ(c.paired.token.size(), std::string("kitchen.").size() + 64);
  EXPECT_TRUE(desk.waiting().empty());
  const auto kept = store->paired_nodes();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].token_sha256, sha256_hex(c.paired.token));  // the hash, never the token
  EXPECT_TRUE(paired_node_admits(store.get(), c.paired.token, "kitchen"));
  EXPECT_FALSE(paired_node_admits(store.get(), c.paired.token, "den"));
  EXPECT_FALSE(paired_node_admits(store.get(), c.paired.token + "0", "kitchen"));
  EXPECT_FALSE(paired_node_admits(nullptr, c.paired.token, "kitchen"));
  // Unpaired: the token stops working, and the id may pair again (with a new code).
  std::string error;
  ASSERT_TRUE(store->remove_paired_node("kitchen", &error)) << error;
  EXPECT_FALSE(paired_node_admits(store.get(), c.paired.token, "kitchen"));
  EXPECT_EQ(refusal(desk, 8, "kitchen", "042917"), "code_used");
  EXPECT_EQ(refusal(desk, 8, "kitchen", "100001"), "");
}

TEST_F(DeskTest, RefusalsStoreNothing) {
  PairingDesk desk(store.get(), {"n0"});
  EXPECT_EQ(refusal(desk, 1, "a", "111111"), "pairing_closed");  // no window yet
  desk.open(30, kNow);
  EXPECT_EQ(refusal(desk, 2, "n0", "222222"), "already_paired");  // has a [nodes] token
  EXPECT_EQ(refusal(desk, 3, "b", "333333"), "");
  EXPECT_EQ(refusal(desk, 4, "b", "444444"), "duplicate_request");
  EXPECT_EQ(refusal(desk, 5, "c", "333333"), "duplicate_request");
  // Wrong codes: refused; the third closes the window and the waiting node is let go.
  EXPECT_EQ(desk.confirm("999999", kNow).http_status, 403);
  EXPECT_EQ(desk.confirm("abc", kNow).http_status, 403);
  EXPECT_TRUE(desk.is_open(kNow));
  EXPECT_EQ(desk.confirm("999998", kNow).http_status, 403);
  EXPECT_EQ(desk.confirm("999997", kNow).http_status, 403);
  EXPECT_FALSE(desk.is_open(kNow));
  EXPECT_EQ(desk.expire(kNow), std::vector<uint64_t>{3});
  EXPECT_EQ(desk.confirm("333333", kNow).http_status, 409);  // closed
  EXPECT_TRUE(store->paired_nodes().empty());
}

TEST_F(DeskTest, TheWindowTimesOutAndWaitingIsBounded) {
  PairingDesk desk(store.get(), {});
  EXPECT_EQ(desk.open(100000, kNow), PairingDesk::kMaxWindowS);
  desk.open(2, kNow);
  EXPECT_EQ(desk.seconds_left(kNow), 2);
  for (size_t i = 0; i < PairingDesk::kMaxPending; ++i)
    EXPECT_EQ(refusal(desk, 10 + i, "n" + std::to_string(i), "50000" + std::to_string(i)), "");
  EXPECT_EQ(refusal(desk, 99, "late", "599999"), "too_many_requests");
  desk.withdraw(10);  // its connection closed
  EXPECT_EQ(desk.waiting().size(), PairingDesk::kMaxPending - 1);
  EXPECT_TRUE(desk.expire(kNow + 1999).empty());
  EXPECT_EQ(desk.expire(kNow + 2000).size(), PairingDesk::kMaxPending - 1);
  EXPECT_EQ(desk.confirm("500001", kNow + 2000).http_status, 409);
  EXPECT_TRUE(store->paired_nodes().empty());
}

TEST_F(DeskTest, WithoutAStoreNothingPairs) {
  PairingDesk desk(nullptr, {});
  desk.open(30, kNow);
  EXPECT_EQ(refusal(desk, 1, "a", "111111"), "no_store");
}

}  // namespace
}  // namespace earshot::host
