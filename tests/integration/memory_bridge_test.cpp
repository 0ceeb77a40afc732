// Conversation memory in a real earshot-bridge process (host/conversation/memory.h): a real
// earshot-node speaks real speech, and a test LLM server records what the bridge asks. Speech is
// recognised by a test server in OpenAI's transcription shape (POST /v1/audio/transcriptions with
// response_format=json answers {"text": ...}, as the OpenAI API reference and whisper.cpp's server
// document it): pocketsphinx on a machine shared by builds ends turns too late for a node that
// leaves after its file. The history the model gets continues, byte for byte, when the node
// reconnects, when the bridge restarts after SIGTERM and after SIGKILL (within
// reply.memory_idle_minutes), and starts fresh after the idle timeout. `earshot-bridge forget`
// clears it. Speech that goes on while the last turn is still being recognised loses neither turn.
//
// The LLM server streams vLLM's chunk shape (vllm/entrypoints/openai/serving_chat.py: a delta
// per chunk, then a chunk with finish_reason "stop", then [DONE]).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "host/clock.h"
#include "host/store/store.h"
#include "tests/integration/bridge_fixture.h"
#include "tests/support/fake_http_server.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Bridge;
using test::librivox;

std::string vllm_chunk(const std::string& delta, const std::string& finish) {
  return R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1732500000,"model":"m","choices":[{"index":0,"delta":)" +
         delta + R"(,"logprobs":null,"finish_reason":)" + finish + "}]}";
}

// Answers request n with "Reply n." and records every request.
class RecordingLlm {
 public:
  RecordingLlm()
      : server_([this](const test::HttpRequestSeen&, test::HttpResponder& r) {
          const size_t n = served_.fetch_add(1);
          r.start_chunked(200, "text/event-stream; charset=utf-8");
          r.chunk(test::sse(vllm_chunk(
              R"({"content":)" + json("Reply " + std::to_string(n) + ".").dump() + "}", "null")));
          r.chunk(test::sse(vllm_chunk(R"({"content":""})", R"("stop")")));
          r.chunk(test::sse("[DONE]"));
          r.end_chunked();
        }) {}
  // The bridge's engines: this LLM, and this class's speech server unless `stt_url` is given.
  std::string toml(const std::string& reply_toml = "", const std::string& stt_url = "") const {
    return "[llm]\nengine = \"openai\"\nbase_url = \"" + server_.base_url() +
           "\"\nmodel = \"m\"\n[stt]\nengine = \"openai\"\nbase_url = \"" +
           (stt_url.empty() ? stt_.base_url() : stt_url) + "\"\n[reply]\n" + reply_toml;
  }
  std::vector<json> messages() {
    std::vector<json> out;
    for (const test::HttpRequestSeen& r : server_.requests())
      out.push_back(json::parse(r.body)["messages"]);
    return out;
  }

 private:
  std::atomic<size_t> served_{0};
  test::FakeHttpServer server_;
  test::FakeHttpServer stt_{[](const test::HttpRequestSeen&, test::HttpResponder& r) {
    r.full(200, "application/json", R"({"text":"Do you remember what I said?"})");
  }};
};

// One clip of real speech and the silence after it, in which the reply is made and played.
std::string speech_file(const Bridge& bridge, const char* id) {
  test::Audio clip = test::read_audio(librivox(id, ".wav"));
  clip.samples.resize(clip.samples.size() + size_t(clip.sample_rate) * clip.channels * 10, 0.0f);
  const std::string path = bridge.dir + "/" + id + ".wav";
  EXPECT_TRUE(test::write_wav(path, clip));
  return path;
}

size_t turns_printed(const Bridge& bridge) {
  const std::string out = bridge.process->stdout_text();
  size_t n = 0;
  for (size_t at = out.find("  reply"); at != std::string::npos; at = out.find("  reply", at + 1))
    ++n;
  return n;
}

// Node n0 says the clip in a new session (a new connection); returns once its turn is done.
void say(Bridge& bridge, const char* id, size_t turns_before) {
  auto node =
      bridge.node(0, {"--source", "file", "--file", speech_file(bridge, id), "--sink", "none"},
                  std::string("n0-") + id);
  ASSERT_EQ(node->wait(120s), 0) << node->stderr_text();
  ASSERT_TRUE(test::wait_until([&] { return turns_printed(bridge) > turns_before; }, 30s))
      << bridge.process->stdout_text() << bridge.process->stderr_text();
}

// The messages a request would have held had nothing happened between: the previous request's,
// its reply, and the new user message.
json continued(const json& previous, const std::string& reply, const json& user) {
  json out = previous;
  out.push_back({{"content", reply}, {"role", "assistant"}});
  out.push_back(user);
  return out;
}

TEST(MemoryBridge, TheHistoryContinuesAcrossReconnectsAndRestartsByteForByte) {
  RecordingLlm llm;
  Bridge bridge("memory_bridge", llm.toml());
  bridge.start();
  say(bridge, "0880", 0);
  say(bridge, "0930", 1);  // the node reconnects
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  bridge.start("bridge-after-sigterm");
  say(bridge, "0920", 0);
  bridge.process->signal(SIGKILL);  // its turn was reported done: the memory is written
  bridge.process->wait(20s);
  bridge.start("bridge-after-sigkill");
  say(bridge, "0880", 0);
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();

  const std::vector<json> m = llm.messages();
  ASSERT_EQ(m.size(), 4u);
  ASSERT_EQ(m[0].size(), 2u) << m[0].dump();  // system, the first thing said
  for (size_t i = 1; i < m.size(); ++i) {
    ASSERT_EQ(m[i].back()["role"], "user");
    EXPECT_EQ(m[i].dump(),
              continued(m[i - 1], "Reply " + std::to_string(i - 1) + ".", m[i].back()).dump())
        << "request " << i;
  }
  // What was said, as stored: the user messages are the transcripts.
  std::string error;
  {
    auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
    ASSERT_TRUE(store) << error;
    const std::vector<host::TurnRecord> turns = store->turns();
    ASSERT_EQ(turns.size(), 4u);
    for (size_t i = 0; i < turns.size(); ++i)
      EXPECT_EQ(m[i].back()["content"], turns[i].transcript);
  }

  // earshot-bridge forget node n0: the memory is gone, the turns stay.
  test::Subprocess forget(
      {test::kBridge, "--config", bridge.dir + "/bridge.toml", "forget", "node", "n0"},
      bridge.dir + "/forget");
  ASSERT_EQ(forget.wait(20s), 0) << forget.stderr_text();
  EXPECT_NE(forget.stdout_text().find("forgot 1 conversation"), std::string::npos)
      << forget.stdout_text();
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  host::StoredMemory memory;
  ASSERT_TRUE(store->load_memory("node:n0", &memory, &error)) << error;
  EXPECT_TRUE(memory.messages.empty());
  EXPECT_EQ(store->turns().size(), 4u);
}

// The person pauses long enough to end a turn, then speaks on while that turn is still being
// recognised (a whisper server takes its time). The new speech is a barge-in: it cancels the first
// turn's reply — but not the recognition of the first turn's words, whose frames the bridge
// acknowledges once they are stored. Both turns are stored with what was said, the first as a
// reply cut before a word of it, and the one reply answers both. (The speech server here holds
// its first answer until the bridge has logged the barge-in; turn.early_final_ms = 0 makes the
// final pass run when the turn ends, as it does for a door whose client ends its turns.)
TEST(MemoryBridge, SpeechGoingOnWhileTheLastTurnIsRecognisedLosesNeitherTurn) {
  std::atomic<size_t> stt_requests{0};
  std::atomic<bool> first_answered_after_barge_in{false};
  test::Bridge* running = nullptr;
  test::FakeHttpServer stt([&](const test::HttpRequestSeen&, test::HttpResponder& r) {
    if (stt_requests.fetch_add(1) == 0) {
      first_answered_after_barge_in = test::wait_until(
          [&] {
            return running->process->stderr_text().find("interrupted (the person spoke)") !=
                   std::string::npos;
          },
          60s);
      r.full(200, "application/json", R"({"text":"Put the kettle on."})");
    } else {
      r.full(200, "application/json", R"({"text":"And two cups please."})");
    }
  });
  RecordingLlm llm;
  Bridge bridge("memory_bridge_speech_on",
                llm.toml("", stt.base_url()) + "[turn]\nearly_final_ms = 0\n");
  running = &bridge;
  bridge.start();
  // Two clips with 2.5 s of silence between (more than the 0.4 s hangover and 0.7 s end of turn).
  test::Audio in = test::read_audio(librivox("0880", ".wav"));
  const test::Audio second = test::read_audio(librivox("0930", ".wav"));
  in.samples.resize(in.samples.size() + size_t(in.sample_rate) * in.channels * 5 / 2, 0.0f);
  in.samples.insert(in.samples.end(), second.samples.begin(), second.samples.end());
  in.samples.resize(in.samples.size() + size_t(in.sample_rate) * in.channels * 10, 0.0f);
  ASSERT_TRUE(test::write_wav(bridge.dir + "/in.wav", in));
  auto node =
      bridge.node(0, {"--source", "file", "--file", bridge.dir + "/in.wav", "--sink", "none"});
  ASSERT_EQ(node->wait(120s), 0) << node->stderr_text();
  ASSERT_TRUE(test::wait_until([&] { return turns_printed(bridge) >= 1; }, 30s))
      << bridge.process->stdout_text() << bridge.process->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();

  EXPECT_TRUE(first_answered_after_barge_in.load()) << bridge.process->stderr_text();
  EXPECT_EQ(bridge.process->stderr_text().find("speech recognition failed"), std::string::npos)
      << bridge.process->stderr_text();
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  const std::vector<host::TurnRecord> turns = store->turns();
  ASSERT_EQ(turns.size(), 2u) << bridge.process->stdout_text();
  EXPECT_EQ(turns[0].transcript, "Put the kettle on.");
  EXPECT_TRUE(turns[0].interrupted);
  EXPECT_EQ(turns[0].reply, "");
  EXPECT_EQ(turns[0].reply_full, "");
  EXPECT_EQ(turns[1].transcript, "And two cups please.");
  EXPECT_FALSE(turns[1].interrupted);
  EXPECT_EQ(turns[1].reply_full, "Reply 0.");
  EXPECT_GT(turns[1].first_seq, turns[0].last_seq);
  // The one reply was asked with both things said.
  const std::vector<json> m = llm.messages();
  ASSERT_EQ(m.size(), 1u);
  ASSERT_EQ(m[0].size(), 3u) << m[0].dump();
  EXPECT_EQ(m[0][1]["content"], "Put the kettle on.");
  EXPECT_EQ(m[0][2]["content"], "And two cups please.");
}

TEST(MemoryBridge, AfterTheIdleTimeoutARestartedBridgeStartsANewConversation) {
  RecordingLlm llm;
  Bridge bridge("memory_bridge_idle", llm.toml("memory_idle_minutes = 0.05\n"));  // 3 s
  bridge.start();
  say(bridge, "0880", 0);
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  std::string error;
  int64_t written = 0;
  {
    auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
    ASSERT_TRUE(store) << error;
    host::StoredMemory memory;
    ASSERT_TRUE(store->load_memory("node:n0", &memory, &error)) << error;
    ASSERT_EQ(memory.messages.size(), 2u);
    written = memory.updated_at_ms;
  }
  // Idle past the timeout (waiting on the clock itself, with a deadline).
  ASSERT_TRUE(test::wait_until([&] { return host::wall_ms() > written + 3100; }, 20s));
  bridge.start("bridge-later");
  say(bridge, "0930", 0);
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  const std::vector<json> m = llm.messages();
  ASSERT_EQ(m.size(), 2u);
  ASSERT_EQ(m[1].size(), 2u) << m[1].dump();  // the system prompt and the new turn only
  EXPECT_EQ(m[1].dump(), m[0].dump());        // exactly as the first conversation began
  // The stored memory is the new conversation's: the new turn and its reply.
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  host::StoredMemory memory;
  ASSERT_TRUE(store->load_memory("node:n0", &memory, &error)) << error;
  ASSERT_EQ(memory.messages.size(), 2u);
  EXPECT_EQ(memory.messages[1].content, "Reply 1.");
}

}  // namespace
}  // namespace earshot
