// The xiaozhi door (host/doors/xiaozhi_door.h) against a scripted conversation: what the box's
// messages become in the core's calls, and what the core's sink calls become on the wire — the
// firmware's order around a reply, when tts stop may go out, barge-in, and bad input. The real
// core and a box written from the firmware's documents drive it end to end in
// tests/integration/xiaozhi_test.cpp.
#include "host/doors/xiaozhi_door.h"

#include <gtest/gtest.h>
#include <opus/opus.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <future>
#include <thread>

#include "host/doors/device_tool_provider.h"
#include "protocol/messages.h"

namespace earshot::host {
namespace {

using nlohmann::json;

// Records what the door asks of its conversation.
class ScriptedConversation : public ConversationPort {
 public:
  std::vector<std::string> calls;
  std::vector<uint64_t> seqs;
  std::vector<ConversationSettings> settings;
  bool start(std::string*) override { return true; }
  void stop() override {}
  void audio(const AudioIn& f) override { seqs.push_back(f.seq); }
  void commit_input() override { calls.push_back("commit"); }
  void clear_input() override {}
  void user_text(const std::string&) override {}
  void respond() override {}
  void interrupt(const PlayedReport& r) override {
    calls.push_back("interrupt " + r.reply_id + " " + std::to_string(r.played_ms.value_or(-1)));
  }
  void played(const PlayedReport& r) override {
    calls.push_back("played " + r.reply_id + " " + std::to_string(r.played_ms.value_or(-1)));
  }
  void client_gone(const PlayedReport& w) override {
    calls.push_back("client_gone " + w.reply_id + " on_wire " +
                    std::to_string(w.frames_on_wire.value_or(0)));
  }
  void first_frame_sent(const std::string& reply_id, int64_t) override {
    calls.push_back("first_frame_sent " + reply_id);
  }
  void update(const ConversationSettings& s) override {
    calls.push_back("update");
    settings.push_back(s);
  }
  Conversation::InputPace input_pace() const override { return Conversation::InputPace::kResume; }
};

class XiaozhiDoorTest : public ::testing::Test {
 protected:
  void open(int version = 2) {
    Outbox::Limits limits;
    limits.lead_ms = 0;
    outbox = std::make_shared<Outbox>(limits, [] {});
    XiaozhiDoor::Config config;
    config.session_id = "s1-1";
    config.device_id = "aa:bb:cc:dd:ee:01";
    config.version = version;
    config.conversation.client_id = "xiaozhi-aabbccddee01";
    config.first_seq = 41;  // the box's earlier connections delivered up to 40
    config.conversation.conversation_id = "s1-1";
    config.tool_registry = &registry;
    door = std::make_shared<XiaozhiDoor>(
        config, outbox,
        [this](ConversationSink&, const ConversationSettings& s) {
          auto p = std::make_unique<ScriptedConversation>();
          port = p.get();
          first = s;
          return p;
        },
        metrics, now);
  }
  void TearDown() override {
    if (door) door->stop();
  }
  void hello(bool mcp = true) {
    text({{"type", "hello"},
          {"version", 2},
          {"features", {{"mcp", mcp}}},
          {"transport", "websocket"},
          {"audio_params",
           {{"format", "opus"}, {"sample_rate", 16000}, {"channels", 1}, {"frame_duration", 60}}}});
  }
  void text(const json& j) { door->on_text(j.dump(), now); }
  void listen(const std::string& state, const std::string& mode = "") {
    json j = {{"session_id", "s1-1"}, {"type", "listen"}, {"state", state}};
    if (!mode.empty()) j["mode"] = mode;
    text(j);
  }
  // A 60 ms Opus packet in binary protocol 2's framing.
  std::string packet() {
    int err = 0;
    OpusEncoder* enc = opus_encoder_create(16000, 1, OPUS_APPLICATION_VOIP, &err);
    std::vector<float> pcm(960, 0.1f);
    unsigned char opus[1500];
    const int n = opus_encode_float(enc, pcm.data(), 960, opus, sizeof opus);
    opus_encoder_destroy(enc);
    std::string out = {0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, char(n >> 8), char(n & 0xff)};
    out.append(reinterpret_cast<char*>(opus), size_t(n));
    return out;
  }
  void binary(const std::string& bytes) {
    door->on_binary(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), now);
  }
  // What the door wrote, in order: a JSON message's "type[:state]", or "audio".
  std::vector<std::string> wire(std::vector<json>* messages = nullptr) {
    std::vector<std::string> out;
    OutItem item;
    while (outbox->pop_ready(INT64_MAX / 2, &item)) {
      if (item.binary) {
        out.push_back("audio");
        continue;
      }
      const json j = json::parse(item.bytes);
      EXPECT_EQ(j["session_id"], "s1-1") << item.bytes;
      out.push_back(j["type"].get<std::string>() +
                    (j.contains("state") ? ":" + j["state"].get<std::string>() : ""));
      if (messages) messages->push_back(j);
    }
    return out;
  }
  // A box in auto mode, with the first two 60 ms packets of reply r1 written to it.
  void two_packets_of_r1_sent() {
    open();
    hello(false);
    listen("start", "auto");
    wire();
    door->reply_started("r1", "t1");
    door->reply_audio_started("r1", "t1");
    voice("r1", 6);  // two packets
    EXPECT_EQ(wire(), (std::vector<std::string>{"llm", "tts:start", "audio", "audio"}));
  }
  // The core voices `frames` 20 ms frames of reply at 24 kHz.
  void voice(const std::string& reply_id, int frames) {
    std::vector<float> pcm(480);
    for (int f = 0; f < frames; ++f) {
      for (size_t i = 0; i < pcm.size(); ++i)
        pcm[i] = 0.3f * std::sin(float(i) * 0.05f);
      door->reply_audio(reply_id, uint64_t(f), pcm.data(), pcm.size(), now + f * 20, now);
    }
  }

  int64_t now = 1000000;
  Metrics metrics;
  ToolRegistry registry;
  std::shared_ptr<Outbox> outbox;
  std::shared_ptr<XiaozhiDoor> door;
  ScriptedConversation* port = nullptr;
  ConversationSettings first;
};

TEST_F(XiaozhiDoorTest, HelloStartsTheConversationAnswersAndAsksForTheBoxsTools) {
  open();
  EXPECT_EQ(door->state(), "connecting");
  hello();
  ASSERT_NE(port, nullptr);
  EXPECT_TRUE(first.server_turn_detection);  // auto until the box says otherwise
  EXPECT_EQ(first.output_rate, 24000);
  EXPECT_EQ(first.input_codec, InputCodec::kOpus);
  std::vector<json> m;
  EXPECT_EQ(wire(&m), (std::vector<std::string>{"hello", "mcp"}));
  EXPECT_EQ(m[0]["transport"], "websocket");
  EXPECT_EQ(m[0]["audio_params"]["sample_rate"], 24000);
  EXPECT_EQ(m[0]["audio_params"]["frame_duration"], 60);
  EXPECT_EQ(m[1]["payload"]["method"], "initialize");
  EXPECT_EQ(door->state(), "idle");
}

TEST_F(XiaozhiDoorTest, AudioCountsOnlyWhileListeningAndManualModeCommitsAtStop) {
  open();
  hello(false);
  wire();
  binary(packet());  // the wake word's audio, before listen start
  listen("detect");
  EXPECT_TRUE(port->seqs.empty());
  listen("start", "manual");
  EXPECT_EQ(port->calls, (std::vector<std::string>{"update"}));
  EXPECT_FALSE(port->settings.back().server_turn_detection);
  binary(packet());
  binary(packet());
  EXPECT_EQ(port->seqs, (std::vector<uint64_t>{41, 42}));
  EXPECT_EQ(door->state(), "listening");
  listen("stop");
  EXPECT_EQ(port->calls.back(), "commit");
  binary(packet());  // after listen stop: dropped
  EXPECT_EQ(port->seqs.size(), 2u);
  EXPECT_TRUE(wire().empty());  // nothing to tell the box
}

TEST_F(XiaozhiDoorTest, AReplyGoesOutInTheFirmwaresOrderAndTtsStopWaitsForItToPlay) {
  open();
  hello(false);
  listen("start", "auto");
  wire();
  door->transcript("t1", "what time is it", false, "");  // partials are not shown
  door->transcript("t1", "what time is it", true, "");
  door->reply_started("r1", "t1");
  door->reply_sentence("r1", 0, "It is noon.", 0);  // the first sentence comes before its audio
  door->reply_audio_started("r1", "t1");
  voice("r1", 4);  // one whole 60 ms packet, and a third of the next
  door->reply_audio_ended("r1", 4, false);
  std::vector<json> m;
  EXPECT_EQ(wire(&m), (std::vector<std::string>{"stt", "llm", "tts:start", "tts:sentence_start",
                                                "audio", "audio"}));
  EXPECT_EQ(m[0]["text"], "what time is it");
  EXPECT_EQ(m[3]["text"], "It is noon.");
  EXPECT_EQ(door->state(), "speaking");
  // The last packet was due at now + 60: it has not had time to play.
  door->on_tick(now + 60);
  EXPECT_TRUE(wire().empty());
  door->on_tick(now + 120);
  EXPECT_EQ(wire(), (std::vector<std::string>{"tts:stop"}));
  EXPECT_EQ(port->calls.back(), "played r1 80");  // 4 frames of 20 ms
  EXPECT_NE(std::find(port->calls.begin(), port->calls.end(), "first_frame_sent r1"),
            port->calls.end());
  EXPECT_EQ(door->state(), "listening");
}

TEST_F(XiaozhiDoorTest, AbortStopsTheReplyAtOnceAndTellsTheCoreWhatWasSent) {
  open();
  hello(false);
  listen("start", "realtime");
  wire();
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  voice("r1", 6);  // two packets
  EXPECT_EQ(wire(), (std::vector<std::string>{"llm", "tts:start", "audio", "audio"}));
  text({{"session_id", "s1-1"}, {"type", "abort"}});
  EXPECT_EQ(wire(), (std::vector<std::string>{"tts:stop"}));
  EXPECT_EQ(port->calls.back(), "interrupt r1 120");
  // The voice stage's next frame is refused, and nothing more goes out.
  std::vector<float> pcm(480, 0.1f);
  EXPECT_FALSE(door->reply_audio("r1", 6, pcm.data(), pcm.size(), now, now));
  door->reply_audio_ended("r1", 6, true);
  door->on_tick(now + 1000);
  EXPECT_TRUE(wire().empty());
}

TEST_F(XiaozhiDoorTest, SpeechOverTheReplyStopsItAndReportsWhatWasSent) {
  open();
  hello(false);
  listen("start", "realtime");
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  voice("r1", 3);
  wire();
  EXPECT_EQ(door->reply_interrupted("r1"), 3u);  // one packet on the wire: three core frames
  EXPECT_EQ(wire(), (std::vector<std::string>{"tts:stop"}));
  door->on_tick(now);  // the report goes to the core from the event loop
  EXPECT_EQ(port->calls.back(), "interrupt r1 60");
}

// The person spoke over the reply and the box's connection ended before the next tick: the
// interrupt the core's thread left for that tick still reaches the core, once, and the reply is
// not also reported as cut by the connection.
TEST_F(XiaozhiDoorTest, AnInterruptLeftForTheNextTickStillReachesTheCoreWhenTheConnectionEnds) {
  open();
  hello(false);
  listen("start", "realtime");
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  voice("r1", 3);
  wire();
  EXPECT_EQ(door->reply_interrupted("r1"), 3u);
  door->stop();  // no tick in between
  EXPECT_EQ(port->calls.back(), "interrupt r1 60");
  EXPECT_EQ(std::count_if(port->calls.begin(), port->calls.end(),
                          [](const std::string& c) { return c.rfind("client_gone", 0) == 0; }),
            0);
  door->stop();
  EXPECT_EQ(std::count(port->calls.begin(), port->calls.end(), "interrupt r1 60"), 1);
}

// The server detaches the outbox as soon as the socket closes; the door stops later, from the
// reaper. A reply frame refused in between ends the core's audio as cut, but nobody cut it: the
// box left. The core hears that (what had left, once), not nothing.
TEST_F(XiaozhiDoorTest, AReplyRefusedBecauseTheSocketClosedIsReportedAsTheBoxLeaving) {
  two_packets_of_r1_sent();
  outbox->detach();  // the socket closed
  voice("r1", 3);    // refused
  door->reply_audio_ended("r1", 6, true);
  door->stop();
  EXPECT_EQ(port->calls.back(), "client_gone r1 on_wire 6");
  EXPECT_EQ(std::count_if(port->calls.begin(), port->calls.end(),
                          [](const std::string& c) { return c.rfind("client_gone", 0) == 0; }),
            1);
}

// The box's connection ends during a reply (it says nothing of what it played): before the
// conversation stops, the core hears which reply it was and how many of its 20 ms frames had
// left, in whole 60 ms packets — a packet still queued was not heard. Once.
TEST_F(XiaozhiDoorTest, AConnectionEndingDuringAReplyTellsTheCoreWhatHadLeft) {
  two_packets_of_r1_sent();
  voice("r1", 3);  // a third, still in the outbox
  door->stop();
  EXPECT_EQ(port->calls.back(), "client_gone r1 on_wire 6");
  door->stop();
  EXPECT_EQ(std::count(port->calls.begin(), port->calls.end(), "client_gone r1 on_wire 6"), 1);
}

// A reply the box had to its end (tts stop, reported as played) is not cut when the connection
// ends before the core finished its turn; one still being answered, without audio yet, is cut at
// nothing.
TEST_F(XiaozhiDoorTest, AReplyPlayedToItsEndIsNotCutWhenTheConnectionEnds) {
  open();
  hello(false);
  listen("start", "auto");
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  voice("r1", 3);
  door->reply_audio_ended("r1", 3, false);
  wire();
  door->on_tick(now + 1000);
  EXPECT_EQ(wire(), (std::vector<std::string>{"tts:stop"}));
  EXPECT_EQ(port->calls.back(), "played r1 60");
  door->stop();
  EXPECT_EQ(port->calls.back(), "played r1 60");
}

TEST_F(XiaozhiDoorTest, AReplyWithoutAudioYetIsCutAtNothingWhenTheConnectionEnds) {
  open();
  hello(false);
  listen("start", "auto");
  door->reply_started("r1", "t1");
  door->stop();
  EXPECT_EQ(port->calls.back(), "client_gone r1 on_wire 0");
}

// The core may have begun a reply whose reply_started has not reached the door when the box's
// connection ends: the core still hears that the box left, with nothing on the wire, or it keeps
// that reply as heard in full.
TEST_F(XiaozhiDoorTest, AConnectionEndingBeforeTheCoresReplyReachedTheDoorStillTellsTheCore) {
  open();
  hello(false);
  listen("start", "auto");
  door->stop();
  EXPECT_EQ(port->calls.back(), "client_gone  on_wire 0");
}

// The box's MCP tools reach the model: listed in the tool registry for this session only, under
// names a model API takes, and a call goes to the box as tools/call and comes back with its answer.
TEST_F(XiaozhiDoorTest, TheBoxsToolsAreOfferedToTheModelForItsSessionAndCalledOnTheBox) {
  open();
  hello(true);
  std::vector<json> m;
  wire(&m);
  auto answer = [&](const json& request, const json& result) {
    text({{"session_id", "s1-1"},
          {"type", "mcp"},
          {"payload", {{"jsonrpc", "2.0"}, {"id", request["payload"]["id"]}, {"result", result}}}});
  };
  answer(m.back(), json::object());  // initialize
  m.clear();
  wire(&m);
  ASSERT_EQ(m.back()["payload"]["method"], "tools/list");
  answer(m.back(), {{"tools",
                     {{{"name", "self.audio_speaker.set_volume"},
                       {"description", "Set the volume"},
                       {"inputSchema", {{"type", "object"}}}}}}});
  const ToolScope mine{"s1-1", "xiaozhi-aabbccddee01", ""}, other{"s9-9", "n0", ""};
  ASSERT_EQ(registry.list(mine).size(), 1u);
  EXPECT_EQ(registry.list(mine)[0].name, "self_audio_speaker_set_volume");
  EXPECT_EQ(registry.list(mine)[0].parameters, R"({"type":"object"})");
  EXPECT_TRUE(registry.list(other).empty());

  auto provider = registry.find(mine, "self_audio_speaker_set_volume");
  ASSERT_TRUE(provider);
  CancelToken cancel;
  auto result = std::async(std::launch::async, [&] {
    return provider->call(mine, "self_audio_speaker_set_volume", R"({"volume":30})", cancel,
                          std::chrono::steady_clock::now() + std::chrono::seconds(10));
  });
  // The door's event loop: the call goes out as tools/call; the box answers.
  json call;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (call.is_null() && std::chrono::steady_clock::now() < until) {
    m.clear();
    wire(&m);
    for (const json& x : m)
      if (x["type"] == "mcp" && x["payload"]["method"] == "tools/call") call = x;
    if (call.is_null()) std::this_thread::yield();
  }
  ASSERT_FALSE(call.is_null());
  EXPECT_EQ(call["payload"]["params"]["name"], "self.audio_speaker.set_volume");
  EXPECT_EQ(call["payload"]["params"]["arguments"]["volume"], 30);
  answer(call, {{"content", {{{"type", "text"}, {"text", "true"}}}}, {"isError", false}});
  const ToolResult r = result.get();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.content, "true");

  door->stop();  // the connection is gone: so are its tools
  EXPECT_TRUE(registry.list(mine).empty());
}

TEST_F(XiaozhiDoorTest, BadInputIsToldAndOnlyFatalFaultsClose) {
  open();
  text({{"type", "listen"}, {"state", "start"}});  // before the hello
  std::vector<json> m;
  EXPECT_EQ(wire(&m), (std::vector<std::string>{"alert"}));
  EXPECT_NE(m[0]["message"].get<std::string>().find("must be a hello"), std::string::npos);
  EXPECT_EQ(outbox->close_request().code, protocol::kCloseProtocolError);

  open();
  text({{"type", "hello"}, {"version", 3}, {"transport", "websocket"}});  // the header said 2
  EXPECT_EQ(wire(), (std::vector<std::string>{"alert"}));
  EXPECT_EQ(outbox->close_request().code, protocol::kCloseBadVersion);

  open();
  door->on_tick(now + 60000);  // no hello at all
  EXPECT_EQ(outbox->close_request().code, protocol::kCloseHandshakeTimeout);

  open();
  hello(false);
  listen("start", "auto");
  wire();
  std::string lying = packet();
  lying[15] = char(lying[15] + 1);  // payload_size one more than there is
  binary(lying);
  binary(lying);
  door->on_oversized(true, 4016);
  text({{"type", "dance"}});
  EXPECT_EQ(wire(), (std::vector<std::string>{"alert"}));  // told once
  EXPECT_EQ(outbox->close_request().code, 0);
  binary(packet());
  EXPECT_EQ(port->seqs.size(), 1u);  // and the session goes on
}

}  // namespace
}  // namespace earshot::host
