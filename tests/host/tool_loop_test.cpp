// The tool loop through the real conversation core (host/conversation/): a Conversation with the
// real OpenAI engine against a scripted LLM server that streams in vLLM's exact chunk shapes (see
// tool_calls_stream_test.cpp for their sources), flite speaking, the SQLite store, and tools
// registered in a ToolRegistry — the test's own provider, as an MCP client or a device door will
// register theirs. Turns are typed (user_text + respond, as the Realtime door sends them), and
// the test's sink plays the door: it reports each reply played to its end, or interrupts it.
//
// What it shows: a call and its final answer; text said before a call is voiced before the call
// returns; a slow call gets the filler; malformed arguments go back to the model as an error; a
// model that keeps calling stops at tools.max_steps; a barge-in during a call cancels it and
// nothing is said after it; the history sent on the next request byte for byte, with and without
// keep_think_in_history; every call stored with its turn; and the conversation memory: a node that
// reconnects continues byte for byte, per session and per room, the idle timeout, history_turns,
// what was heard (barge-in, a late played report) reaching the stored copy.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "host/clock.h"
#include "host/conversation/conversation.h"
#include "host/engines/embedded_engines.h"
#include "host/engines/openai_engines.h"
#include "host/store/store.h"
#include "host/tools/room_directory.h"
#include "host/tools/tool_registry.h"
#include "tests/support/fake_http_server.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::FakeHttpServer;
using test::HttpRequestSeen;
using test::HttpResponder;
using test::sse;

// --- the scripted model
// ---------------------------------------------------------------------------

// vLLM's chunk (serving_chat.py, exclude_unset) around a delta.
std::string vllm(const std::string& delta, const std::string& finish = "null") {
  return R"({"id":"chatcmpl-77","object":"chat.completion.chunk","created":1732500000,"model":"m","choices":[{"index":0,"delta":)" +
         delta + R"(,"logprobs":null,"finish_reason":)" + finish +
         (finish == "null" ? "" : R"(,"stop_reason":null)") + "}]}";
}
std::string text(const std::string& t) {
  return vllm(R"({"content":)" + json(t).dump() + "}");
}
std::string reasoning(const std::string& t) {
  return vllm(R"({"reasoning_content":)" + json(t).dump() + "}");
}
// A hermes-parser call: id, type and name, then the arguments in two fragments.
std::vector<std::string> call(int index, const std::string& id, const std::string& name,
                              const std::string& arguments) {
  const std::string i = std::to_string(index);
  const size_t half = arguments.size() / 2;
  return {vllm(R"({"tool_calls":[{"id":")" + id + R"(","type":"function","index":)" + i +
               R"(,"function":{"name":")" + name + R"("}}]})"),
          vllm(R"({"tool_calls":[{"index":)" + i + R"(,"function":{"arguments":)" +
               json(arguments.substr(0, half)).dump() + "}}]}"),
          vllm(R"({"tool_calls":[{"index":)" + i + R"(,"function":{"arguments":)" +
               json(arguments.substr(half)).dump() + "}}]}")};
}
std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
const std::string kEndWithCalls = vllm(R"({"content":""})", R"("tool_calls")");
const std::string kEnd = vllm(R"({"content":""})", R"("stop")");

// Answers request n with script(n), recording every request.
class ScriptedLlm {
 public:
  using Script = std::function<std::vector<std::string>(size_t request)>;
  explicit ScriptedLlm(Script script)
      : script_(std::move(script)), server_([this](const HttpRequestSeen&, HttpResponder& r) {
          const size_t n = served_.fetch_add(1);
          r.start_chunked(200, "text/event-stream; charset=utf-8");
          for (const std::string& e : script_(n))
            r.chunk(sse(e));
          r.chunk(sse("[DONE]"));
          r.end_chunked();
        }) {}
  EngineConfig config(bool keep_think) const {
    EngineConfig c;
    c.engine = "openai";
    c.base_url = server_.base_url();
    c.model = "m";
    c.keep_think_in_history = keep_think;
    c.idle_timeout_ms = 5000;
    return c;
  }
  std::vector<json> bodies() {
    std::vector<json> out;
    for (const HttpRequestSeen& r : server_.requests())
      out.push_back(json::parse(r.body));
    return out;
  }

 private:
  Script script_;
  std::atomic<size_t> served_{0};
  FakeHttpServer server_;
};

// --- the test's tools
// -----------------------------------------------------------------------------

class TestTools : public ToolProvider {
 public:
  using Handler = std::function<ToolResult(const std::string& arguments, const CancelToken&)>;
  explicit TestTools(Handler handler) : handler_(std::move(handler)) {}
  std::string name() const override { return "test"; }
  std::vector<ToolSpec> list(const ToolScope&) override {
    return {{"get_weather", "The weather in a city.",
             R"({"type":"object","properties":{"city":{"type":"string"}}})"}};
  }
  ToolResult call(const ToolScope& scope, const std::string& name, const std::string& arguments,
                  const CancelToken& cancel, std::chrono::steady_clock::time_point) override {
    calls.fetch_add(1);
    last_room = scope.room;
    last_name = name;
    return handler_(arguments, cancel);
  }
  std::atomic<int> calls{0};
  std::string last_room, last_name;

 private:
  Handler handler_;
};

// --- the door ---------------------------------------------------------------------------------

class TestDoor : public ConversationSink {
 public:
  Conversation* conversation = nullptr;

  std::vector<std::string> sentences() {
    std::lock_guard<std::mutex> lock(mutex_);
    return sentences_;
  }
  bool said(const std::string& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::find(sentences_.begin(), sentences_.end(), s) != sentences_.end();
  }
  std::vector<TurnReport> turns() {
    std::lock_guard<std::mutex> lock(mutex_);
    return turns_;
  }
  uint64_t frames() const { return frames_.load(); }
  std::string text() {  // every reply's text as the door received it, in order
    std::lock_guard<std::mutex> lock(mutex_);
    return text_;
  }
  std::string current_reply() {
    std::lock_guard<std::mutex> lock(mutex_);
    return reply_id_;
  }
  // Barge-in as a door reports it: what it had put on the wire, and what the client says it
  // played if given. Counts what comes after.
  void interrupt(std::optional<uint64_t> played_ms = std::nullopt) {
    std::string reply;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      reply = reply_id_;
      interrupted_ = true;
    }
    // The conversation hears of the barge-in first, then the held audio goes, as a door's queue
    // is flushed after it reports one. Released first, the held frame's refusal could end the
    // reply as played, with what the voice had queued counted as heard (seen once under qemu).
    conversation->interrupt({reply, played_ms, frames_.load()});
    // Counted from when the reply's cancel is set: frames the voice made before it are the
    // door's to flush, and a slow test thread can see several of them (seen once under ASan).
    frames_at_interrupt_ = frames_.load();
    held_ = false;
  }
  // From sentence `index` on, reply_audio() holds (as a door's full queue does) until interrupt()
  // or leave().
  void hold_from_sentence(int index) {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_from_ = index;
  }
  // The reply frame sentence `index` starts on, once it has started.
  std::optional<uint64_t> first_frame(uint32_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = first_frames_.find(index);
    return it == first_frames_.end() ? std::nullopt : std::optional<uint64_t>(it->second);
  }
  std::vector<std::string> sentences_after_interrupt() {
    std::lock_guard<std::mutex> lock(mutex_);
    return after_interrupt_;
  }
  uint64_t frames_after_interrupt() const { return frames_.load() - frames_at_interrupt_.load(); }

  void acknowledged(uint64_t) override {}
  void speech_started(const std::string&, uint64_t) override {}
  void speech_stopped(const std::string&, uint64_t) override {}
  void transcript(const std::string&, const std::string&, bool, const std::string&) override {}
  void reply_started(const std::string& reply_id, const std::string&) override {
    if (leave_as_a_reply_starts.exchange(false)) {
      // The connection ended just before this reached the door: it knew of no reply, and says
      // the client left with nothing of one on the wire (as RealtimeDoor::stop() then does).
      conversation->client_gone({std::string(), std::nullopt, 0});
    }
    std::lock_guard<std::mutex> lock(mutex_);
    reply_id_ = reply_id;
  }
  // The next reply_started() comes after the client left (see reply_started()).
  std::atomic<bool> leave_as_a_reply_starts{false};
  // The client's connection ends while a reply plays, and this door says nothing of it (no
  // client_gone, as a door that misses the case): from hold_until_left() on, reply_audio() holds
  // the reply's first frame until leave(), then takes no more of it (as a detached outbox).
  void hold_until_left(bool hold = true) { hold_until_left_ = hold; }
  bool holding() const { return holding_.load(); }
  void leave() { left_ = true; }
  // A played report without a point, as a Wyoming satellite's `played` reaches the core.
  std::atomic<bool> played_without_point{false};
  // No played report when a reply's audio ends (a client that has not finished playing it).
  std::atomic<bool> silent_at_end{false};
  bool audio_ended() const { return audio_ended_.load(); }
  bool reported_played() const { return reported_played_.load(); }
  void reply_text(const std::string&, const std::string&, const std::string& delta) override {
    std::lock_guard<std::mutex> lock(mutex_);
    text_ += delta;
  }
  void reply_text_done(const std::string&, const std::string&) override {}
  void announcement_started(const std::string& reply_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    announcements_.push_back(reply_id);
  }
  std::vector<std::string> announcements() {
    std::lock_guard<std::mutex> lock(mutex_);
    return announcements_;
  }
  void reply_audio_started(const std::string&, const std::string&) override {}
  void reply_sentence(const std::string&, uint32_t index, const std::string& text,
                      uint64_t first_frame) override {
    std::lock_guard<std::mutex> lock(mutex_);
    first_frames_[index] = first_frame;
    if (hold_from_ >= 0 && int(index) >= hold_from_) held_ = true;
    sentences_.push_back(text);
    if (interrupted_) after_interrupt_.push_back(text);
  }
  bool reply_audio(const std::string&, uint64_t, const float*, size_t, int64_t, int64_t) override {
    if (hold_until_left_.load()) {
      holding_ = true;
      test::wait_until([&] { return left_.load(); }, 20s);
      return false;
    }
    if (held_.load()) {
      test::wait_until([&] { return !held_.load() || left_.load(); }, 20s);
      return false;
    }
    frames_.fetch_add(1);
    return true;
  }
  void reply_audio_ended(const std::string& reply_id, uint64_t frames, bool interrupted) override {
    audio_ended_ = true;
    // Played to its end, as a client reports it (the responder waits for this).
    if (interrupted || silent_at_end) return;
    std::optional<uint64_t> played_ms = frames * 20;
    if (played_without_point) played_ms.reset();
    conversation->played({reply_id, played_ms, std::nullopt});
    reported_played_ = true;
  }
  uint64_t reply_interrupted(const std::string&) override { return frames_.load(); }
  void turn_done(const TurnReport& report) override {
    std::lock_guard<std::mutex> lock(mutex_);
    turns_.push_back(report);
    interrupted_ = false;
  }
  void error(const std::string&, const std::string&) override {}
  void close(uint16_t, const std::string&) override {}

 private:
  std::mutex mutex_;
  std::vector<std::string> sentences_, after_interrupt_, announcements_;
  std::vector<TurnReport> turns_;
  std::string reply_id_, text_;
  std::map<uint32_t, uint64_t> first_frames_;
  int hold_from_ = -1;
  std::atomic<bool> held_{false};
  std::atomic<bool> hold_until_left_{false}, holding_{false}, left_{false};
  std::atomic<bool> reported_played_{false}, audio_ended_{false};
  bool interrupted_ = false;
  std::atomic<uint64_t> frames_{0}, frames_at_interrupt_{0};
};

// --- the bridge's core, in one process --------------------------------------------------------

struct Core {
  Core(ScriptedLlm& llm, std::shared_ptr<ToolProvider> tools, bool keep_think,
       ToolSettings tool_settings = {}, ReplySettings reply = {}) {
    std::string error;
    // A database of this test's own: ctest runs the tests as parallel processes, and
    // scratch_dir() empties the directory it hands out.
    std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : test_name)
      if (c == '/') c = '_';
    store = Store::open(test::scratch_dir("tool_loop_" + test_name) + "/earshot.db", {}, &error);
    EXPECT_TRUE(store) << error;
    llm_engine = make_openai_llm(llm.config(keep_think));
    EngineConfig flite;
    flite.voice = "slt";
    tts = make_flite_tts(flite, &error);
    EXPECT_TRUE(tts) << error;
    services.llm = llm_engine.get();
    services.tts = tts.get();
    services.store = store.get();
    services.delivery = std::make_unique<DeliveryLedger>(store.get());
    services.tools = &registry;
    services.tool_settings = tool_settings;
    services.rooms = &rooms;
    services.reply = reply;
    registration = registry.add(std::move(tools));
    conversation = open_session(door, "c1", "n1", "kitchen");
  }
  ~Core() { conversation->stop(); }

  // A session of `client_id` in `room` through `door`, started (as a door opens one).
  std::unique_ptr<Conversation> open_session(TestDoor& through, const std::string& conversation_id,
                                             const std::string& client_id,
                                             const std::string& room) {
    ConversationSettings settings;
    settings.conversation_id = conversation_id;
    settings.client_id = client_id;
    settings.room = room;
    settings.server_turn_detection = false;
    settings.auto_respond = false;
    std::string error;
    auto lease = services.delivery->claim(client_id, &error);
    EXPECT_TRUE(lease) << error;
    auto c = std::make_unique<Conversation>(services, settings, *lease, through);
    through.conversation = c.get();
    EXPECT_TRUE(c->start(&error)) << error;
    return c;
  }
  // The node's connection ends and it comes back: a new session of the same node.
  void reconnect(const std::string& conversation_id, const std::string& client_id = "n1") {
    conversation->stop();
    conversation.reset();
    conversation = open_session(door, conversation_id, client_id, "kitchen");
  }

  // Types a turn and asks for the answer; waits for the turn to be over.
  TurnReport turn(const std::string& said) {
    const size_t before = door.turns().size();
    conversation->user_text(said);
    conversation->respond();
    EXPECT_TRUE(test::wait_until([&] { return door.turns().size() > before; }, 30s));
    return door.turns().size() > before ? door.turns()[before] : TurnReport{};
  }

  std::unique_ptr<Store> store;
  std::unique_ptr<LlmEngine> llm_engine;
  std::unique_ptr<TtsEngine> tts;
  ToolRegistry registry;
  ToolRegistry::Registration registration;
  RoomDirectory rooms;  // the conversation joins it under "kitchen"
  Services services;
  TestDoor door;
  std::unique_ptr<Conversation> conversation;
};

constexpr const char* kSystem =
    R"({"content":"You are Earshot, a helpful voice assistant in a home. Answer briefly, in plain spoken sentences, without markdown.","role":"system"})";

// --- a call and its answer, the history byte for byte ------------------------------------------

// vLLM with a reasoning parser: the reasoning arrives apart from the content.
ScriptedLlm::Script weather_script() {
  return [](size_t n) -> std::vector<std::string> {
    if (n == 0)
      return std::vector<std::string>{reasoning("User asks weather."), text("Let me check.")} +
             call(0, "chatcmpl-tool-1", "get_weather", R"({"city": "Oslo"})") +
             std::vector<std::string>{kEndWithCalls};
    if (n == 1) return {reasoning("Got it."), text("It is 7 degrees and cloudy in Oslo."), kEnd};
    return {text("You are welcome."), kEnd};
  };
}

void weather_turns(bool keep_think) {
  ScriptedLlm llm(weather_script());
  TestDoor* door = nullptr;
  bool voiced_before_result = false;
  auto tools = std::make_shared<TestTools>([&](const std::string& args, const CancelToken&) {
    // What the model said before the call is voiced while the call runs, not after it.
    voiced_before_result = test::wait_until([&] { return door->said("Let me check."); }, 10s);
    EXPECT_EQ(args, R"({"city": "Oslo"})");
    return ToolResult{true, R"({"temp_c":7,"sky":"cloudy"})"};
  });
  // No filler: the call waits for "Let me check." to be voiced, which takes longer than the
  // filler's 700 ms on a slow machine (flite under qemu-aarch64 in the arm64 suite), and the
  // sentences below would then have "One moment." among them. The filler has its own test.
  ToolSettings no_filler;
  no_filler.filler_after_ms = 0;
  Core core(llm, tools, keep_think, no_filler);
  door = &core.door;
  const TurnReport first = core.turn("What's the weather in Oslo?");
  EXPECT_TRUE(voiced_before_result);
  EXPECT_EQ(tools->calls.load(), 1);
  EXPECT_EQ(tools->last_room, "kitchen");
  EXPECT_EQ(first.error, "");
  EXPECT_EQ(first.reply_full, "Let me check. It is 7 degrees and cloudy in Oslo.");
  EXPECT_EQ(core.door.text(), first.reply_full);  // the steps' texts apart, as the door shows them
  EXPECT_EQ(core.door.sentences(),
            (std::vector<std::string>{"Let me check.", "It is 7 degrees and cloudy in Oslo."}));
  core.turn("Thanks.");

  const std::string think1 = keep_think ? "<think>User asks weather.</think>" : "";
  const std::string think2 = keep_think ? "<think>Got it.</think>" : "";
  const std::vector<json> bodies = llm.bodies();
  ASSERT_EQ(bodies.size(), 3u);
  // Inside the reply: the call and its result go back to the model.
  const std::string step =
      R"({"content":"What's the weather in Oslo?","role":"user"},)"
      R"({"content":")" +
      think1 +
      R"(Let me check.","role":"assistant","tool_calls":[{"function":{"arguments":"{\"city\": \"Oslo\"}","name":"get_weather"},"id":"chatcmpl-tool-1","type":"function"}]},)"
      R"({"content":"{\"temp_c\":7,\"sky\":\"cloudy\"}","role":"tool","tool_call_id":"chatcmpl-tool-1"})";
  EXPECT_EQ(bodies[1]["messages"].dump(), std::string("[") + kSystem + "," + step + "]");
  EXPECT_TRUE(bodies[1].contains("tools"));
  // The next turn: the whole reply, steps and final answer, in the history.
  EXPECT_EQ(bodies[2]["messages"].dump(),
            std::string("[") + kSystem + "," + step + R"(,{"content":")" + think2 +
                R"(It is 7 degrees and cloudy in Oslo.","role":"assistant"},)"
                R"({"content":"Thanks.","role":"user"}])");

  // The call is stored with its turn.
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 2u);
  ASSERT_EQ(stored[0].tool_calls.size(), 1u);
  const ToolCallRecord& c = stored[0].tool_calls[0];
  EXPECT_EQ(c.step, 0);
  EXPECT_EQ(c.call_id, "chatcmpl-tool-1");
  EXPECT_EQ(c.name, "get_weather");
  EXPECT_EQ(c.arguments, R"({"city": "Oslo"})");
  EXPECT_EQ(c.result, R"({"temp_c":7,"sky":"cloudy"})");
  EXPECT_TRUE(c.ok);
  EXPECT_GT(c.duration_ms, 0.0);
  EXPECT_TRUE(stored[1].tool_calls.empty());
}

TEST(ToolLoop, ACallThenTheAnswerAndTheHistoryWithoutThinking) {
  weather_turns(false);
}

TEST(ToolLoop, ACallThenTheAnswerAndTheHistoryKeepsTheReasoning) {
  weather_turns(true);
}

// MiniMax M2 (vLLM's minimax_m2 tool parser, append-think reasoning parser): thinking inline.
TEST(ToolLoop, InterleavedThinkingGoesBackExactlyAsWritten) {
  for (const bool keep : {true, false}) {
    ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
      if (n == 0)
        return {
            text("<think>"),
            text("Weather, so the tool."),
            text("</think>"),
            text("\n\nOne second."),
            vllm(
                R"({"tool_calls":[{"id":"call_0f1e2d3c4b5a69788796a5b4","type":"function","index":0,"function":{"name":"get_weather","arguments":""}}]})"),
            vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"{"}}]})"),
            vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"city\": \"Oslo\""}}]})"),
            vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]})"),
            kEndWithCalls};
      if (n == 1) return {text("<think>7 and cloudy.</think>\n\nSeven degrees, cloudy."), kEnd};
      return {text("Bye."), kEnd};
    });
    auto tools = std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
      return ToolResult{true, "7C cloudy"};
    });
    Core core(llm, tools, keep);
    core.turn("Weather?");
    core.turn("Bye.");
    const std::vector<json> bodies = llm.bodies();
    ASSERT_EQ(bodies.size(), 3u);
    const std::string t1 = keep ? "<think>Weather, so the tool.</think>" : "";
    const std::string t2 = keep ? "<think>7 and cloudy.</think>" : "";
    EXPECT_EQ(
        bodies[2]["messages"].dump(),
        std::string("[") + kSystem + R"(,{"content":"Weather?","role":"user"},{"content":")" + t1 +
            R"(\n\nOne second.","role":"assistant","tool_calls":[{"function":{"arguments":"{\"city\": \"Oslo\"}","name":"get_weather"},"id":"call_0f1e2d3c4b5a69788796a5b4","type":"function"}]},)"
            R"({"content":"7C cloudy","role":"tool","tool_call_id":"call_0f1e2d3c4b5a69788796a5b4"},)"
            R"({"content":")" +
            t2 +
            R"(\n\nSeven degrees, cloudy.","role":"assistant"},{"content":"Bye.","role":"user"}])")
        << "keep_think_in_history = " << keep;
    for (const std::string& s : core.door.sentences())
      EXPECT_EQ(s.find("think"), std::string::npos) << s;  // never spoken
  }
}

// A barge-in during the final answer: the step before it was heard whole and stays as written;
// the answer keeps its thinking and what was heard of its words.
TEST(ToolLoop, ACutAnswerKeepsItsThinkingAndWhatWasHeard) {
  for (const bool keep : {true, false}) {
    ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
      if (n == 0)
        return std::vector<std::string>{text("<think>Need the tool.</think>One second.")} +
               call(0, "call_1", "get_weather", R"({"city": "Oslo"})") +
               std::vector<std::string>{kEndWithCalls};
      if (n == 1)
        return {text("<think>Answer now.</think>It is seven degrees. "),
                text("It will rain later today, so take an umbrella when you go out."), kEnd};
      return {text("Right."), kEnd};
    });
    auto tools = std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
      return ToolResult{true, "7C, rain"};
    });
    Core core(llm, tools, keep);
    core.door.hold_from_sentence(2);
    core.conversation->user_text("Weather?");
    core.conversation->respond();
    ASSERT_TRUE(test::wait_until([&] { return core.door.first_frame(2).has_value(); }, 20s));
    // The client played everything before the third sentence.
    core.door.interrupt(*core.door.first_frame(2) * 20);
    ASSERT_TRUE(test::wait_until([&] { return !core.door.turns().empty(); }, 20s));
    const TurnReport r = core.door.turns()[0];
    EXPECT_TRUE(r.interrupted);
    EXPECT_EQ(r.reply_heard, "One second. It is seven degrees.");
    core.turn("And tomorrow?");
    const std::string t1 = keep ? "<think>Need the tool.</think>" : "";
    const std::string t2 = keep ? "<think>Answer now.</think>" : "";
    EXPECT_EQ(
        llm.bodies().at(2)["messages"].dump(),
        std::string("[") + kSystem + R"(,{"content":"Weather?","role":"user"},{"content":")" + t1 +
            R"(One second.","role":"assistant","tool_calls":[{"function":{"arguments":"{\"city\": \"Oslo\"}","name":"get_weather"},"id":"call_1","type":"function"}]},)"
            R"({"content":"7C, rain","role":"tool","tool_call_id":"call_1"},)"
            R"({"content":")" +
            t2 +
            R"(It is seven degrees.","role":"assistant"},)"
            R"({"content":"And tomorrow?","role":"user"}])")
        << "keep_think_in_history = " << keep;
  }
}

// --- calls that go wrong
// --------------------------------------------------------------------------

TEST(ToolLoop, MalformedArgumentsGoBackToTheModelAsAnError) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0)
      return call(0, "chatcmpl-tool-9", "get_weather", R"({"city": "Oslo")") +
             call(1, "chatcmpl-tool-10", "get_stock_price", R"({"ticker": "X"})") +
             std::vector<std::string>{kEndWithCalls};
    return {text("Sorry, I could not look that up."), kEnd};
  });
  auto tools = std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
    return ToolResult{true, "never"};
  });
  Core core(llm, tools, false);
  const TurnReport r = core.turn("Weather?");
  EXPECT_EQ(tools->calls.load(), 0);
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(core.door.said("Sorry, I could not look that up."));
  const std::vector<json> bodies = llm.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  // The history holds JSON the servers accept; the result quotes what the model wrote.
  EXPECT_EQ(bodies[1]["messages"][2]["tool_calls"][0]["function"]["arguments"], "{}");
  EXPECT_EQ(bodies[1]["messages"][3]["content"],
            R"(error: the arguments are not valid JSON: {"city": "Oslo")");
  EXPECT_EQ(bodies[1]["messages"][4]["content"],
            R"(error: there is no tool named "get_stock_price")");
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 1u);
  ASSERT_EQ(stored[0].tool_calls.size(), 2u);
  EXPECT_FALSE(stored[0].tool_calls[0].ok);
  EXPECT_EQ(stored[0].tool_calls[0].arguments, R"({"city": "Oslo")");
}

TEST(ToolLoop, AModelThatKeepsCallingStopsAtMaxSteps) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    return call(0, "chatcmpl-tool-" + std::to_string(n), "get_weather", R"({"city": "Oslo"})") +
           std::vector<std::string>{kEndWithCalls};
  });
  auto tools = std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
    return ToolResult{true, "7C"};
  });
  ToolSettings settings;
  settings.max_steps = 2;
  Core core(llm, tools, false, settings);
  const TurnReport r = core.turn("Weather?");
  EXPECT_EQ(tools->calls.load(), 2);
  const std::vector<json> bodies = llm.bodies();
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_TRUE(bodies[1].contains("tools"));
  EXPECT_FALSE(bodies[2].contains("tools"));  // the last request asks for words
  EXPECT_NE(r.error.find("tools.max_steps (2)"), std::string::npos) << r.error;
  EXPECT_EQ(core.door.sentences(), (std::vector<std::string>{"Sorry, I can't answer right now."}));
  EXPECT_EQ(r.tool_calls.size(), 2u);
}

TEST(ToolLoop, ASlowToolGetsTheFillerAndItStaysOutOfTheHistory) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0)
      return call(0, "chatcmpl-tool-1", "get_weather", R"({"city": "Oslo"})") +
             std::vector<std::string>{kEndWithCalls};
    if (n == 1) return {text("Seven degrees."), kEnd};
    return {text("Bye."), kEnd};
  });
  TestDoor* door = nullptr;
  bool filler_heard = false;
  auto tools = std::make_shared<TestTools>([&](const std::string&, const CancelToken&) {
    filler_heard = test::wait_until([&] { return door->said("Hold on."); }, 10s);
    return ToolResult{true, "7C"};
  });
  ToolSettings settings;
  settings.filler_after_ms = 50;
  settings.filler = "Hold on.";
  Core core(llm, tools, false, settings);
  door = &core.door;
  const TurnReport r = core.turn("Weather?");
  EXPECT_TRUE(filler_heard);
  EXPECT_EQ(core.door.sentences(), (std::vector<std::string>{"Hold on.", "Seven degrees."}));
  EXPECT_EQ(r.reply_heard, "Seven degrees.");
  core.turn("Bye.");
  EXPECT_EQ(llm.bodies().at(2)["messages"].dump().find("Hold on"), std::string::npos);
}

TEST(ToolLoop, BargeInDuringACallCancelsItAndNothingIsSaidAfter) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0)
      return std::vector<std::string>{text("Let me look.")} +
             call(0, "chatcmpl-tool-1", "get_weather", R"({"city": "Oslo"})") +
             std::vector<std::string>{kEndWithCalls};
    return {text("It is seven degrees."), kEnd};
  });
  std::atomic<bool> running{false}, cancel_seen{false};
  auto tools = std::make_shared<TestTools>([&](const std::string&, const CancelToken& cancel) {
    running = true;
    cancel_seen = test::wait_until([&] { return cancel.cancelled(); }, 20s);
    return ToolResult{true, "too late"};
  });
  ToolSettings settings;
  settings.filler_after_ms = 50;
  settings.call_timeout_ms = 30000;
  Core core(llm, tools, false, settings);
  core.conversation->user_text("Weather?");
  core.conversation->respond();
  // The person speaks once the call runs and the filler has been said.
  ASSERT_TRUE(
      test::wait_until([&] { return running.load() && core.door.said("One moment."); }, 20s));
  core.door.interrupt();
  ASSERT_TRUE(test::wait_until([&] { return !core.door.turns().empty(); }, 20s));
  EXPECT_TRUE(cancel_seen.load());
  EXPECT_EQ(llm.bodies().size(), 1u);  // the model was not asked again
  EXPECT_TRUE(core.door.sentences_after_interrupt().empty());
  EXPECT_LE(core.door.frames_after_interrupt(), 1u);  // at most the frame being handed over
  const TurnReport r = core.door.turns()[0];
  EXPECT_TRUE(r.interrupted);
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].result, "error: cancelled");
  EXPECT_FALSE(r.tool_calls[0].ok);
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(stored[0].interrupted);
  ASSERT_EQ(stored[0].tool_calls.size(), 1u);
  EXPECT_EQ(stored[0].tool_calls[0].name, "get_weather");
  EXPECT_EQ(stored[0].tool_calls[0].result, "error: cancelled");
  // The next request holds the call and its cancelled result, then the new turn.
  core.turn("Never mind.");
  const json messages = llm.bodies().at(1)["messages"];
  ASSERT_EQ(messages.size(), 5u);
  EXPECT_EQ(messages[2]["tool_calls"][0]["id"], "chatcmpl-tool-1");
  EXPECT_EQ(messages[3]["content"], "error: cancelled");
  EXPECT_EQ(messages[4]["content"], "Never mind.");
}

// A client that floods played reports (of a reply long gone) does not cost the reports a reply
// depends on: here the person barges in after the flood, and the reply is still stored as cut.
// Both come while the responder is inside the model step (the tool call), where it reads no
// reports. Until 2026-12-01 the 65th report filled the responder's event queue and every later
// event was refused: the barge-in's report was lost and the cut reply kept as heard in full, and
// had the voice stage's result been refused, the turn would have waited for it for good.
TEST(ToolLoop, AFloodOfPlayedReportsDoesNotCostTheReportsAReplyWaitsFor) {
  ScriptedLlm llm(weather_script());
  TestDoor* door = nullptr;
  auto tools = std::make_shared<TestTools>([&](const std::string&, const CancelToken& cancel) {
    EXPECT_TRUE(test::wait_until([&] { return door->said("Let me check."); }, 10s));
    for (uint64_t i = 0; i < 500; ++i)
      door->conversation->played({"reply-long-gone", 20 * i, std::nullopt});
    door->interrupt();
    EXPECT_TRUE(test::wait_until([&] { return cancel.cancelled(); }, 10s));
    return ToolResult{true, R"({"temp_c":7,"sky":"cloudy"})"};
  });
  ToolSettings no_filler;
  no_filler.filler_after_ms = 0;
  Core core(llm, tools, false, no_filler);
  door = &core.door;
  const TurnReport cut = core.turn("What's the weather in Oslo?");
  ASSERT_EQ(core.door.turns().size(), 1u) << "the reply never finished";
  EXPECT_TRUE(cut.interrupted);
  EXPECT_EQ(llm.bodies().size(), 1u);  // the model was not asked again
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(stored[0].interrupted);
  // And the conversation goes on.
  EXPECT_FALSE(core.turn("Thanks.").interrupted);
  EXPECT_EQ(core.door.turns().size(), 2u);
}

// A model that runs far ahead of the voice (a runaway answer of 300 sentences, the voice held in
// the first) fills the voice stage's queue: later sentences are dropped, but the reply's closing
// job still gets in, so the turn ends once the person speaks over it. Until 2026-12-01 the closing
// job was refused too, and the turn waited for the voice stage until the client left.
TEST(ToolLoop, ARunawayAnswerThatFillsTheVoiceQueueStillEnds) {
  constexpr int kSentences = 300;
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n > 0) return {text("Sure."), kEnd};
    std::vector<std::string> chunks;
    for (int i = 0; i < kSentences; ++i)
      chunks.push_back(text("This is sentence number " + std::to_string(i) +
                            " of an answer that runs on and on. "));
    chunks.push_back(kEnd);
    return chunks;
  });
  Core core(llm, std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
              return ToolResult{false, "unused"};
            }),
            false);
  core.door.hold_from_sentence(0);  // the voice waits in the door from its first frame
  core.conversation->user_text("Tell me everything.");
  core.conversation->respond();
  ASSERT_TRUE(test::wait_until(
      [&] {
        return core.door.text().find("number " + std::to_string(kSentences - 1)) !=
               std::string::npos;
      },
      30s));
  core.door.interrupt();  // the person speaks: the held frame goes, the rest is cut
  ASSERT_TRUE(test::wait_until([&] { return !core.door.turns().empty(); }, 30s))
      << "the turn never ended";
  EXPECT_TRUE(core.door.turns()[0].interrupted);
  core.door.hold_from_sentence(-1);
  EXPECT_EQ(core.turn("Thanks.").reply_heard, "Sure.");
}

// --- conversation memory (host/conversation/memory.h) ----------------------------------------

// A tool that is offered and never called.
std::shared_ptr<ToolProvider> no_tools() {
  return std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
    return ToolResult{false, "unused"};
  });
}

// Three turns, the first with a tool call; with `reconnect`, the node's session ends after each
// turn and a new one goes on. Returns the last request's messages.
std::string three_turns(bool keep_think, bool reconnect, ReplySettings reply = {}) {
  ScriptedLlm llm(weather_script());
  auto tools = std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
    return ToolResult{true, R"({"temp_c":7,"sky":"cloudy"})"};
  });
  Core core(llm, tools, keep_think, {}, reply);
  core.turn("What's the weather in Oslo?");
  if (reconnect) core.reconnect("c2");
  core.turn("Thanks.");
  if (reconnect) core.reconnect("c3");
  core.turn("Bye.");
  const std::vector<json> bodies = llm.bodies();
  EXPECT_EQ(bodies.size(), 4u);
  return bodies.empty() ? "" : bodies.back()["messages"].dump();
}

// A node that reconnects goes on where it was: the next request is byte for byte the one it
// would have sent had the connection never dropped — tool calls, results and, with
// keep_think_in_history, the thinking included.
TEST(Memory, ANodeThatReconnectsContinuesByteForByte) {
  for (const bool keep : {false, true}) {
    const std::string continuous = three_turns(keep, false);
    EXPECT_NE(continuous.find("Let me check."), std::string::npos) << continuous;
    EXPECT_NE(continuous.find("You are welcome."), std::string::npos) << continuous;
    EXPECT_EQ(continuous.find("<think>") != std::string::npos, keep) << continuous;
    EXPECT_EQ(three_turns(keep, true), continuous) << "keep_think_in_history = " << keep;
  }
}

// The client's connection ends just as the core begins its reply, before the door heard of it: the
// door reports the client gone with no reply of its own. The reply is kept as cut at nothing, in
// the store and in what the model is told next, not as heard in full.
TEST(Memory, AReplyBegunAsTheClientLeftIsKeptAsHeardAtNothing) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0) return {text("It is seven o'clock."), kEnd};
    return {text("Sure."), kEnd};
  });
  Core core(llm, std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
              return ToolResult{true, "{}"};
            }),
            false);
  core.door.leave_as_a_reply_starts = true;
  const TurnReport cut = core.turn("What time is it?");
  EXPECT_TRUE(cut.interrupted);
  EXPECT_EQ(cut.reply_heard, "");
  core.turn("Thanks.");
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].reply, "");
  const std::vector<json> bodies = llm.bodies();
  ASSERT_GE(bodies.size(), 1u);
  EXPECT_EQ(bodies.back()["messages"].dump().find("seven o'clock"), std::string::npos)
      << bodies.back()["messages"].dump();
}

// The client leaves while the reply is still being voiced, and its door reports what it had sent
// (client_gone). The reply is kept as heard that far, not at nothing: the voice stage's account of
// the reply (where each sentence starts) reaches the turn before the conversation closes. Until
// 2026-12-01 stop() closed the responder's events before stopping the voice stage, that account
// was lost, and the reply was kept at nothing.
TEST(Memory, AReplyCutByTheClientLeavingMidVoiceIsKeptAsFarAsItWasSent) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0) return {text("It is seven o'clock in the morning. The sun is up."), kEnd};
    return {text("Sure."), kEnd};
  });
  Core core(llm, no_tools(), false);
  core.door.hold_from_sentence(1);  // the second sentence's first frame waits in the door
  core.conversation->user_text("What time is it?");
  core.conversation->respond();
  ASSERT_TRUE(test::wait_until([&] { return core.door.first_frame(1).has_value(); }, 30s));
  const uint64_t sent = core.door.frames();  // the first sentence, whole
  core.conversation->client_gone({core.door.current_reply(), std::nullopt, sent});
  // The conversation stops while the voice stage is still inside the second sentence; it gets
  // out once the door lets go (the connection is gone).
  std::thread stopping([&] { core.conversation->stop(); });
  EXPECT_TRUE(test::wait_until(
      [&] {
        const std::vector<SessionRecord> sessions = core.store->sessions("n1");
        return !sessions.empty() && sessions[0].ended_at_ms != 0;
      },
      30s));
  core.door.leave();
  stopping.join();
  const std::vector<TurnReport> turns = core.door.turns();
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_TRUE(turns[0].interrupted);
  EXPECT_EQ(turns[0].reply_heard, "It is seven o'clock in the morning.");
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].reply, "It is seven o'clock in the morning.");
  EXPECT_TRUE(stored[0].interrupted);
}

// The person speaks over a reply the voice stage has finished but the client is still playing,
// and the client never says where it stopped (an earshot.v1 node that does not answer the
// bridge's interrupt). The reply is kept as heard up to the frames on the wire at the cut, not in
// full, once the played report's wait is over. Until 2026-12-01 it was kept whole.
TEST(Memory, AReplyCutAfterItWasVoicedWithNoPointIsKeptAtTheFramesOnTheWire) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0) return {text("It is seven o'clock in the morning. The sun is up."), kEnd};
    return {text("Sure."), kEnd};
  });
  ReplySettings reply;
  reply.played_report_timeout_ms = 100;
  Core core(llm, no_tools(), false, {}, reply);
  core.door.silent_at_end = true;
  core.conversation->user_text("What time is it?");
  core.conversation->respond();
  ASSERT_TRUE(test::wait_until([&] { return core.door.audio_ended(); }, 30s));
  // Only the first sentence had left the bridge when the person spoke.
  const std::optional<uint64_t> second = core.door.first_frame(1);
  ASSERT_TRUE(second.has_value());
  core.conversation->interrupt({core.door.current_reply(), std::nullopt, *second});
  ASSERT_TRUE(test::wait_until([&] { return !core.door.turns().empty(); }, 30s));
  const TurnReport cut = core.door.turns()[0];
  EXPECT_TRUE(cut.interrupted);
  EXPECT_EQ(cut.reply_heard, "It is seven o'clock in the morning.");
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].reply, "It is seven o'clock in the morning.");
}

// The client's connection ends while a reply plays and the door does not report it (no
// client_gone): the conversation stops with the reply waiting for its played report. It is kept as
// cut at nothing — in the turn, the store and what the model is told next — not as heard in full.
TEST(Memory, AReplyInFlightWhenTheConversationStopsUnreportedIsKeptAsHeardAtNothing) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0) return {text("It is seven o'clock."), kEnd};
    return {text("Sure."), kEnd};
  });
  Core core(llm, no_tools(), false);
  core.door.hold_until_left();
  core.conversation->user_text("What time is it?");
  core.conversation->respond();
  ASSERT_TRUE(test::wait_until([&] { return core.door.holding(); }, 30s));
  core.door.leave();
  core.conversation->stop();  // the door said nothing: no played report, no client_gone
  const std::vector<TurnReport> turns = core.door.turns();
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0].reply_full, "It is seven o'clock.");
  EXPECT_TRUE(turns[0].interrupted);
  EXPECT_EQ(turns[0].reply_heard, "");
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].reply, "");
  EXPECT_TRUE(stored[0].interrupted);
  // The next session continues from the history: the question, not the answer nobody heard.
  core.door.hold_until_left(false);
  core.reconnect("c2");
  core.turn("Thanks.");
  const std::vector<json> bodies = llm.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  const std::string next = bodies[1]["messages"].dump();
  EXPECT_NE(next.find("What time is it?"), std::string::npos) << next;
  EXPECT_EQ(next.find("seven o'clock"), std::string::npos) << next;
}

// The first session's one reply was kept as heard in full: stored so, not interrupted, and in the
// history the next session's first request sends.
void expect_kept_whole(Core& core, ScriptedLlm& llm, const std::string& reply) {
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].reply, reply);
  EXPECT_FALSE(stored[0].interrupted);
  core.reconnect("c2");
  core.turn("Thanks.");
  const std::vector<json> bodies = llm.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_NE(bodies[1]["messages"].dump().find(reply), std::string::npos)
      << bodies[1]["messages"].dump();
}

// A client that said it played the reply through, without a point (a Wyoming satellite's
// `played`), then left before the core stopped waiting: the reply stays heard in full.
TEST(Memory, AReplyReportedPlayedWithoutAPointStaysWholeWhenTheConversationStops) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0) return {text("It is seven o'clock."), kEnd};
    return {text("Sure."), kEnd};
  });
  ReplySettings reply;
  reply.played_report_timeout_ms = 600000;  // the core is still waiting when the client leaves
  Core core(llm, no_tools(), false, {}, reply);
  core.door.played_without_point = true;
  core.conversation->user_text("What time is it?");
  core.conversation->respond();
  ASSERT_TRUE(test::wait_until([&] { return core.door.reported_played(); }, 30s));
  EXPECT_TRUE(core.door.turns().empty());  // still waiting, for the point that will not come
  core.conversation->stop();
  const std::vector<TurnReport> turns = core.door.turns();
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_FALSE(turns[0].interrupted);
  EXPECT_EQ(turns[0].reply_heard, "It is seven o'clock.");
  core.door.played_without_point = false;  // the next reply's report ends the core's wait
  expect_kept_whole(core, llm, "It is seven o'clock.");
}

// A text-only reply (speak off: a Realtime client asking for output_modalities ["text"]) is
// delivered with its text; nothing is played, nothing reported. The client leaving, the door
// saying nothing, and the conversation stopping do not make it unheard.
TEST(Memory, ATextOnlyReplyStaysWholeWhenTheClientLeaves) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    if (n == 0) return {text("It is seven o'clock."), kEnd};
    return {text("Sure."), kEnd};
  });
  Core core(llm, no_tools(), false);
  ConversationSettings text_only = core.conversation->settings();
  text_only.speak = false;
  core.conversation->update(text_only);
  const TurnReport first = core.turn("What time is it?");
  EXPECT_EQ(core.door.frames(), 0u);  // not spoken
  EXPECT_FALSE(first.interrupted);
  EXPECT_EQ(first.reply_heard, "It is seven o'clock.");
  core.conversation->stop();  // the door says nothing
  expect_kept_whole(core, llm, "It is seven o'clock.");
}

// A text reply (speak off) stopped while the model is still at it — here by the client's cancel
// during a tool call, after the model's first words — is kept as far as it was delivered and
// marked as cut, in the turn and the store. Until 2026-12-01 it was kept as a whole reply.
TEST(Memory, ATextReplyCutShortIsKeptAsFarAsItWentAndMarkedCut) {
  ScriptedLlm llm(weather_script());
  Conversation* conversation = nullptr;
  auto tools = std::make_shared<TestTools>([&](const std::string&, const CancelToken& cancel) {
    conversation->interrupt({"", std::nullopt, std::nullopt});  // as response.cancel reaches it
    EXPECT_TRUE(test::wait_until([&] { return cancel.cancelled(); }, 10s));
    return ToolResult{true, "too late"};
  });
  Core core(llm, tools, false);
  conversation = core.conversation.get();
  ConversationSettings text_only = core.conversation->settings();
  text_only.speak = false;
  core.conversation->update(text_only);
  const TurnReport cut = core.turn("What's the weather in Oslo?");
  EXPECT_EQ(core.door.frames(), 0u);  // not spoken
  EXPECT_TRUE(cut.interrupted);
  EXPECT_EQ(cut.reply_heard, "Let me check.");
  EXPECT_EQ(llm.bodies().size(), 1u);  // the model was not asked again
  const std::vector<TurnRecord> stored = core.store->turns("c1");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_TRUE(stored[0].interrupted);
  EXPECT_EQ(stored[0].reply, "Let me check.");
}

// reply.memory = "session": a new session starts a new conversation (as before the memory).
TEST(Memory, SessionMemoryStartsAfreshOnReconnect) {
  ReplySettings reply;
  reply.memory = "session";
  EXPECT_EQ(three_turns(false, true, reply),
            std::string("[") + kSystem + R"(,{"content":"Bye.","role":"user"}])");
}

// A Realtime client's id is new for every connection: it gets per-session memory only, and
// writes nothing to the store.
TEST(Memory, ARealtimeClientKeepsNoMemoryBeyondItsSession) {
  ScriptedLlm llm([](size_t) -> std::vector<std::string> { return {text("Hi."), kEnd}; });
  Core core(llm, no_tools(), false);
  core.reconnect("rt1", "realtime-rt1");
  core.turn("Remember this.");
  core.reconnect("rt2", "realtime-rt2");
  core.turn("What did I say?");
  EXPECT_EQ(llm.bodies().at(1)["messages"].dump(),
            std::string("[") + kSystem + R"(,{"content":"What did I say?","role":"user"}])");
  StoredMemory m;
  std::string error;
  ASSERT_TRUE(core.store->load_memory("node:realtime-rt1", &m, &error)) << error;
  EXPECT_EQ(m.updated_at_ms, 0);
}

// Past reply.memory_idle_minutes without a turn, the next one starts a new conversation — in the
// same session and after a reconnect alike.
TEST(Memory, AfterTheIdleTimeoutANewConversationStarts) {
  ScriptedLlm llm([](size_t) -> std::vector<std::string> { return {text("Okay."), kEnd}; });
  ReplySettings reply;
  reply.memory_idle_minutes = 0.05;  // 3 s
  Core core(llm, no_tools(), false, {}, reply);
  core.turn("One.");
  core.turn("Two.");  // within the timeout (a turn takes far less than 3 s here)
  StoredMemory m;
  std::string error;
  ASSERT_TRUE(core.store->load_memory("node:n1", &m, &error)) << error;
  const int64_t written = m.updated_at_ms;
  ASSERT_GT(written, 0);
  ASSERT_TRUE(test::wait_until([&] { return wall_ms() > written + 3100; }, 10s));
  core.reconnect("c2");
  core.turn("Three.");
  const std::vector<json> bodies = llm.bodies();
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[1]["messages"].size(), 4u);  // system, One, Okay, Two
  EXPECT_EQ(bodies[2]["messages"].dump(),
            std::string("[") + kSystem + R"(,{"content":"Three.","role":"user"}])");
  // The stored memory is the new conversation's.
  ASSERT_TRUE(core.store->load_memory("node:n1", &m, &error)) << error;
  ASSERT_EQ(m.messages.size(), 2u);
  EXPECT_EQ(m.messages[0].content, "Three.");
}

// reply.memory = "room": two nodes of one room, both connected, hold one conversation.
TEST(Memory, TwoNodesOfARoomShareOneConversation) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    return {text(n == 0 ? "The oven is at 200." : "Twenty minutes."), kEnd};
  });
  ReplySettings reply;
  reply.memory = "room";
  Core core(llm, no_tools(), false, {}, reply);
  TestDoor door2;
  auto second = core.open_session(door2, "c2", "n2", "kitchen");
  core.turn("How hot is the oven?");
  const size_t before = door2.turns().size();
  second->user_text("How long for the bread?");
  second->respond();
  ASSERT_TRUE(test::wait_until([&] { return door2.turns().size() > before; }, 30s));
  second->stop();
  EXPECT_EQ(llm.bodies().at(1)["messages"].dump(),
            std::string("[") + kSystem +
                R"(,{"content":"How hot is the oven?","role":"user"},)"
                R"({"content":"The oven is at 200.","role":"assistant"},)"
                R"({"content":"How long for the bread?","role":"user"}])");
  StoredMemory m;
  std::string error;
  ASSERT_TRUE(core.store->load_memory("room:kitchen", &m, &error)) << error;
  EXPECT_EQ(m.messages.size(), 4u);
  ASSERT_TRUE(core.store->load_memory("node:n1", &m, &error)) << error;
  EXPECT_EQ(m.updated_at_ms, 0);  // nothing kept per node in room mode
}

// The stored memory is bounded by history_turns like the live one: whole turns leave it.
TEST(Memory, TheMemoryIsBoundedByHistoryTurns) {
  ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
    return {text("Answer " + std::to_string(n) + "."), kEnd};
  });
  ReplySettings reply;
  reply.history_turns = 2;
  Core core(llm, no_tools(), false, {}, reply);
  for (int i = 0; i < 4; ++i) {
    core.turn("Question " + std::to_string(i) + ".");
    core.reconnect("c" + std::to_string(i + 2));
  }
  core.turn("Question 4.");
  EXPECT_EQ(llm.bodies().at(4)["messages"].dump(),
            std::string("[") + kSystem +
                R"(,{"content":"Question 3.","role":"user"},)"
                R"({"content":"Answer 3.","role":"assistant"},)"
                R"({"content":"Question 4.","role":"user"}])");
  StoredMemory m;
  std::string error;
  ASSERT_TRUE(core.store->load_memory("node:n1", &m, &error)) << error;
  ASSERT_EQ(m.messages.size(), 4u);  // two turns: Question 3 and 4 with their answers
  EXPECT_EQ(m.messages[0].content, "Question 3.");
}

// A barge-in cuts the reply to what was heard, and a played report that comes after the reply
// was over (just before the client leaves) cuts it later: both reach the stored memory, so the
// next session sends what was heard, with the thinking when it is kept.
TEST(Memory, WhatWasHeardReachesTheMemoryAfterABargeInAndALatePlayedReport) {
  for (const bool keep : {false, true}) {
    ScriptedLlm llm([](size_t n) -> std::vector<std::string> {
      if (n == 0)
        return {text("<think>Answer now.</think>It is seven degrees and cloudy in Oslo today. "),
                text("It will rain later today, so take an umbrella when you go out."), kEnd};
      if (n == 1)
        return {text("First sentence here is long enough to split. "),
                text("Second sentence is never heard by anyone."), kEnd};
      return {text("Right."), kEnd};
    });
    Core core(llm, no_tools(), keep);
    core.door.hold_from_sentence(1);
    core.conversation->user_text("Weather?");
    core.conversation->respond();
    ASSERT_TRUE(test::wait_until([&] { return core.door.first_frame(1).has_value(); }, 20s));
    core.door.interrupt(*core.door.first_frame(1) * 20);
    ASSERT_TRUE(test::wait_until([&] { return !core.door.turns().empty(); }, 20s));
    // Played to its end as far as the door knew; then the client says it stopped after the
    // first sentence (a late truncate).
    core.door.hold_from_sentence(-1);
    const TurnReport second = core.turn("More?");
    ASSERT_TRUE(core.door.first_frame(1).has_value());
    core.conversation->played({second.reply_id, *core.door.first_frame(1) * 20, std::nullopt});
    const std::string t = keep ? "<think>Answer now.</think>" : "";
    const std::string expected =
        std::string("[") + kSystem + R"(,{"content":"Weather?","role":"user"},)" +
        R"({"content":")" + t +
        R"(It is seven degrees and cloudy in Oslo today.","role":"assistant"},)" +
        R"({"content":"More?","role":"user"},)" +
        R"({"content":"First sentence here is long enough to split.","role":"assistant"},)" +
        R"({"content":"Again.","role":"user"}])";
    // The client leaves right after its report: the next session continues from what was heard.
    core.reconnect("c2");
    core.turn("Again.");
    StoredMemory m;
    std::string error;
    EXPECT_EQ(llm.bodies().at(2)["messages"].dump(), expected) << "keep = " << keep;
    ASSERT_TRUE(core.store->load_memory("node:n1", &m, &error)) << error;
    ASSERT_GE(m.messages.size(), 4u);
    EXPECT_EQ(m.messages[1].content, t + "It is seven degrees and cloudy in Oslo today.");
    EXPECT_EQ(m.messages[3].content, "First sentence here is long enough to split.");
  }
}

}  // namespace
}  // namespace earshot::host

namespace earshot::host {
namespace {

// --- speech nobody asked for ---------------------------------------------------------------------

// A timer going off or the announce tool: the conversation speaks through its room, unprompted, as
// a reply of its own; a barge-in stops it and keeps what was heard; the model never sees it.
TEST(ToolLoop, AnAnnouncementIsSpokenUnaskedStopsAtABargeInAndStaysOutOfTheHistory) {
  ScriptedLlm llm([](size_t) -> std::vector<std::string> { return {text("Sure."), kEnd}; });
  auto tools = std::make_shared<TestTools>([](const std::string&, const CancelToken&) {
    return ToolResult{true, "{}"};
  });
  Core core(llm, tools, false);
  const std::string done = "Your 2 second pasta timer is done.";
  EXPECT_EQ(core.rooms.announce("office", done), 0u);  // another room: nobody
  ASSERT_EQ(core.rooms.announce("kitchen", done), 1u);
  ASSERT_TRUE(test::wait_until([&] { return core.door.turns().size() == 1; }, 20s));
  const TurnReport first = core.door.turns()[0];
  EXPECT_EQ(first.turn_id, "a1");
  EXPECT_EQ(core.door.announcements(), std::vector<std::string>{first.reply_id});
  EXPECT_TRUE(core.door.said(done));
  EXPECT_GT(core.door.frames(), 0u);
  EXPECT_FALSE(first.interrupted);
  EXPECT_EQ(first.reply_heard, done);

  // A long one, cut after its first sentence.
  core.door.hold_from_sentence(1);
  ASSERT_EQ(core.rooms.announce("",
                                "The washing machine is done. Please take the laundry out "
                                "now. It has been waiting for a while."),
            1u);
  ASSERT_TRUE(test::wait_until([&] { return core.door.first_frame(1).has_value(); }, 20s));
  core.door.interrupt(*core.door.first_frame(1) * 20);
  ASSERT_TRUE(test::wait_until([&] { return core.door.turns().size() == 2; }, 20s));
  const TurnReport cut = core.door.turns()[1];
  EXPECT_EQ(cut.turn_id, "a2");
  EXPECT_TRUE(cut.interrupted);
  EXPECT_EQ(cut.reply_heard, "The washing machine is done.");
  EXPECT_TRUE(core.door.sentences_after_interrupt().empty());
  EXPECT_EQ(core.door.frames_after_interrupt(), 0u);

  // The model's next request holds neither; the store has no turn for them.
  core.turn("Thanks.");
  EXPECT_EQ(llm.bodies().at(0)["messages"].dump(),
            std::string("[") + kSystem + R"(,{"content":"Thanks.","role":"user"}])");
  EXPECT_EQ(core.store->turns("c1").size(), 1u);
}

}  // namespace
}  // namespace earshot::host
