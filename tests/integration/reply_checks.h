// What every door's "the client left during a reply" test checks (docs/bridge.md): the bridge
// logged the leaving (or the cut, for a reply a client stopped without saying what it played), and
// its store holds the one turn, answered by the echo LLM and stored as interrupted, with a strict
// prefix of the reply as heard (nothing, if its audio had not started); the memory the client's
// next session continues from ends with the same.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "host/store/store.h"

namespace earshot::test {

// `log` is the bridge's stderr and `db` its store, read after the bridge stopped; `node_id` the
// turn's client ("" not to check it), `memory_key` its memory ("" for a client that has none);
// `why` what the bridge logs of the cut (by default: the client left).
inline void expect_reply_kept_as_cut(const std::string& log, const std::string& db,
                                     const std::string& node_id, const std::string& memory_key,
                                     const std::string& why = "the client left during reply") {
  const size_t left = log.find(why);
  EXPECT_NE(left, std::string::npos) << log;
  if (left != std::string::npos)
    printf("%s\n", log.substr(left, log.find('\n', left) - left).c_str());

  std::string error;
  auto store = host::Store::open(db, {}, &error);
  ASSERT_TRUE(store) << error;
  auto turns = store->turns();
  ASSERT_EQ(turns.size(), 1u);
  const host::TurnRecord& t = turns[0];
  if (!node_id.empty()) {
    EXPECT_EQ(t.node_id, node_id);
  }
  EXPECT_EQ(t.reply_full, "You said: " + t.transcript + ".");  // the echo LLM
  EXPECT_TRUE(t.interrupted);
  printf("stored as heard: %zu of %zu characters: \"%s\"\n", t.reply.size(), t.reply_full.size(),
         t.reply.c_str());
  EXPECT_LT(t.reply.size(), t.reply_full.size()) << "stored as heard: " << t.reply;
  EXPECT_EQ(t.reply_full.rfind(t.reply, 0), 0u) << t.reply;
  if (memory_key.empty()) return;
  host::StoredMemory memory;
  ASSERT_TRUE(store->load_memory(memory_key, &memory, &error)) << error;
  ASSERT_FALSE(memory.messages.empty());
  EXPECT_EQ(memory.messages.back().role, "assistant");
  EXPECT_EQ(memory.messages.back().content, t.reply.empty() ? "…" : t.reply);
}

}  // namespace earshot::test
