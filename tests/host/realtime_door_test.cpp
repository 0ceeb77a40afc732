// The OpenAI Realtime door (host/doors/realtime_door.h) against a scripted conversation: what the
// client's events become in the core's calls, and what the core's sink calls become on the wire —
// event by event, in order, with the ids they must share. The real core and the real `openai`
// client drive it end to end in tests/realtime/.
#include "host/doors/realtime_door.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

#include "protocol/realtime/base64.h"

namespace earshot::host {
namespace {

using nlohmann::json;
namespace rt = protocol::realtime;

// Records what the door asks of its conversation.
class ScriptedConversation : public ConversationPort {
 public:
  std::vector<std::string> calls;
  std::vector<std::pair<uint64_t, std::string>> frames;  // seq, bytes
  std::vector<ConversationSettings> updates;
  Conversation::InputPace pace = Conversation::InputPace::kResume;

  bool start(std::string*) override {
    calls.push_back("start");
    return true;
  }
  void stop() override { calls.push_back("stop"); }
  void audio(const AudioIn& f) override {
    frames.emplace_back(f.seq, std::string(reinterpret_cast<const char*>(f.payload), f.size));
  }
  void commit_input() override { calls.push_back("commit"); }
  void clear_input() override { calls.push_back("clear"); }
  void user_text(const std::string& text) override { calls.push_back("user_text " + text); }
  void respond() override { calls.push_back("respond"); }
  void interrupt(const PlayedReport& r) override {
    calls.push_back("interrupt " + r.reply_id + " " + std::to_string(r.played_ms.value_or(-1)) +
                    " on_wire " +
                    (r.frames_on_wire ? std::to_string(*r.frames_on_wire) : std::string("-")));
  }
  void played(const PlayedReport& r) override {
    calls.push_back("played " + r.reply_id + " " + std::to_string(r.played_ms.value_or(-1)));
  }
  void client_gone(const PlayedReport& w) override {
    calls.push_back("client_gone " + w.reply_id + " on_wire " +
                    std::to_string(w.frames_on_wire.value_or(0)));
  }
  void first_frame_sent(const std::string& reply_id, int64_t sent_ms) override {
    calls.push_back("first_frame_sent " + reply_id + " " + std::to_string(sent_ms));
  }
  void update(const ConversationSettings& s) override {
    calls.push_back("update");
    updates.push_back(s);
  }
  Conversation::InputPace input_pace() const override { return pace; }
};

class RealtimeDoorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Outbox::Limits limits;
    limits.lead_ms = 0;
    limits.audio_as_text = true;
    outbox = std::make_shared<Outbox>(limits, [] {});
    RealtimeDoor::Config config;
    config.session_id = "s1-1";
    config.model = "gpt-realtime";
    config.conversation.client_id = "realtime-s1-1";
    config.turn.end_of_turn_ms = 700;
    config.default_instructions = "You are Earshot.";
    config.audio_burst_s = 2;
    door = std::make_shared<RealtimeDoor>(config, outbox);
    std::string error;
    ASSERT_TRUE(door->start(
        [this](ConversationSink&, const ConversationSettings& s) {
          auto p = std::make_unique<ScriptedConversation>();
          port = p.get();
          initial = s;
          return p;
        },
        &error))
        << error;
  }

  // Everything the door has queued, audio too (due now), parsed — each must also be a valid
  // server event by our own reader.
  std::vector<json> events() {
    std::vector<json> out;
    OutItem item;
    while (outbox->pop_ready(INT64_MAX / 2, &item)) {
      EXPECT_FALSE(item.binary);
      rt::ServerParse p = rt::parse_server_event(item.bytes);
      EXPECT_TRUE(p.ok()) << p.error.message << " in " << item.bytes;
      out.push_back(json::parse(item.bytes));
    }
    return out;
  }
  static std::vector<std::string> types(const std::vector<json>& evs) {
    std::vector<std::string> t;
    for (const json& e : evs)
      t.push_back(e["type"]);
    return t;
  }
  void send(const json& j) { door->on_message(j.dump(), now); }
  void configure(json session = json::object()) {
    session["type"] = "realtime";
    send({{"type", "session.update"}, {"session", session}});
  }
  void append_ms(int ms, int16_t value = 1000) {
    std::string pcm;
    for (int i = 0; i < ms * 24; ++i) {
      pcm += char(uint16_t(value) & 0xff);
      pcm += char(uint16_t(value) >> 8);
    }
    send({{"type", "input_audio_buffer.append"}, {"audio", rt::base64_encode(pcm)}});
  }
  // A VAD turn from speech to transcript; returns the user item's id.
  std::string vad_turn(const std::string& turn, const std::string& text) {
    door->speech_started(turn, 100);
    door->speech_stopped(turn, 1900);
    door->transcript(turn, text, true, "en");
    std::string id;
    for (const json& e : events())
      if (e["type"] == "input_audio_buffer.committed") id = e["item_id"];
    return id;
  }
  // A server-VAD turn answered by r1, whose first two audio deltas went out.
  void two_deltas_of_r1_sent() {
    configure();
    vad_turn("t1", "hello");
    door->reply_started("r1", "t1");
    door->reply_audio_started("r1", "t1");
    audio_frames("r1", 2);
    events();
  }
  void audio_frames(const std::string& reply, int n) {
    const std::vector<float> frame(480, 0.25f);
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(
          door->reply_audio(reply, uint64_t(i), frame.data(), frame.size(), now + 20 * i, now));
  }

  std::shared_ptr<Outbox> outbox;
  std::shared_ptr<RealtimeDoor> door;
  ScriptedConversation* port = nullptr;
  ConversationSettings initial;
  int64_t now = 1000;
};

TEST_F(RealtimeDoorTest, SessionCreatedComesFirstWithTheDefaults) {
  const std::vector<json> evs = events();
  ASSERT_EQ(evs.size(), 1u);
  const json& s = evs[0]["session"];
  EXPECT_EQ(evs[0]["type"], "session.created");
  EXPECT_EQ(s["type"], "realtime");
  EXPECT_EQ(s["id"], "s1-1");
  EXPECT_EQ(s["model"], "gpt-realtime");
  EXPECT_EQ(s["instructions"], "You are Earshot.");
  EXPECT_EQ(s["output_modalities"], json::array({"audio"}));
  EXPECT_EQ(s["audio"]["input"]["format"], json({{"type", "audio/pcm"}, {"rate", 24000}}));
  EXPECT_EQ(s["audio"]["output"]["format"], json({{"type", "audio/pcm"}, {"rate", 24000}}));
  EXPECT_EQ(s["audio"]["input"]["turn_detection"]["type"], "server_vad");
  EXPECT_EQ(s["audio"]["input"]["turn_detection"]["silence_duration_ms"], 700);
  // The core hears pcm16 at 24 kHz both ways, server VAD, the bridge's own prompt.
  EXPECT_EQ(initial.input_codec, InputCodec::kPcm16);
  EXPECT_EQ(initial.input_rate, 24000);
  EXPECT_EQ(initial.output_rate, 24000);
  EXPECT_TRUE(initial.server_turn_detection);
  EXPECT_TRUE(initial.speak);
  EXPECT_FALSE(initial.instructions);
  EXPECT_EQ(initial.prefix_padding_ms, 300);
  // Started without auto_respond (so a text message is never answered unasked), then the
  // session's own: server VAD answers the turns it ends.
  EXPECT_FALSE(initial.auto_respond);
  EXPECT_EQ(port->calls, (std::vector<std::string>{"start", "update"}));
  EXPECT_TRUE(port->updates[0].auto_respond);
}

TEST_F(RealtimeDoorTest, AudioBeforeTheFirstSessionUpdateIsRefused) {
  events();
  append_ms(100);
  std::vector<json> evs = events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]["type"], "error");
  EXPECT_EQ(evs[0]["error"]["code"], "session_not_configured");
  EXPECT_TRUE(port->frames.empty());
  configure();
  append_ms(100);
  EXPECT_EQ(port->frames.size(), 5u);  // the connection went on
}

TEST_F(RealtimeDoorTest, SessionUpdateBecomesTheConversationsSettings) {
  events();
  configure({{"instructions", "Be terse."},
             {"output_modalities", {"text"}},
             {"audio",
              {{"input",
                {{"format", {{"type", "audio/pcm"}, {"rate", 24000}}},
                 {"turn_detection",
                  {{"type", "server_vad"},
                   {"silence_duration_ms", 1500},
                   {"prefix_padding_ms", 200},
                   {"create_response", false}}}}},
               {"output", {{"voice", "kal"}}}}}});
  ASSERT_EQ(port->updates.size(), 2u);
  const ConversationSettings& s = port->updates[1];
  EXPECT_EQ(s.instructions, "Be terse.");
  EXPECT_FALSE(s.speak);
  EXPECT_TRUE(s.server_turn_detection);
  EXPECT_FALSE(s.auto_respond);
  ASSERT_TRUE(s.turn);
  EXPECT_EQ(s.turn->end_of_turn_ms, 1500);
  EXPECT_EQ(s.prefix_padding_ms, 200);
  EXPECT_EQ(s.voice, "kal");
  std::vector<json> evs = events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]["type"], "session.updated");
  EXPECT_EQ(evs[0]["session"]["instructions"], "Be terse.");
  EXPECT_EQ(evs[0]["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"], 1500);
  // Only what is named changes; null turns server VAD off; an API voice name means the default.
  configure(
      {{"audio", {{"input", {{"turn_detection", nullptr}}}, {"output", {{"voice", "alloy"}}}}}});
  ASSERT_EQ(port->updates.size(), 3u);
  EXPECT_EQ(port->updates[2].instructions, "Be terse.");
  EXPECT_FALSE(port->updates[2].server_turn_detection);
  EXPECT_FALSE(port->updates[2].auto_respond);
  EXPECT_FALSE(port->updates[2].voice);
  evs = events();
  EXPECT_TRUE(evs[0]["session"]["audio"]["input"]["turn_detection"].is_null());
}

TEST_F(RealtimeDoorTest, AnUnsupportedFormatRefusesTheWholeUpdate) {
  events();
  configure({{"instructions", "x"},
             {"audio", {{"input", {{"format", {{"type", "audio/pcm"}, {"rate", 16000}}}}}}}});
  std::vector<json> evs = events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]["error"]["code"], "unsupported_audio_format");
  EXPECT_EQ(evs[0]["error"]["param"], "session.audio.input.format");
  EXPECT_EQ(port->updates.size(), 1u);  // only the one from the start
  configure({{"audio", {{"output", {{"format", {{"type", "audio/pcmu"}}}}}}}});
  EXPECT_EQ(events()[0]["error"]["param"], "session.audio.output.format");
  send({{"type", "session.update"}, {"session", {{"type", "transcription"}}}});
  EXPECT_EQ(events()[0]["error"]["code"], "unsupported_session_type");
  append_ms(20);
  EXPECT_EQ(events()[0]["error"]["code"], "session_not_configured");  // still not configured
}

TEST_F(RealtimeDoorTest, AppendsAreCut20msFramesNumberedFromZero) {
  configure({{"audio", {{"input", {{"turn_detection", nullptr}}}}}});
  events();
  append_ms(30);  // one frame and half of the next
  ASSERT_EQ(port->frames.size(), 1u);
  append_ms(30);
  ASSERT_EQ(port->frames.size(), 3u);
  for (size_t i = 0; i < port->frames.size(); ++i) {
    EXPECT_EQ(port->frames[i].first, i);
    EXPECT_EQ(port->frames[i].second.size(), 960u);
  }
  append_ms(10);  // a partial frame: padded with silence when committed
  send({{"type", "input_audio_buffer.commit"}});
  ASSERT_EQ(port->frames.size(), 4u);
  EXPECT_EQ(port->frames[3].second.substr(480), std::string(480, '\0'));
  EXPECT_EQ(port->calls.back(), "commit");
  std::vector<json> evs = events();
  ASSERT_EQ(types(evs),
            (std::vector<std::string>{"input_audio_buffer.committed", "conversation.item.added"}));
  EXPECT_TRUE(evs[0]["previous_item_id"].is_null());
  EXPECT_EQ(evs[1]["item"]["id"], evs[0]["item_id"]);
  EXPECT_EQ(evs[1]["item"]["content"][0]["type"], "input_audio");
  EXPECT_TRUE(evs[1]["item"]["content"][0]["transcript"].is_null());
  // The core's transcript of that turn (its id unknown to the door until now) completes it.
  door->transcript("t1", "hello there", true, "en");
  evs = events();
  ASSERT_EQ(types(evs),
            (std::vector<std::string>{"conversation.item.input_audio_transcription.completed",
                                      "conversation.item.done"}));
  EXPECT_EQ(evs[0]["transcript"], "hello there");
  EXPECT_EQ(evs[1]["item"]["content"][0]["transcript"], "hello there");
  // Committing nothing is an error; the connection goes on.
  send({{"type", "input_audio_buffer.commit"}, {"event_id", "c2"}});
  evs = events();
  EXPECT_EQ(evs[0]["error"]["code"], "input_audio_buffer_commit_empty");
  EXPECT_EQ(evs[0]["error"]["event_id"], "c2");
}

TEST_F(RealtimeDoorTest, WithoutServerVadEachCommitGetsItsTurnsTranscriptInOrder) {
  configure({{"audio", {{"input", {{"turn_detection", nullptr}}}}}});
  events();
  append_ms(100);
  send({{"type", "input_audio_buffer.commit"}});
  append_ms(100);  // the next turn is open in the core while the first is transcribed
  door->transcript("t2", "partial of the second", false, "en");  // not a commit's: no event
  door->transcript("t1", "first", true, "en");
  send({{"type", "input_audio_buffer.commit"}});
  door->transcript("t2", "second", true, "en");
  std::vector<std::string> items, transcripts;
  for (const json& e : events()) {
    if (e["type"] == "input_audio_buffer.committed") items.push_back(e["item_id"]);
    if (e["type"] == "conversation.item.input_audio_transcription.completed") {
      EXPECT_EQ(e["item_id"], items.at(transcripts.size()));
      transcripts.push_back(e["transcript"]);
    }
    EXPECT_NE(e["type"], "conversation.item.input_audio_transcription.delta");
  }
  EXPECT_EQ(transcripts, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(std::count(port->calls.begin(), port->calls.end(), "commit"), 2);
}

TEST_F(RealtimeDoorTest, AServerVadTurnIsStartedStoppedCommittedAndTranscribed) {
  configure();
  events();
  append_ms(40);
  door->speech_started("t1", 520);  // speech detected at 520 ms: the item starts 300 ms before
  // The core's recogniser streams whole hypotheses while the person speaks: deltas of what
  // extends what was sent; a revision waits for the final transcript.
  door->transcript("t1", "what", false, "en");
  door->transcript("t1", "what is", false, "en");
  door->transcript("t1", "what was", false, "en");
  door->speech_stopped("t1", 1880);
  door->transcript("t1", "what is the time", true, "en");
  const std::vector<json> evs = events();
  ASSERT_EQ(
      types(evs),
      (std::vector<std::string>{
          "input_audio_buffer.speech_started", "conversation.item.input_audio_transcription.delta",
          "conversation.item.input_audio_transcription.delta", "input_audio_buffer.speech_stopped",
          "input_audio_buffer.committed", "conversation.item.added",
          "conversation.item.input_audio_transcription.completed", "conversation.item.done"}));
  const std::string item = evs[0]["item_id"];
  for (const json& e : evs) {
    if (e.contains("item_id")) {
      EXPECT_EQ(e["item_id"], item) << e.dump();
    }
  }
  EXPECT_EQ(evs[0]["audio_start_ms"], 220);
  EXPECT_EQ(evs[1]["delta"], "what");
  EXPECT_EQ(evs[2]["delta"], " is");
  EXPECT_EQ(evs[3]["audio_end_ms"], 1880);
  EXPECT_EQ(evs[6]["transcript"], "what is the time");
  EXPECT_DOUBLE_EQ(evs[6]["usage"]["seconds"].get<double>(), 1.66);
  EXPECT_EQ(evs[7]["item"]["id"], item);
  EXPECT_EQ(evs[7]["item"]["content"][0]["transcript"], "what is the time");
}

TEST_F(RealtimeDoorTest, ASpokenResponseClosesOnlyAfterItsLastAudioDeltaLeft) {
  configure();
  const std::string user = vad_turn("t1", "hello");
  door->reply_started("r1", "t1");
  door->reply_text("r1", "t1", "You ");
  door->reply_text("r1", "t1", "said: hello.");
  door->reply_text_done("r1", "t1");
  door->reply_audio_started("r1", "t1");
  std::vector<json> evs = events();
  ASSERT_EQ(types(evs),
            (std::vector<std::string>{"response.created", "response.output_item.added",
                                      "conversation.item.added", "response.content_part.added",
                                      "response.output_audio_transcript.delta",
                                      "response.output_audio_transcript.delta"}));
  const std::string resp = evs[0]["response"]["id"];
  const std::string item = evs[1]["item"]["id"];
  EXPECT_EQ(evs[0]["response"]["status"], "in_progress");
  EXPECT_EQ(evs[1]["item"]["role"], "assistant");
  EXPECT_EQ(evs[1]["item"]["status"], "in_progress");
  EXPECT_EQ(evs[2]["previous_item_id"], user);
  EXPECT_EQ(evs[3]["part"]["type"], "audio");
  EXPECT_EQ(evs[4]["delta"], "You ");
  for (size_t i = 3; i < evs.size(); ++i) {
    EXPECT_EQ(evs[i]["response_id"], resp);
    EXPECT_EQ(evs[i]["item_id"], item);
  }
  // Three frames of audio: paced deltas of 20 ms of pcm16 at 24 kHz each.
  audio_frames("r1", 3);
  OutItem first;
  ASSERT_TRUE(outbox->pop_ready(now, &first));  // only the first is due yet
  EXPECT_FALSE(outbox->pop_ready(now, &first));
  door->reply_audio_ended("r1", 3, false);
  evs = events();  // the other two
  ASSERT_EQ(types(evs), (std::vector<std::string>{
                            "response.output_audio.delta", "response.output_audio.delta",
                            "response.output_audio.done", "response.output_audio_transcript.done",
                            "response.content_part.done", "response.output_item.done",
                            "conversation.item.done"}));
  std::string pcm;
  ASSERT_TRUE(rt::base64_decode(evs[0]["delta"].get<std::string>(), &pcm));
  EXPECT_EQ(pcm.size(), 960u);
  EXPECT_EQ(int16_t(uint8_t(pcm[0]) | uint8_t(pcm[1]) << 8), 8192);  // 0.25 full scale
  EXPECT_EQ(evs[3]["transcript"], "You said: hello.");
  EXPECT_EQ(evs[5]["item"]["status"], "completed");
  EXPECT_EQ(evs[5]["item"]["content"][0]["type"], "output_audio");
  EXPECT_EQ(evs[5]["item"]["content"][0]["transcript"], "You said: hello.");
  // The core hears it was played, and reports the turn; then response.done, with usage.
  EXPECT_EQ(port->calls.back(), "played r1 60");
  TurnReport report;
  report.reply_id = "r1";
  report.usage = LlmUsage{12, 5};
  door->turn_done(report);
  evs = events();
  ASSERT_EQ(types(evs), std::vector<std::string>{"response.done"});
  const json& r = evs[0]["response"];
  EXPECT_EQ(r["id"], resp);
  EXPECT_EQ(r["status"], "completed");
  EXPECT_EQ(r["usage"]["total_tokens"], 17);
  EXPECT_EQ(r["usage"]["input_tokens"], 12);
  EXPECT_EQ(r["usage"]["output_tokens"], 5);
  ASSERT_EQ(r["output"].size(), 1u);
  EXPECT_EQ(r["output"][0]["id"], item);
  // A new response may follow.
  send({{"type", "response.create"}});
  EXPECT_EQ(types(events()), std::vector<std::string>{"response.created"});
}

// The connection ends while a spoken response is being sent (the client died, or the bridge
// closes it): before the conversation stops, the core hears which reply it was and how many of its
// 20 ms deltas had left — at most what was heard. Once.
TEST_F(RealtimeDoorTest, AConnectionEndingMidAnswerTellsTheCoreWhatHadLeft) {
  configure();
  vad_turn("t1", "hello");
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  events();
  audio_frames("r1", 3);
  OutItem first;
  ASSERT_TRUE(outbox->pop_ready(now, &first));  // only the first is due yet
  door->stop();
  ASSERT_GE(port->calls.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(port->calls.end() - 2, port->calls.end()),
            (std::vector<std::string>{"client_gone r1 on_wire 1", "stop"}));
  door->stop();
  EXPECT_EQ(std::count(port->calls.begin(), port->calls.end(), "client_gone r1 on_wire 1"), 1);
}

// The core answers a server-VAD turn on its own, and its reply_started may not have reached the
// door when the connection ends. The door knows of no response, but the core must still hear that
// the client left, with nothing on the wire, or it keeps that reply as heard in full.
TEST_F(RealtimeDoorTest, AConnectionEndingBeforeTheCoresReplyReachedTheDoorStillTellsTheCore) {
  configure();
  vad_turn("t1", "hello");
  door->stop();
  ASSERT_GE(port->calls.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(port->calls.end() - 2, port->calls.end()),
            (std::vector<std::string>{"client_gone  on_wire 0", "stop"}));
  door->stop();
  EXPECT_EQ(std::count(port->calls.begin(), port->calls.end(), "client_gone  on_wire 0"), 1);
}

// A response whose last delta had left was reported as played then: the connection ending before
// the core finished its turn does not cut it.
TEST_F(RealtimeDoorTest, AnAnswerSentToItsEndIsNotCutWhenTheConnectionEnds) {
  configure();
  vad_turn("t1", "hello");
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  audio_frames("r1", 2);
  door->reply_audio_ended("r1", 2, false);
  events();
  EXPECT_EQ(port->calls.back(), "played r1 40");
  door->stop();
  EXPECT_EQ(std::vector<std::string>(port->calls.end() - 2, port->calls.end()),
            (std::vector<std::string>{"played r1 40", "stop"}));
}

TEST_F(RealtimeDoorTest, ResponseCancelMidAnswerStopsTheAudioAndTellsTheCoreWhatWentOut) {
  configure();
  vad_turn("t1", "hello");
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  audio_frames("r1", 5);
  OutItem item;
  ASSERT_TRUE(outbox->pop_ready(now + 20, &item));  // control first
  events();                                         // ... and 5 deltas went out
  audio_frames("r1", 3);                            // 3 more queued, not yet sent
  send({{"type", "response.cancel"}, {"event_id", "cancel-1"}});
  EXPECT_EQ(outbox->audio_queued(), 0u);
  std::vector<json> evs = events();
  ASSERT_EQ(types(evs), (std::vector<std::string>{
                            "response.output_audio.done", "response.output_audio_transcript.done",
                            "response.content_part.done", "response.output_item.done",
                            "conversation.item.done", "response.done"}));
  EXPECT_EQ(evs[3]["item"]["status"], "incomplete");
  EXPECT_EQ(evs[5]["response"]["status"], "cancelled");
  EXPECT_EQ(evs[5]["response"]["status_details"]["reason"], "client_cancelled");
  EXPECT_EQ(port->calls.back(), "interrupt r1 100 on_wire 5");  // 5 frames of 20 ms were written
  // The core's voice thread is told to stop; what it says later of r1 changes nothing.
  const std::vector<float> frame(480, 0.1f);
  EXPECT_FALSE(door->reply_audio("r1", 8, frame.data(), frame.size(), now, now));
  door->reply_audio_ended("r1", 8, true);
  TurnReport report;
  report.reply_id = "r1";
  door->turn_done(report);
  EXPECT_TRUE(events().empty());
  // Nothing to cancel now.
  send({{"type", "response.cancel"}});
  EXPECT_EQ(events()[0]["error"]["code"], "response_cancel_not_active");
}

TEST_F(RealtimeDoorTest, SpeechOverTheReplyCancelsItAsTurnDetected) {
  two_deltas_of_r1_sent();
  EXPECT_EQ(door->reply_interrupted("r1"), 2u);  // frames already written
  std::vector<json> evs = events();
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back()["type"], "response.done");
  EXPECT_EQ(evs.back()["response"]["status_details"]["reason"], "turn_detected");
  door->on_tick(now);  // reports go to the core from the event loop
  EXPECT_EQ(port->calls.back(), "interrupt r1 40 on_wire 2");
}

// Reports the core's threads left for the event loop's next tick still reach the core when the
// connection ends first: the cut by speech, in order, then the conversation stops.
TEST_F(RealtimeDoorTest, AReportLeftForTheNextTickStillReachesTheCoreWhenTheConnectionEnds) {
  two_deltas_of_r1_sent();
  EXPECT_EQ(door->reply_interrupted("r1"), 2u);
  door->stop();  // no tick in between
  ASSERT_GE(port->calls.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(port->calls.end() - 2, port->calls.end()),
            (std::vector<std::string>{"interrupt r1 40 on_wire 2", "stop"}));
  door->stop();
  EXPECT_EQ(std::count(port->calls.begin(), port->calls.end(), "interrupt r1 40 on_wire 2"), 1);
}

// The server detaches the outbox as soon as the socket closes; the door stops later, from the
// reaper. A delta refused in between ends the core's audio as cut, but nobody cut it: the client
// left. The core hears that, with what had left, not an interrupt (a barge-in to count and log).
TEST_F(RealtimeDoorTest, AResponseRefusedBecauseTheSocketClosedIsReportedAsTheClientLeaving) {
  two_deltas_of_r1_sent();
  outbox->detach();  // the socket closed
  const std::vector<float> frame(480, 0.25f);
  EXPECT_FALSE(door->reply_audio("r1", 2, frame.data(), frame.size(), now + 40, now));
  door->reply_audio_ended("r1", 2, true);
  door->stop();
  ASSERT_GE(port->calls.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(port->calls.end() - 2, port->calls.end()),
            (std::vector<std::string>{"client_gone r1 on_wire 2", "stop"}));
  EXPECT_EQ(std::count_if(port->calls.begin(), port->calls.end(),
                          [](const std::string& c) { return c.rfind("interrupt", 0) == 0; }),
            0);
}

TEST_F(RealtimeDoorTest, TruncateTellsTheCoreWhatWasHeard) {
  configure();
  vad_turn("t1", "hello");
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  audio_frames("r1", 10);
  door->reply_audio_ended("r1", 10, false);
  std::string item;
  for (const json& e : events())
    if (e["type"] == "response.output_item.added") item = e["item"]["id"];
  TurnReport report;
  report.reply_id = "r1";
  door->turn_done(report);
  events();
  send({{"type", "conversation.item.truncate"},
        {"item_id", item},
        {"content_index", 0},
        {"audio_end_ms", 500}});
  std::vector<json> evs = events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]["error"]["param"], "audio_end_ms");  // only 200 ms went out
  send({{"type", "conversation.item.truncate"},
        {"item_id", item},
        {"content_index", 0},
        {"audio_end_ms", 120}});
  evs = events();
  ASSERT_EQ(types(evs), std::vector<std::string>{"conversation.item.truncated"});
  EXPECT_EQ(evs[0]["item_id"], item);
  EXPECT_EQ(evs[0]["audio_end_ms"], 120);
  EXPECT_EQ(port->calls.back(), "played r1 120");
  send({{"type", "conversation.item.truncate"},
        {"item_id", "item_nope"},
        {"content_index", 0},
        {"audio_end_ms", 1}});
  EXPECT_EQ(events()[0]["error"]["code"], "item_not_found");
}

TEST_F(RealtimeDoorTest, TruncateWhileItPlaysEndsTheResponse) {
  configure();
  vad_turn("t1", "hello");
  door->reply_started("r1", "t1");
  door->reply_audio_started("r1", "t1");
  audio_frames("r1", 10);
  std::string item;
  for (const json& e : events())
    if (e["type"] == "response.output_item.added") item = e["item"]["id"];
  send({{"type", "conversation.item.truncate"},
        {"item_id", item},
        {"content_index", 0},
        {"audio_end_ms", 60}});
  const std::vector<json> evs = events();
  EXPECT_EQ(evs[evs.size() - 2]["type"], "response.done");
  EXPECT_EQ(evs[evs.size() - 2]["response"]["status"], "cancelled");
  EXPECT_EQ(evs.back()["type"], "conversation.item.truncated");
  EXPECT_EQ(port->calls.back(), "interrupt r1 60 on_wire 10");
}

TEST_F(RealtimeDoorTest, ATextOnlyTurn) {
  configure(
      {{"output_modalities", {"text"}}, {"audio", {{"input", {{"turn_detection", nullptr}}}}}});
  events();
  send({{"type", "conversation.item.create"},
        {"item",
         {{"type", "message"},
          {"role", "user"},
          {"content", {{{"type", "input_text"}, {"text", "What time is it?"}}}}}}});
  std::vector<json> evs = events();
  ASSERT_EQ(types(evs),
            (std::vector<std::string>{"conversation.item.added", "conversation.item.done"}));
  const std::string user = evs[0]["item"]["id"];
  EXPECT_EQ(evs[1]["item"]["content"][0],
            json({{"type", "input_text"}, {"text", "What time is it?"}}));
  EXPECT_EQ(port->calls.back(), "user_text What time is it?");
  send({{"type", "response.create"}});
  EXPECT_EQ(port->calls.back(), "respond");
  door->reply_started("r1", "t1");
  door->reply_text("r1", "t1", "You said: ");
  door->reply_text("r1", "t1", "what time is it.");
  door->reply_text_done("r1", "t1");
  TurnReport report;
  report.reply_id = "r1";
  door->turn_done(report);
  evs = events();
  ASSERT_EQ(
      types(evs),
      (std::vector<std::string>{
          "response.created", "response.output_item.added", "conversation.item.added",
          "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
          "response.output_text.done", "response.content_part.done", "response.output_item.done",
          "conversation.item.done", "response.done"}));
  EXPECT_EQ(evs[0]["response"]["output_modalities"], json::array({"text"}));
  EXPECT_EQ(evs[2]["previous_item_id"], user);
  EXPECT_EQ(evs[3]["part"]["type"], "text");
  EXPECT_EQ(evs[6]["text"], "You said: what time is it.");
  EXPECT_EQ(evs[8]["item"]["content"][0]["type"], "output_text");
  EXPECT_EQ(evs[10]["response"]["status"], "completed");
  // Audio from the core for a text response is refused.
  const std::vector<float> frame(480, 0.1f);
  EXPECT_FALSE(door->reply_audio("r1", 0, frame.data(), frame.size(), now, now));
}

TEST_F(RealtimeDoorTest, ResponseOverridesHoldForThatResponseOnly) {
  configure();
  events();
  send({{"type", "response.create"},
        {"response", {{"instructions", "Shout."}, {"output_modalities", {"text"}}}}});
  ASSERT_GE(port->calls.size(), 2u);
  EXPECT_EQ(port->calls[port->calls.size() - 2], "update");
  EXPECT_EQ(port->calls.back(), "respond");
  EXPECT_EQ(port->updates.back().instructions, "Shout.");
  EXPECT_FALSE(port->updates.back().speak);
  std::vector<json> evs = events();
  EXPECT_EQ(evs[0]["response"]["output_modalities"], json::array({"text"}));
  // Another response.create while this one runs is refused.
  send({{"type", "response.create"}, {"event_id", "again"}});
  evs = events();
  EXPECT_EQ(evs[0]["error"]["code"], "conversation_already_has_active_response");
  EXPECT_EQ(evs[0]["error"]["event_id"], "again");
  door->reply_started("r1", "t1");
  door->reply_text("r1", "t1", "HI.");
  door->reply_text_done("r1", "t1");
  TurnReport report;
  report.reply_id = "r1";
  door->turn_done(report);
  door->on_tick(now);
  EXPECT_EQ(port->calls.back(), "update");
  EXPECT_FALSE(port->updates.back().instructions);  // the session's own again
  EXPECT_TRUE(port->updates.back().speak);
}

TEST_F(RealtimeDoorTest, ACancelBeforeTheCoreStartedDropsItsReply) {
  configure();
  events();
  send({{"type", "response.create"}});
  send({{"type", "response.cancel"}});
  std::vector<json> evs = events();
  ASSERT_EQ(types(evs), (std::vector<std::string>{"response.created", "response.done"}));
  EXPECT_EQ(evs[1]["response"]["status"], "cancelled");
  door->reply_started("r1", "t1");  // the core's answer to that respond()
  door->reply_text("r1", "t1", "late");
  EXPECT_TRUE(events().empty());
  door->on_tick(now);
  EXPECT_EQ(port->calls.back(), "interrupt r1 0 on_wire -");
}

TEST_F(RealtimeDoorTest, BadInputIsAnErrorAndTheConnectionGoesOn) {
  configure();
  events();
  send({{"type", "session.frobnicate"}, {"event_id", "e1"}});
  send({{"type", "input_audio_buffer.append"}, {"audio", "%%%"}, {"event_id", "e2"}});
  door->on_message("{oops", now);
  door->on_oversized(rt::kMaxEventBytes);
  door->on_binary();
  send({{"type", "conversation.item.create"},
        {"item",
         {{"type", "message"},
          {"role", "system"},
          {"content", {{{"type", "input_text"}, {"text", "x"}}}}}}});
  const std::vector<json> evs = events();
  ASSERT_EQ(evs.size(), 6u);
  for (const json& e : evs)
    EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(evs[0]["error"]["code"], "unknown_event_type");
  EXPECT_EQ(evs[0]["error"]["event_id"], "e1");
  EXPECT_EQ(evs[1]["error"]["code"], "invalid_base64");
  EXPECT_EQ(evs[1]["error"]["event_id"], "e2");
  EXPECT_EQ(evs[2]["error"]["code"], "invalid_json");
  EXPECT_EQ(evs[3]["error"]["code"], "message_too_large");
  EXPECT_EQ(evs[4]["error"]["code"], "invalid_json");
  EXPECT_EQ(evs[5]["error"]["code"], "unsupported_item");
  // Every event id is unique.
  std::set<std::string> ids;
  for (const json& e : evs)
    ids.insert(e["event_id"].get<std::string>());
  EXPECT_EQ(ids.size(), evs.size());
  append_ms(20);
  EXPECT_EQ(port->frames.size(), 1u);
  EXPECT_EQ(outbox->close_request().code, 0);
}

TEST_F(RealtimeDoorTest, AudioFasterThanRealTimeBeyondTheBurstClosesTheConnection) {
  configure();
  events();
  append_ms(1000);
  append_ms(900);
  EXPECT_EQ(outbox->close_request().code, 0);  // within the 2 s burst
  append_ms(500);
  const std::vector<json> evs = events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0]["error"]["code"], "too_fast");
  EXPECT_EQ(outbox->close_request().code, 4029);
}

TEST_F(RealtimeDoorTest, ClearDropsTheOpenTurn) {
  configure();
  events();
  append_ms(40);
  door->speech_started("t1", 20);
  send({{"type", "input_audio_buffer.clear"}});
  EXPECT_EQ(port->calls.back(), "clear");
  door->speech_stopped("t1", 900);
  door->transcript("t1", "dropped", true, "en");
  const std::vector<json> evs = events();
  EXPECT_EQ(types(evs), (std::vector<std::string>{"input_audio_buffer.speech_started",
                                                  "input_audio_buffer.cleared"}));
}

}  // namespace
}  // namespace earshot::host
