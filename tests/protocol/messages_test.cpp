// JSON control messages: every type round-trips, every field is validated, direction is enforced.
#include "protocol/messages.h"

#include <gtest/gtest.h>

#include <cmath>

namespace earshot::protocol {
namespace {

struct Bad {
  const char* text;
  const char* error_contains;
};

std::string roundtrip_error(const Message& m, Direction d) {
  const std::string json = to_json(m);
  ParseResult r = parse_message(json, d);
  if (!r.ok()) return r.error + " in " + json;
  if (to_json(*r.message) != json) return "changed: " + to_json(*r.message) + " vs " + json;
  return "";
}

TEST(Messages, EveryNodeToHostTypeRoundTrips) {
  Hello h;
  h.node_id = "kitchen-1";
  h.token = "t";
  h.room = "kitchen";
  h.capabilities = {"playback", "barge_in"};
  h.mode = Mode::kAmbient;
  h.language = "kn";
  Interrupt i;
  i.reply_id = "s1-r2";
  i.played_ms = 1234;
  i.played_seq = 61;
  for (const Message& m : std::vector<Message>{h, SpeechStart{5, 1600}, SpeechEnd{9, 2880}, i,
                                               PlaybackDone{"r1", 900}, ModeChange{Mode::kAmbient}})
    EXPECT_EQ(roundtrip_error(m, Direction::kNodeToHost), "") << type_name(m);
}

TEST(Messages, EveryHostToNodeTypeRoundTrips) {
  Welcome w;
  w.session_id = "s7";
  w.acked_seq = 41;
  SpeechOutSentence s;
  s.reply_id = "r1";
  s.index = 2;
  s.text = "Second sentence, with \"quotes\" and ünïcödé.";
  s.first_seq = 100;
  for (const Message& m :
       std::vector<Message>{w, Ack{41}, Transcript{"t1", "hello there", true, std::string("en")},
                            ReplyText{"r1", "t1", "Hel", false}, SpeechOutStart{"r1", "t1", {}}, s,
                            SpeechOutEnd{"r1", 120, "interrupted"}, Error{"bad_token", "no", true},
                            Interrupt{"r1", 0, std::nullopt}, ModeChange{Mode::kConversation}})
    EXPECT_EQ(roundtrip_error(m, Direction::kHostToNode), "") << type_name(m);
}

TEST(Messages, AnAnnouncementSaysSoInSpeechOutStartAndAReplyLeavesReasonOut) {
  // The example from docs/protocol.md ("Unprompted speech"), verbatim.
  const char* text =
      R"({"type":"speech_out_start","reply_id":"s-42-r9","turn_id":"a1","reason":"announcement",
 "audio":{"codec":"opus","sample_rate":16000,"channels":1,"frame_ms":20}})";
  ParseResult r = parse_message(text, Direction::kHostToNode);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(std::get<SpeechOutStart>(*r.message).reason, kSpeechReasonAnnouncement);
  EXPECT_EQ(roundtrip_error(*r.message, Direction::kHostToNode), "");
  // A reply (as before announcements existed): reason "reply", and not on the wire.
  r = parse_message(R"({"type":"speech_out_start","reply_id":"r7","turn_id":"t12"})",
                    Direction::kHostToNode);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(std::get<SpeechOutStart>(*r.message).reason, kSpeechReasonReply);
  EXPECT_EQ(to_json(*r.message).find("reason"), std::string::npos) << to_json(*r.message);
  // A reason from a newer host is kept as sent (the node plays it like a reply); a bad one is an
  // error naming the field.
  r = parse_message(
      R"({"type":"speech_out_start","reply_id":"r7","turn_id":"t12","reason":"doorbell"})",
      Direction::kHostToNode);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(std::get<SpeechOutStart>(*r.message).reason, "doorbell");
  r = parse_message(R"({"type":"speech_out_start","reply_id":"r7","turn_id":"t12","reason":7})",
                    Direction::kHostToNode);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("speech_out_start.reason"), std::string::npos) << r.error;
}

TEST(Messages, TurnTimingsRoundTripWithUnknownStagesLeftOut) {
  TurnTimings all;
  all.turn_id = "t3";
  all.reply_id = "s1-r3";
  all.end_of_turn_ms = 700;
  all.stt_final_ms = 712;
  all.llm_first_token_ms = 905;
  all.first_sentence_ms = 1210;
  all.tts_first_audio_ms = 1388;
  all.first_frame_sent_ms = 1391;
  EXPECT_EQ(roundtrip_error(all, Direction::kHostToNode), "");
  EXPECT_EQ(to_json(all),
            R"({"end_of_turn_ms":700,"first_frame_sent_ms":1391,"first_sentence_ms":1210,)"
            R"("llm_first_token_ms":905,"reply_id":"s1-r3","stt_final_ms":712,)"
            R"("tts_first_audio_ms":1388,"turn_id":"t3","type":"turn_timings"})");
  // A turn with no reply: only what happened is sent.
  TurnTimings some;
  some.turn_id = "t4";
  some.end_of_turn_ms = TurnTimings::from_ms(699.6);
  some.stt_final_ms = TurnTimings::from_ms(-1);
  EXPECT_EQ(roundtrip_error(some, Direction::kHostToNode), "");
  EXPECT_EQ(to_json(some), R"({"end_of_turn_ms":700,"turn_id":"t4","type":"turn_timings"})");
  ParseResult r = parse_message(to_json(some), Direction::kHostToNode);
  ASSERT_TRUE(r.ok()) << r.error;
  const TurnTimings& back = std::get<TurnTimings>(*r.message);
  EXPECT_FALSE(back.reply_id.has_value());
  EXPECT_FALSE(back.stt_final_ms.has_value());
  EXPECT_EQ(back.end_of_turn_ms, 700u);
}

TEST(Messages, TheDocumentedTurnTimingsParseAndAreHostToNodeOnly) {
  // The example from docs/protocol.md, verbatim.
  const char* text = R"({"type":"turn_timings","turn_id":"t12","reply_id":"r7","end_of_turn_ms":700,
    "stt_final_ms":702,"llm_first_token_ms":911,"first_sentence_ms":1180,"tts_first_audio_ms":1342,
    "first_frame_sent_ms":1346})";
  ParseResult r = parse_message(text, Direction::kHostToNode);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(std::get<TurnTimings>(*r.message).first_frame_sent_ms, 1346u);
  EXPECT_STREQ(type_name(*r.message), "turn_timings");
  r = parse_message(text, Direction::kNodeToHost);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("not a node->host message"), std::string::npos) << r.error;
  const Bad bad[] = {
      {R"({"type":"turn_timings","end_of_turn_ms":1})", "turn_timings.turn_id: missing"},
      {R"({"type":"turn_timings","turn_id":"t","stt_final_ms":-1})", "turn_timings.stt_final_ms"},
      {R"({"type":"turn_timings","turn_id":"t","stt_final_ms":2.5})", "turn_timings.stt_final_ms"},
      {R"({"type":"turn_timings","turn_id":"t","reply_id":"a b"})", "turn_timings.reply_id"},
  };
  for (const Bad& c : bad) {
    ParseResult b = parse_message(c.text, Direction::kHostToNode);
    EXPECT_FALSE(b.ok()) << c.text;
    EXPECT_NE(b.error.find(c.error_contains), std::string::npos) << c.text << " -> " << b.error;
  }
}

TEST(Messages, TurnTimingsFromTheBridgesMillisecondsRoundAndDropUnknowns) {
  EXPECT_EQ(TurnTimings::from_ms(0.4), 0u);
  EXPECT_EQ(TurnTimings::from_ms(1234.5), 1235u);
  EXPECT_FALSE(TurnTimings::from_ms(-1).has_value());
  EXPECT_FALSE(TurnTimings::from_ms(std::nan("")).has_value());
}

TEST(Messages, Pcm16AudioIsAcceptedWhenAFrameFitsOneAudioFrame) {
  const char* hello = R"({"type":"hello","versions":[1],"node_id":"browser-kitchen",
    "token":"kitchen.0123","audio":{"codec":"pcm16","sample_rate":16000,"channels":1,"frame_ms":20},
    "capabilities":["playback","barge_in","partial_transcripts","turn_timings"]})";
  ParseResult r = parse_message(hello, Direction::kNodeToHost);
  ASSERT_TRUE(r.ok()) << r.error;
  const Hello& h = std::get<Hello>(*r.message);
  EXPECT_EQ(h.audio.codec, kCodecPcm16);
  EXPECT_TRUE(has_capability(h, kCapabilityTurnTimings));
  EXPECT_FALSE(has_capability(h, "turn"));
  Welcome w;
  w.session_id = "s1";
  w.audio.codec = kCodecPcm16;
  EXPECT_EQ(roundtrip_error(w, Direction::kHostToNode), "");
  // 40 ms of 16-bit samples at 16 kHz is 1280 bytes: more than one audio frame carries.
  r = parse_message(R"({"type":"hello","versions":[1],"node_id":"b","audio":{"codec":"pcm16",
    "sample_rate":16000,"channels":1,"frame_ms":40}})",
                    Direction::kNodeToHost);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("hello.audio.frame_ms"), std::string::npos) << r.error;
}

TEST(Messages, TheDocumentedHelloParses) {
  // The example from docs/protocol.md, verbatim.
  const char* text = R"({"type":"hello","versions":[1],"node_id":"kitchen","room":"kitchen",
    "audio":{"codec":"opus","sample_rate":16000,"channels":1,"frame_ms":20},
    "capabilities":["playback","barge_in","partial_transcripts"],"mode":"conversation",
    "language":"en"})";
  ParseResult r = parse_message(text, Direction::kNodeToHost);
  ASSERT_TRUE(r.ok()) << r.error;
  const Hello& h = std::get<Hello>(*r.message);
  EXPECT_EQ(h.node_id, "kitchen");
  EXPECT_EQ(h.audio.sample_rate, 16000u);
  EXPECT_EQ(h.capabilities.size(), 3u);
}

TEST(Messages, MalformedInputGivesAClearErrorNamingTheField) {
  const Bad cases[] = {
      {"", "not valid JSON"},
      {"{\"type\":\"ack\"", "not valid JSON"},
      {"[1,2]", "JSON object"},
      {"{\"seq\":1}", "message.type"},
      {"{\"type\":\"dance\"}", "unknown message type"},
      {"{\"type\":\"hello\",\"versions\":[1],\"audio\":{\"codec\":\"opus\",\"sample_rate\":16000,"
       "\"channels\":1,\"frame_ms\":20}}",
       "hello.node_id: missing"},
      {"{\"type\":\"hello\",\"versions\":[1],\"node_id\":\"a b\",\"audio\":{}}", "hello.node_id"},
      {"{\"type\":\"hello\",\"versions\":[],\"node_id\":\"a\",\"audio\":{}}", "hello.versions"},
      {"{\"type\":\"hello\",\"versions\":[1],\"node_id\":\"a\",\"audio\":{\"codec\":\"opus\","
       "\"sample_rate\":44100,\"channels\":1,\"frame_ms\":20}}",
       "sample_rate"},
      {"{\"type\":\"hello\",\"versions\":[1],\"node_id\":\"a\",\"audio\":{\"codec\":\"pcm\","
       "\"sample_rate\":16000,\"channels\":1,\"frame_ms\":20}}",
       "codec"},
      {"{\"type\":\"speech_start\",\"seq\":-1,\"timestamp\":0}", "speech_start.seq"},
      {"{\"type\":\"speech_start\",\"seq\":1.5,\"timestamp\":0}", "speech_start.seq"},
      {"{\"type\":\"speech_start\",\"seq\":9007199254740993,\"timestamp\":0}", "2^53"},
      {"{\"type\":\"speech_end\",\"seq\":\"3\",\"timestamp\":0}", "speech_end.seq"},
      {"{\"type\":\"interrupt\",\"played_ms\":3}", "interrupt.reply_id: missing"},
      {"{\"type\":\"mode\",\"mode\":\"party\"}", "mode.mode"},
      {"{\"type\":\"playback_done\",\"reply_id\":\"r\",\"played_ms\":true}", "played_ms"},
  };
  for (const Bad& c : cases) {
    ParseResult r = parse_message(c.text, Direction::kNodeToHost);
    EXPECT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error.find(c.error_contains), std::string::npos) << c.text << " -> " << r.error;
  }
}

TEST(Messages, DirectionIsEnforced) {
  ParseResult r = parse_message("{\"type\":\"ack\",\"seq\":1}", Direction::kNodeToHost);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("not a node->host message"), std::string::npos);
  r = parse_message("{\"type\":\"speech_start\",\"seq\":1,\"timestamp\":0}",
                    Direction::kHostToNode);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(
      parse_message("{\"type\":\"interrupt\",\"reply_id\":\"r1\"}", Direction::kHostToNode).ok());
}

TEST(Messages, OversizedMessagesAreRefusedBeforeParsing) {
  std::string big = "{\"type\":\"error\",\"code\":\"x\",\"message\":\"" +
                    std::string(kMaxControlMessageSize, 'a') + "\"}";
  ParseResult r = parse_message(big, Direction::kHostToNode);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("larger than"), std::string::npos);
  std::string long_text = "{\"type\":\"transcript\",\"turn_id\":\"t\",\"final\":true,\"text\":\"" +
                          std::string(kMaxTextLength + 1, 'a') + "\"}";
  EXPECT_FALSE(parse_message(long_text, Direction::kHostToNode).ok());
}

TEST(Messages, UnknownFieldsAreIgnoredForForwardCompatibility) {
  ParseResult r =
      parse_message("{\"type\":\"ack\",\"seq\":3,\"future\":{\"x\":1}}", Direction::kHostToNode);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(std::get<Ack>(*r.message).seq, 3u);
}

TEST(Messages, VersionNegotiationPicksACommonVersionOrNone) {
  EXPECT_EQ(negotiate_version({1}), 1);
  EXPECT_EQ(negotiate_version({3, 2, 1}), 1);
  EXPECT_FALSE(negotiate_version({2, 3}).has_value());
  EXPECT_FALSE(negotiate_version({}).has_value());
}

TEST(Messages, InvalidUtf8FromAnEngineIsReplacedNotThrown) {
  Transcript t{"t1", std::string("caf\xC3", 4), true, std::nullopt};
  const std::string json = to_json(t);
  EXPECT_TRUE(parse_message(json, Direction::kHostToNode).ok()) << json;
}

}  // namespace
}  // namespace earshot::protocol
