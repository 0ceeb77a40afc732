// The store, on a real SQLite file: what is committed survives reopening, a segment and its
// high-water mark go together, and a full disk is an error, not a crash.
#include "host/store/store.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

TEST(Store, TurnsAndSegmentsSurviveReopening) {
  const std::string path = test::scratch_dir("store_reopen") + "/earshot.db";
  unlink(path.c_str());
  std::string error;
  {
    auto store = Store::open(path, {}, &error);
    ASSERT_TRUE(store) << error;
    TurnRecord t;
    t.session_id = "s1";
    t.node_id = "kitchen";
    t.turn_id = "t1";
    t.transcript = "what time is it";
    t.reply = "It is";
    t.reply_full = "It is noon.";
    t.interrupted = true;
    t.started_at_ms = 1700000000000;
    ASSERT_TRUE(store->add_turn(t, &error)) << error;
    SegmentRecord g;
    g.node_id = "kitchen";
    g.room = "kitchen";
    g.language = "en";
    g.first_seq = 10;
    g.last_seq = 60;
    g.text = "the kettle is on";
    ASSERT_TRUE(store->add_segment_and_advance(g, 60, &error)) << error;
    g.last_seq = 40;  // an older segment never lowers the mark
    ASSERT_TRUE(store->add_segment_and_advance(g, 40, &error)) << error;
  }
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  auto turns = store->turns("s1");
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].reply, "It is");
  EXPECT_EQ(turns[0].reply_full, "It is noon.");
  EXPECT_TRUE(turns[0].interrupted);
  EXPECT_EQ(store->segments("kitchen").size(), 2u);
  EXPECT_EQ(store->segments("kitchen")[0].text, "the kettle is on");
  ASSERT_TRUE(store->acked_seq("kitchen"));
  EXPECT_EQ(*store->acked_seq("kitchen"), 60u);
  EXPECT_FALSE(store->acked_seq("hall"));
}

TEST(Store, SessionsAreOpenedAndClosed) {
  const std::string path = test::scratch_dir("store_sessions") + "/earshot.db";
  unlink(path.c_str());
  std::string error;
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  SessionRecord r;
  r.session_id = "s1700000000-1";
  r.node_id = "kitchen";
  r.room = "kitchen";
  r.mode = "ambient";
  r.started_at_ms = 1700000000000;
  ASSERT_TRUE(store->open_session(r, &error)) << error;
  EXPECT_EQ(store->sessions("kitchen").at(0).ended_at_ms, 0);
  ASSERT_TRUE(store->close_session(r.session_id, 1700000060000, &error)) << error;
  auto sessions = store->sessions("kitchen");
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].mode, "ambient");
  EXPECT_EQ(sessions[0].ended_at_ms, 1700000060000);
}

TEST(Store, UnwritablePathIsAClearError) {
  std::string error;
  EXPECT_FALSE(Store::open("/nonexistent-dir/x/earshot.db", {}, &error));
  EXPECT_NE(error.find("cannot open /nonexistent-dir/x/earshot.db"), std::string::npos) << error;
}

// A full disk: SQLite's limit on the file's pages stands in for the disk (no mount needed). The
// failed segment is not stored and the high-water mark does not move: the node keeps the audio.
TEST(Store, AFullDiskFailsTheWriteAndLeavesTheMarkWhereItWas) {
  const std::string path = test::scratch_dir("store_full") + "/earshot.db";
  unlink(path.c_str());
  std::string error;
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  SegmentRecord g;
  g.node_id = "n";
  g.text = "first";
  ASSERT_TRUE(store->add_segment_and_advance(g, 5, &error)) << error;
  ASSERT_TRUE(store->set_max_pages(store->page_count()));
  g.text = std::string(200000, 'x');
  EXPECT_FALSE(store->add_segment_and_advance(g, 9, &error));
  EXPECT_NE(error.find("full"), std::string::npos) << error;
  EXPECT_EQ(*store->acked_seq("n"), 5u);
  EXPECT_EQ(store->segments("n").size(), 1u);
}

}  // namespace
}  // namespace earshot::host
