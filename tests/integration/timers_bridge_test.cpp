// Household timers through the whole loop, with real processes: real earshot-node processes (a
// file source in real time: a spoken sentence from the CMU ARCTIC set, then silence; the node's
// VAD, Opus, its playback to a WAV sink) against a real earshot-bridge (turn detection, the tool
// loop, the household tools, SQLite, flite speaking the announcement). Two test servers stand in
// for the remote services: the language model streams in llama.cpp's chunk shapes (llama-server
// --jinja; as in tool_bridge_test.cpp) and answers with the tool calls; speech recognition answers
// in OpenAI's /v1/audio/transcriptions shape with response_format=json ({"text": ...}, the OpenAI
// API reference), so what the node said is "recognised" as a request for a timer.
//
// It shows a timer set by voice goes off at its time in its room only (two nodes in two rooms),
// survives a bridge restart before it is due, and is cancelled by voice.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "host/store/store.h"
#include "tests/integration/bridge_fixture.h"
#include "tests/support/fake_http_server.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Bridge;
using test::FakeHttpServer;
using test::HttpRequestSeen;
using test::HttpResponder;
using test::sse;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string llama(const std::string& delta, const std::string& finish = "null") {
  return R"({"choices":[{"finish_reason":)" + finish + R"(,"index":0,"delta":)" + delta +
         R"(}],"created":1732500000,"id":"chatcmpl-Jm3kQ0pXw","model":"qwen3-8b","system_fingerprint":"b5200-9f2a1c","object":"chat.completion.chunk"})";
}

std::vector<std::string> tool_call(const std::string& id, const std::string& name,
                                   const json& arguments) {
  const json call = {{"tool_calls",
                      {{{"index", 0},
                        {"id", id},
                        {"type", "function"},
                        {"function", {{"name", name}, {"arguments", arguments.dump()}}}}}}};
  return {llama(R"({"role":"assistant","content":null})"), llama(call.dump()),
          llama("{}", R"("tool_calls")")};
}

std::vector<std::string> words(const std::string& text) {
  return {llama(json({{"content", text}}).dump()), llama("{}", R"("stop")")};
}

// The model and the recogniser of the test household: the first thing said sets a pasta timer of
// `seconds`; with `cancel`, the next thing said cancels it; anything else gets "Okay.".
struct Household {
  std::atomic<int> seconds{2};  // set by the test, read by the server's thread
  std::atomic<bool> cancel{false};
  std::atomic<bool> set{false}, cancelled{false};
  std::atomic<int64_t> set_at_ms{-1};        // steady: the set_timer result reached the model
  std::atomic<int64_t> cancelled_at_ms{-1};  // the cancel_timer result did
  FakeHttpServer server{[this](const HttpRequestSeen& r, HttpResponder& out) { serve(r, out); }};

  void serve(const HttpRequestSeen& r, HttpResponder& out) {
    if (r.path.find("/audio/transcriptions") != std::string::npos) {
      out.full(200, "application/json", R"({"text":"Set a pasta timer."})");
      return;
    }
    const json body = json::parse(r.body, nullptr, false);
    std::vector<std::string> script = words("Okay.");
    if (body.is_object() && body.contains("messages") && !body["messages"].empty()) {
      const json& last = body["messages"].back();
      if (last["role"] == "tool") {
        const std::string result = last["content"];
        if (result.find("\"cancelled\"") != std::string::npos) cancelled_at_ms = steady_ms();
        if (result.find("\"remaining_seconds\"") != std::string::npos && set_at_ms < 0)
          set_at_ms = steady_ms();
      } else if (last["role"] == "user" && !set.exchange(true)) {
        script =
            tool_call("call-set", "set_timer", {{"seconds", seconds.load()}, {"label", "pasta"}});
      } else if (last["role"] == "user" && cancel && !cancelled.exchange(true)) {
        script = tool_call("call-cancel", "cancel_timer", {{"label", "pasta"}});
      }
    }
    out.start_chunked(200, "text/event-stream");
    for (const std::string& e : script)
      out.chunk(sse(e));
    out.chunk(sse("[DONE]"));
    out.end_chunked();
  }

  std::string config() const {
    return "[tools]\nhousehold = true\n"
           "[llm]\nengine = \"openai\"\nbase_url = \"" +
           server.base_url() +
           "\"\nmodel = \"qwen3-8b\"\n"
           "[stt]\nengine = \"openai\"\nbase_url = \"" +
           server.base_url() + "\"\n";
  }
};

// What a node hears: `speech` (a file, or none), then `silence_s` of silence, in real time.
std::string node_input(const Bridge& bridge, const std::string& name,
                       const std::vector<std::string>& speech, double silence_s) {
  test::Audio out;
  out.sample_rate = 16000;
  out.channels = 1;
  for (const std::string& path : speech) {
    test::Audio clip = test::read_audio(path);
    EXPECT_EQ(clip.sample_rate, 16000);
    out.samples.insert(out.samples.end(), clip.samples.begin(), clip.samples.end());
    out.samples.resize(out.samples.size() + 16000 * 3);  // a pause between sentences
  }
  out.samples.resize(out.samples.size() + size_t(silence_s * 16000));
  const std::string path = bridge.dir + "/" + name + ".wav";
  EXPECT_TRUE(test::write_wav(path, out));
  return path;
}

std::string arctic(const char* id) {
  return test::data_path(std::string("cmu-arctic/cmu_arctic_us_") + id + ".wav");
}

std::unique_ptr<test::Subprocess> room_node(Bridge& bridge, int index, const std::string& room,
                                            const std::string& input) {
  return bridge.node(
      index, {"--room", room, "--source", "file", "--file", input, "--realtime", "--sink", "wav",
              "--playback-file", bridge.dir + "/played-" + std::to_string(index) + ".wav",
              "--playback-pace", "--backoff-max-ms", "300"});
}

// The node was told an announcement starts (speech_out_start with reason "announcement") and
// played its audio (its playback logs the first frame it played, per reply).
bool announced(const test::Subprocess& node) {
  const std::string log = node.stderr_text() + node.stdout_text();
  const std::string marker = "announcement ";
  const size_t at = log.find(marker);
  if (at == std::string::npos) return false;
  const size_t end = log.find(' ', at + marker.size());
  const std::string reply_id = log.substr(at + marker.size(), end - at - marker.size());
  return log.find("reply " + reply_id + ": first audio played") != std::string::npos;
}

bool told_of_announcement(const test::Subprocess& node) {
  return (node.stderr_text() + node.stdout_text()).find("announcement") != std::string::npos;
}

TEST(TimersBridge, ATimerSetByVoiceGoesOffOnTimeInItsRoomOnly) {
  Household house;
  house.seconds = 2;
  Bridge bridge("timers_room", house.config());
  bridge.start();
  auto kitchen =
      room_node(bridge, 1, "kitchen", node_input(bridge, "kitchen", {arctic("aew_a0001")}, 25));
  auto office = room_node(bridge, 2, "office", node_input(bridge, "office", {}, 30));

  ASSERT_TRUE(test::wait_until([&] { return house.set_at_ms >= 0; }, 60s))
      << bridge.process->stderr_text() << kitchen->stderr_text();
  ASSERT_TRUE(test::wait_until([&] { return announced(*kitchen); }, 15s))
      << bridge.process->stderr_text() << kitchen->stderr_text();
  const int64_t after_ms = steady_ms() - house.set_at_ms;
  std::printf("announcement played %lld ms after the timer was set\n", (long long)after_ms);
  RecordProperty("announced_after_ms", std::to_string(after_ms));
  // Not before its time (the timer was set just before its result reached the model), and not
  // much after (the reply "Okay." is spoken first; polling and a loaded machine add the rest).
  EXPECT_GE(after_ms, 2000 - 300);
  EXPECT_LE(after_ms, 2000 + 6000);
  const std::string log = bridge.process->stderr_text();
  EXPECT_NE(log.find("Your 2 second pasta timer is done."), std::string::npos) << log;
  EXPECT_NE(log.find("in kitchen went off"), std::string::npos) << log;
  // The office node is connected all along and hears nothing.
  EXPECT_FALSE(told_of_announcement(*office)) << office->stderr_text();
  EXPECT_TRUE(office->running());
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_TRUE(store->timers().empty());  // spoken, so gone
}

TEST(TimersBridge, ATimerSurvivesABridgeRestart) {
  Household house;
  house.seconds = 15;
  Bridge bridge("timers_restart", house.config());
  bridge.start();
  auto kitchen =
      room_node(bridge, 1, "kitchen", node_input(bridge, "kitchen", {arctic("aew_a0002")}, 40));
  ASSERT_TRUE(test::wait_until([&] { return house.set_at_ms >= 0; }, 60s))
      << bridge.process->stderr_text() << kitchen->stderr_text();
  // Restart the bridge before the timer is due; the timer is in the store.
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  {
    std::string error;
    auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
    ASSERT_TRUE(store) << error;
    ASSERT_EQ(store->timers().size(), 1u);
    EXPECT_EQ(store->timers()[0].room, "kitchen");
  }
  ASSERT_LT(steady_ms() - house.set_at_ms, 15000) << "the restart came too late to show anything";
  EXPECT_FALSE(announced(*kitchen));
  bridge.start("bridge2");
  ASSERT_TRUE(test::wait_until([&] { return announced(*kitchen); }, 20s))
      << bridge.process->stderr_text() << kitchen->stderr_text();
  const int64_t after_ms = steady_ms() - house.set_at_ms;
  std::printf("announcement played %lld ms after the timer was set\n", (long long)after_ms);
  RecordProperty("announced_after_ms", std::to_string(after_ms));
  EXPECT_GE(after_ms, 15000 - 300);
  EXPECT_LE(after_ms, 15000 + 8000);
  const std::string log = bridge.process->stderr_text();
  EXPECT_NE(log.find("Your 15 second pasta timer is done."), std::string::npos) << log;
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

TEST(TimersBridge, ATimerCancelledByVoiceDoesNotGoOff) {
  Household house;
  house.seconds = 12;
  house.cancel = true;
  Bridge bridge("timers_cancel", house.config());
  bridge.start();
  auto kitchen =
      room_node(bridge, 1, "kitchen",
                node_input(bridge, "kitchen", {arctic("aew_a0001"), arctic("aew_a0003")}, 30));
  ASSERT_TRUE(test::wait_until([&] { return house.set_at_ms >= 0; }, 60s))
      << bridge.process->stderr_text() << kitchen->stderr_text();
  ASSERT_TRUE(test::wait_until([&] { return house.cancelled_at_ms >= 0; }, 30s))
      << bridge.process->stderr_text() << kitchen->stderr_text();
  ASSERT_LT(house.cancelled_at_ms - house.set_at_ms, 12000);
  // Past the time it would have gone off (and some): nothing is said.
  const auto until = std::chrono::milliseconds(house.set_at_ms + 12000 + 3000 - steady_ms());
  EXPECT_FALSE(test::wait_until([&] { return announced(*kitchen); }, until))
      << kitchen->stderr_text();
  const std::string log = bridge.process->stderr_text();
  EXPECT_EQ(log.find("went off"), std::string::npos) << log;
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  std::string error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  EXPECT_TRUE(store->timers().empty());
  // The turns hold both calls: set, then cancel.
  std::vector<std::string> calls;
  for (const host::TurnRecord& t : store->turns())
    for (const host::ToolCallRecord& c : t.tool_calls)
      calls.push_back(c.name);
  EXPECT_EQ(calls, (std::vector<std::string>{"set_timer", "cancel_timer"}));
}

}  // namespace
}  // namespace earshot
