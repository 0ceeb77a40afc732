// The store, on a real SQLite file: what is committed survives reopening, a segment and its
// high-water mark go together, a full disk is an error, not a crash, and a session that a newer
// one of its node has superseded can write nothing.
#include "host/store/store.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/subprocess.h"
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
    auto claim = store->claim_node("kitchen", &error);
    ASSERT_TRUE(claim) << error;
    EXPECT_FALSE(claim->acked_seq);
    int64_t row = 0;
    ASSERT_EQ(store->add_turn(t, {0, 9}, claim->epoch, &row, &error), CommitResult::kStored)
        << error;
    t.reply = "It is";
    ASSERT_TRUE(store->finish_turn(row, t, &error)) << error;
    SegmentRecord g;
    g.node_id = "kitchen";
    g.room = "kitchen";
    g.language = "en";
    g.first_seq = 10;
    g.last_seq = 60;
    g.text = "the kettle is on";
    ASSERT_EQ(store->add_segment(g, claim->epoch, &error), CommitResult::kStored) << error;
    g.first_seq = 61;
    g.last_seq = 70;
    ASSERT_EQ(store->add_segment(g, claim->epoch, &error), CommitResult::kStored) << error;
  }
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  auto turns = store->turns("s1");
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].reply, "It is");
  EXPECT_EQ(turns[0].reply_full, "It is noon.");
  EXPECT_EQ(turns[0].first_seq, 0);
  EXPECT_EQ(turns[0].last_seq, 9);
  EXPECT_TRUE(turns[0].interrupted);
  EXPECT_EQ(store->segments("kitchen").size(), 2u);
  EXPECT_EQ(store->segments("kitchen")[0].text, "the kettle is on");
  ASSERT_TRUE(store->acked_seq("kitchen"));
  EXPECT_EQ(*store->acked_seq("kitchen"), 70u);
  EXPECT_FALSE(store->acked_seq("hall"));
  // A new session after the restart sees the mark and a newer epoch.
  auto claim = store->claim_node("kitchen", &error);
  ASSERT_TRUE(claim) << error;
  EXPECT_EQ(claim->epoch, 2u);
  EXPECT_EQ(claim->acked_seq, std::optional<uint64_t>(70));
}

// The reconnect race: the old session is still working through its backlog when the node's new
// session claims the node. Whatever the old one tries afterwards is refused inside its
// transaction, and the insert itself refuses seqs the store already has.
// A node's first commit that is a turn also makes its high-water row (an INSERT of its own): the
// row id handed back must still be the turn's, or its reply lands on another node's turn. Seen in
// the end-to-end test when a loaded machine made a node's first commit a turn: the kitchen's reply
// was stored on the hall's turn, and the kitchen's turn kept none.
TEST(Store, ATurnThatIsItsNodesFirstCommitGetsItsOwnRowForItsReply) {
  const std::string path = test::scratch_dir("store_first_turn_row") + "/earshot.db";
  std::string error;
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  auto turn = [](const std::string& node, const std::string& said) {
    TurnRecord t;
    t.session_id = "s-" + node;
    t.node_id = node;
    t.turn_id = "t" + said.substr(0, 1);
    t.transcript = said;
    t.started_at_ms = 1700000000000;
    return t;
  };
  auto hall = store->claim_node("hall", &error);
  auto kitchen = store->claim_node("kitchen", &error);
  ASSERT_TRUE(hall && kitchen) << error;
  // The hall's two turns: rows 1 and 2 of turns, row 1 of high_water.
  int64_t hall_rows[2] = {-1, -1};
  ASSERT_EQ(store->add_turn(turn("hall", "one"), {0, 9}, hall->epoch, &hall_rows[0], &error),
            CommitResult::kStored)
      << error;
  ASSERT_EQ(store->add_turn(turn("hall", "two"), {10, 19}, hall->epoch, &hall_rows[1], &error),
            CommitResult::kStored)
      << error;
  // The kitchen's first commit: row 3 of turns, row 2 of high_water.
  int64_t kitchen_row = -1;
  TurnRecord k = turn("kitchen", "lights off");
  ASSERT_EQ(store->add_turn(k, {0, 30}, kitchen->epoch, &kitchen_row, &error),
            CommitResult::kStored)
      << error;
  EXPECT_NE(kitchen_row, hall_rows[0]);
  EXPECT_NE(kitchen_row, hall_rows[1]);
  k.reply = k.reply_full = "You said: lights off.";
  ASSERT_TRUE(store->finish_turn(kitchen_row, k, &error)) << error;

  const std::vector<TurnRecord> kitchen_turns = store->turns("s-kitchen");
  ASSERT_EQ(kitchen_turns.size(), 1u);
  EXPECT_EQ(kitchen_turns[0].reply_full, "You said: lights off.");
  for (const TurnRecord& t : store->turns("s-hall"))
    EXPECT_EQ(t.reply_full, "") << "the hall's turn \"" << t.transcript << "\" got a reply";
}

TEST(Store, ASupersededSessionCanNeitherStoreNorAdvanceAndNothingIsStoredTwice) {
  const std::string path = test::scratch_dir("store_fence") + "/earshot.db";
  unlink(path.c_str());
  std::string error;
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  auto old_session = store->claim_node("n", &error);
  ASSERT_TRUE(old_session) << error;
  SegmentRecord g;
  g.node_id = "n";
  g.first_seq = 0;
  g.last_seq = 99;
  g.text = "first";
  ASSERT_EQ(store->add_segment(g, old_session->epoch, &error), CommitResult::kStored);
  auto new_session = store->claim_node("n", &error);
  ASSERT_TRUE(new_session) << error;
  EXPECT_EQ(new_session->acked_seq, std::optional<uint64_t>(99));

  g.first_seq = 100;
  g.last_seq = 199;
  g.text = "the old session's backlog";
  EXPECT_EQ(store->add_segment(g, old_session->epoch, &error), CommitResult::kSuperseded);
  EXPECT_NE(error.find("superseded"), std::string::npos) << error;
  TurnRecord t;
  t.node_id = "n";
  t.transcript = "a turn of the old session";
  EXPECT_EQ(store->add_turn(t, {100, 150}, old_session->epoch, nullptr, &error),
            CommitResult::kSuperseded);
  EXPECT_EQ(store->advance("n", 300, old_session->epoch, &error), CommitResult::kSuperseded);

  // The same segment again from the new session: once.
  g.text = "delivered again";
  EXPECT_EQ(store->add_segment(g, new_session->epoch, &error), CommitResult::kStored) << error;
  EXPECT_EQ(store->add_segment(g, new_session->epoch, &error), CommitResult::kAlreadyStored);
  g.first_seq = 150;  // overlapping what is stored
  g.last_seq = 250;
  EXPECT_EQ(store->add_segment(g, new_session->epoch, &error), CommitResult::kAlreadyStored);
  EXPECT_EQ(store->advance("n", 199, new_session->epoch, &error), CommitResult::kAlreadyStored);
  EXPECT_EQ(store->advance("n", 220, new_session->epoch, &error), CommitResult::kStored);

  auto segments = store->segments("n");
  ASSERT_EQ(segments.size(), 2u);
  EXPECT_EQ(segments[1].text, "delivered again");
  EXPECT_TRUE(store->turns().empty());
  EXPECT_EQ(*store->acked_seq("n"), 220u);
}

// A database from before turns had seq columns opens, keeps its turns (seqs -1), and stores new
// turns with theirs.
TEST(Store, ADatabaseFromTheFirstSchemaIsMigrated) {
  const std::string path = test::scratch_dir("store_migrate") + "/earshot.db";
  unlink(path.c_str());
  ASSERT_EQ(
      test::run_command(
          {"sqlite3", path,
           "CREATE TABLE turns (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, node_id TEXT "
           "NOT NULL DEFAULT '', turn_id TEXT NOT NULL, transcript TEXT NOT NULL, language "
           "TEXT NOT NULL DEFAULT '', reply TEXT NOT NULL DEFAULT '', reply_full TEXT NOT "
           "NULL DEFAULT '', interrupted INTEGER NOT NULL DEFAULT 0, started_at_ms INTEGER "
           "NOT NULL, timings_json TEXT NOT NULL DEFAULT '{}');"
           "INSERT INTO turns (session_id, node_id, turn_id, transcript, started_at_ms) "
           "VALUES ('s0', 'hall', 't1', 'an old turn', 1);"},
          path + ".sqlite3"),
      0);
  std::string error;
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  auto claim = store->claim_node("hall", &error);
  ASSERT_TRUE(claim) << error;
  TurnRecord t;
  t.session_id = "s1";
  t.node_id = "hall";
  t.turn_id = "t1";
  t.transcript = "a new turn";
  ASSERT_EQ(store->add_turn(t, {5, 80}, claim->epoch, nullptr, &error), CommitResult::kStored)
      << error;
  auto turns = store->turns();
  ASSERT_EQ(turns.size(), 2u);
  EXPECT_EQ(turns[0].transcript, "an old turn");
  EXPECT_EQ(turns[0].first_seq, -1);
  EXPECT_EQ(turns[1].first_seq, 5);
  EXPECT_EQ(turns[1].last_seq, 80);
  // The tool_calls table joins an old database too; a turn finished twice keeps one copy.
  TurnRecord old = turns[0];
  old.reply = "It is nine.";
  old.tool_calls = {{0, "call_1", "get_current_time", "{}", R"({"time":"09:00"})", true, 2.5},
                    {1, "call_2", "get_weather", "{", "error: bad arguments", false, 0.25}};
  ASSERT_TRUE(store->finish_turn(1, old, &error)) << error;
  ASSERT_TRUE(store->finish_turn(1, old, &error)) << error;
  turns = store->turns();
  ASSERT_EQ(turns[0].tool_calls.size(), 2u);
  EXPECT_EQ(turns[0].reply, "It is nine.");
  EXPECT_EQ(turns[0].tool_calls[0].call_id, "call_1");
  EXPECT_EQ(turns[0].tool_calls[0].result, R"({"time":"09:00"})");
  EXPECT_TRUE(turns[0].tool_calls[0].ok);
  EXPECT_DOUBLE_EQ(turns[0].tool_calls[0].duration_ms, 2.5);
  EXPECT_EQ(turns[0].tool_calls[1].step, 1);
  EXPECT_FALSE(turns[0].tool_calls[1].ok);
  EXPECT_TRUE(turns[1].tool_calls.empty());
}

// Conversation memories: a history kept exactly (every field, in order, UTF-8 and quotes), a save
// that replaces the last one whole, its time stamp, keys apart, and forgetting one or all. The
// old database of the migration test gains the tables too.
TEST(Store, ConversationMemoriesAreKeptExactlyReplacedWholeAndForgotten) {
  const std::string path = test::scratch_dir("store_memory") + "/earshot.db";
  ASSERT_EQ(test::run_command({"sqlite3", path,
                               "CREATE TABLE turns (id INTEGER PRIMARY KEY, session_id TEXT NOT "
                               "NULL, turn_id TEXT NOT NULL, transcript TEXT NOT NULL, "
                               "started_at_ms INTEGER NOT NULL);"},
                              path + ".sqlite3"),
            0);
  std::string error;
  const std::vector<MemoryMessage> history = {
      {"user", "Wie spät ist es? \"Jetzt\"", "", ""},
      {"assistant", "<think>They ask.</think>",
       R"([{"arguments":"{\"tz\": \"Europe/Berlin\"}","id":"call_1","name":"get_time"}])", ""},
      {"tool", R"({"time":"09:00"})", "", "call_1"},
      {"assistant", "<think>Say it.</think>Es ist neun.\nGanz genau.", "", ""}};
  {
    auto store = Store::open(path, {}, &error);
    ASSERT_TRUE(store) << error;
    StoredMemory none;
    ASSERT_TRUE(store->load_memory("node:n1", &none, &error)) << error;
    EXPECT_TRUE(none.messages.empty());
    EXPECT_EQ(none.updated_at_ms, 0);
    ASSERT_TRUE(store->save_memory("node:n1", {{"user", "first", "", ""}}, 100, &error)) << error;
    ASSERT_TRUE(store->save_memory("node:n1", history, 200, &error)) << error;
    ASSERT_TRUE(store->save_memory("room:kitchen", {{"user", "hi", "", ""}}, 300, &error));
  }
  auto store = Store::open(path, {}, &error);  // reopened: it was committed
  ASSERT_TRUE(store) << error;
  StoredMemory got;
  ASSERT_TRUE(store->load_memory("node:n1", &got, &error)) << error;
  EXPECT_EQ(got.updated_at_ms, 200);
  ASSERT_EQ(got.messages.size(), history.size());
  for (size_t i = 0; i < history.size(); ++i) {
    EXPECT_EQ(got.messages[i].role, history[i].role) << i;
    EXPECT_EQ(got.messages[i].content, history[i].content) << i;
    EXPECT_EQ(got.messages[i].tool_calls_json, history[i].tool_calls_json) << i;
    EXPECT_EQ(got.messages[i].tool_call_id, history[i].tool_call_id) << i;
  }
  // A shorter history (trimmed) replaces the longer one: nothing of the old tail is left.
  ASSERT_TRUE(store->save_memory("node:n1", {history[3]}, 400, &error)) << error;
  ASSERT_TRUE(store->load_memory("node:n1", &got, &error)) << error;
  ASSERT_EQ(got.messages.size(), 1u);
  EXPECT_EQ(got.messages[0].content, history[3].content);
  EXPECT_EQ(store->forget_memory("node:n1", &error), 1) << error;
  ASSERT_TRUE(store->load_memory("node:n1", &got, &error)) << error;
  EXPECT_TRUE(got.messages.empty());
  EXPECT_EQ(got.updated_at_ms, 0);
  ASSERT_TRUE(store->load_memory("room:kitchen", &got, &error)) << error;
  EXPECT_EQ(got.messages.size(), 1u);  // another key is untouched
  EXPECT_EQ(store->forget_memory("node:nobody", &error), 0);
  EXPECT_EQ(store->forget_memory("*", &error), 1);
  ASSERT_TRUE(store->load_memory("room:kitchen", &got, &error)) << error;
  EXPECT_TRUE(got.messages.empty());
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

// What people said at home is for the bridge's user only: a new database and SQLite's WAL files
// beside it are 0600 even under a umask that would let everyone read them.
TEST(Store, ANewDatabaseIsReadableByItsOwnerOnly) {
  const std::string path = test::scratch_dir("store_mode") + "/earshot.db";
  const mode_t previous = umask(022);
  std::string error;
  auto store = Store::open(path, {}, &error);
  umask(previous);
  ASSERT_TRUE(store) << error;
  SessionRecord r;
  r.session_id = "s1";
  r.node_id = "kitchen";
  r.started_at_ms = 1700000000000;
  ASSERT_TRUE(store->open_session(r, &error)) << error;  // a write: the WAL files exist now
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    struct stat st {};
    ASSERT_EQ(stat(file.c_str(), &st), 0) << file;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << file;
  }
}

// A full disk: SQLite's limit on the file's pages stands in for the disk (no mount needed). The
// failed segment is not stored and the high-water mark does not move: the node keeps the audio.
TEST(Store, AFullDiskFailsTheWriteAndLeavesTheMarkWhereItWas) {
  const std::string path = test::scratch_dir("store_full") + "/earshot.db";
  unlink(path.c_str());
  std::string error;
  auto store = Store::open(path, {}, &error);
  ASSERT_TRUE(store) << error;
  auto claim = store->claim_node("n", &error);
  ASSERT_TRUE(claim) << error;
  SegmentRecord g;
  g.node_id = "n";
  g.first_seq = 0;
  g.last_seq = 5;
  g.text = "first";
  ASSERT_EQ(store->add_segment(g, claim->epoch, &error), CommitResult::kStored) << error;
  ASSERT_TRUE(store->set_max_pages(store->page_count()));
  g.first_seq = 6;
  g.last_seq = 9;
  g.text = std::string(200000, 'x');
  EXPECT_EQ(store->add_segment(g, claim->epoch, &error), CommitResult::kFailed);
  EXPECT_NE(error.find("full"), std::string::npos) << error;
  EXPECT_EQ(*store->acked_seq("n"), 5u);
  EXPECT_EQ(store->segments("n").size(), 1u);
  // Space comes back: the same segment is stored.
  ASSERT_TRUE(store->set_max_pages(1u << 20));
  EXPECT_EQ(store->add_segment(g, claim->epoch, &error), CommitResult::kStored) << error;
  EXPECT_EQ(*store->acked_seq("n"), 9u);
}

// Browser clients' tokens: only hashes are kept; a name has one live token at a time; a revoked
// token is refused from then on, also by a store opened earlier (the bridge runs while the
// operator's `earshot-bridge tokens` command writes).
TEST(Store, ClientTokensAreKeptAsHashesAndRevokedForEveryReader) {
  const std::string path = test::scratch_dir("store_client_tokens") + "/earshot.db";
  unlink(path.c_str());
  std::string error;
  auto bridge = Store::open(path, {}, &error);
  ASSERT_TRUE(bridge) << error;
  auto cli = Store::open(path, {}, &error);
  ASSERT_TRUE(cli) << error;
  ASSERT_TRUE(cli->add_client_token({"kitchen-tablet", "aa11", 1700000000000, 0}, &error)) << error;
  EXPECT_FALSE(cli->add_client_token({"kitchen-tablet", "bb22", 1700000000001, 0}, &error));
  EXPECT_NE(error.find("already has a live token"), std::string::npos) << error;
  EXPECT_EQ(bridge->live_client_token_name("aa11"), "kitchen-tablet");
  EXPECT_FALSE(bridge->live_client_token_name("bb22"));
  ASSERT_TRUE(cli->revoke_client_token("kitchen-tablet", 1700000001000, &error)) << error;
  EXPECT_FALSE(bridge->live_client_token_name("aa11"));
  EXPECT_FALSE(cli->revoke_client_token("kitchen-tablet", 1700000002000, &error));
  EXPECT_NE(error.find("has no live token"), std::string::npos) << error;
  // A new token for the same name replaces the revoked one.
  ASSERT_TRUE(cli->add_client_token({"kitchen-tablet", "cc33", 1700000003000, 0}, &error)) << error;
  EXPECT_EQ(bridge->live_client_token_name("cc33"), "kitchen-tablet");
  EXPECT_FALSE(bridge->live_client_token_name("aa11"));
  auto all = bridge->client_tokens();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].token_sha256, "cc33");
  EXPECT_EQ(all[0].revoked_at_ms, 0);
}

}  // namespace
}  // namespace earshot::host
