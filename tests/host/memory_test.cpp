// The conversation memory's keys and settings (host/conversation/memory.h): whose memory a client
// continues, the ones that keep none, the [reply] keys and their checks. The memory itself, through
// the real core and store, is in tool_loop_test.cpp (Memory.*) and, in real processes,
// tests/integration/memory_bridge_test.cpp.
#include "host/conversation/memory.h"

#include <gtest/gtest.h>

#include "host/bridge_config.h"
#include "host/store/store.h"
#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

TEST(MemoryKey, PerNodePerRoomOrNone) {
  EXPECT_EQ(memory_key("node", "kitchen-node", "kitchen"), "node:kitchen-node");
  EXPECT_EQ(memory_key("room", "kitchen-node", "kitchen"), "room:kitchen");
  EXPECT_EQ(memory_key("room", "hall-node", ""), "node:hall-node");  // no room: its own
  EXPECT_EQ(memory_key("session", "kitchen-node", "kitchen"), "");
  // A Realtime client's id is per connection: never continued, in any mode.
  EXPECT_EQ(memory_key("node", "realtime-sess_1", ""), "");
  EXPECT_EQ(memory_key("room", "realtime-sess_1", "kitchen"), "");
  EXPECT_EQ(memory_key("node", "", ""), "");
}

TEST(MemoryKey, TheReplyKeysAreReadAndChecked) {
  BridgeConfig c;
  EXPECT_EQ(c.reply.memory, "node");
  EXPECT_EQ(c.reply.memory_idle_minutes, 30);
  ASSERT_EQ(
      parse_bridge_config("[reply]\nmemory = \"room\"\nmemory_idle_minutes = 0.5\n", "t.toml", &c),
      "");
  EXPECT_EQ(c.reply.memory, "room");
  EXPECT_DOUBLE_EQ(c.reply.memory_idle_minutes, 0.5);
  c.server.allow_anonymous = true;
  EXPECT_EQ(validate(c), "");
  c.reply.memory = "house";
  EXPECT_EQ(validate(c), "reply.memory: must be node, room or session, got 'house'");
  c.reply.memory = "session";
  c.reply.memory_idle_minutes = 0;
  EXPECT_NE(validate(c).find("reply.memory_idle_minutes"), std::string::npos);
  BridgeConfig d;
  EXPECT_NE(parse_bridge_config("[reply]\nmemory = 1\n", "t.toml", &d).find("reply.memory"),
            std::string::npos);
}

// A history with tool calls goes into the store and comes back the same; one older than the
// idle timeout comes back empty (a new conversation); with no store or no key it is off.
TEST(ConversationMemory, RecallsWhatItRememberedUntilTheIdleTimeout) {
  std::string error;
  auto store = Store::open(test::scratch_dir("conversation_memory") + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  ConversationMemory memory(store.get(), "node:n1", 60000);
  const std::vector<ChatMessage> history = {
      {"user", "Weather?", {}, ""},
      {"assistant", "<think>tool</think>", {{"call_1", "get_weather", R"({"city": "Oslo"})"}}, ""},
      {"tool", "7C", {}, "call_1"},
      {"assistant", "Seven degrees.", {}, ""}};
  ASSERT_TRUE(memory.remember(history, 1000000, &error)) << error;
  std::vector<ChatMessage> got = {{"user", "stale", {}, ""}};
  ASSERT_TRUE(memory.recall(1000000 + 60000, &got));
  ASSERT_EQ(got.size(), history.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].role, history[i].role);
    EXPECT_EQ(got[i].content, history[i].content);
    EXPECT_EQ(got[i].tool_call_id, history[i].tool_call_id);
    ASSERT_EQ(got[i].tool_calls.size(), history[i].tool_calls.size());
    for (size_t k = 0; k < got[i].tool_calls.size(); ++k) {
      EXPECT_EQ(got[i].tool_calls[k].id, history[i].tool_calls[k].id);
      EXPECT_EQ(got[i].tool_calls[k].name, history[i].tool_calls[k].name);
      EXPECT_EQ(got[i].tool_calls[k].arguments, history[i].tool_calls[k].arguments);
    }
  }
  ASSERT_TRUE(memory.recall(1000000 + 60001, &got));
  EXPECT_TRUE(got.empty());
  ConversationMemory off(store.get(), "", 60000), no_store(nullptr, "node:n1", 60000);
  EXPECT_FALSE(off.enabled());
  EXPECT_FALSE(no_store.enabled());
  got = history;
  EXPECT_FALSE(no_store.recall(1000000, &got));
  EXPECT_EQ(got.size(), history.size());  // untouched
}

}  // namespace
}  // namespace earshot::host
