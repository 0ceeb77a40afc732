// The OpenAI Realtime events (protocol/realtime/events.h): every event round-trips, the shapes the
// `openai` npm package 6.x sends parse as the API documents them, and bad input is refused with
// the error the client is sent (code, param, the event_id it named).
#include "protocol/realtime/events.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <set>

#include "protocol/realtime/base64.h"

namespace earshot::protocol::realtime {
namespace {

using nlohmann::json;

std::string client_roundtrip_error(const ClientEvent& e) {
  const std::string text = to_json(e);
  ClientParse p = parse_client_event(text);
  if (!p.ok()) return p.error.code + ": " + p.error.message + " in " + text;
  if (to_json(*p.event) != text) return "changed: " + to_json(*p.event) + " vs " + text;
  if (json::parse(text)["type"] != type_name(e.body)) return "type differs in " + text;
  return "";
}

std::string server_roundtrip_error(const ServerEvent& e) {
  const std::string text = to_json(e);
  ServerParse p = parse_server_event(text);
  if (!p.ok()) return p.error.code + ": " + p.error.message + " in " + text;
  if (to_json(*p.event) != text) return "changed: " + to_json(*p.event) + " vs " + text;
  if (json::parse(text)["type"] != type_name(e.body)) return "type differs in " + text;
  return "";
}

Session full_session() {
  Session s;
  s.type = "realtime";
  s.id = "sess_1";
  s.object = "realtime.session";
  s.model = "gpt-realtime";
  s.instructions = "Answer briefly.";
  s.output_modalities = std::vector<Modality>{Modality::kAudio};
  s.input_format = AudioFormat{"audio/pcm", 24000};
  TurnDetection t;
  t.threshold = 0.5;
  t.prefix_padding_ms = 300;
  t.silence_duration_ms = 500;
  t.create_response = true;
  t.interrupt_response = true;
  t.idle_timeout_ms = std::optional<int>();
  s.turn_detection = t;
  s.transcription = Transcription{std::string("earshot"), std::string("en"), std::nullopt};
  s.output_format = AudioFormat{"audio/pcm", 24000};
  s.voice = "alloy";
  s.speed = 1.0;
  return s;
}

Item user_text_item(const std::string& text) {
  Item item;
  item.id = "item_1";
  item.object = "realtime.item";
  item.role = Role::kUser;
  item.status = ItemStatus::kCompleted;
  Content c;
  c.type = ContentType::kInputText;
  c.text = text;
  item.content.push_back(c);
  return item;
}

Item assistant_audio_item() {
  Item item;
  item.id = "item_2";
  item.object = "realtime.item";
  item.role = Role::kAssistant;
  item.status = ItemStatus::kInProgress;
  Content c;
  c.type = ContentType::kOutputAudio;
  c.transcript = std::optional<std::string>("You said: hello.");
  item.content.push_back(c);
  return item;
}

TEST(RealtimeEvents, EveryClientEventRoundTrips) {
  ConversationItemCreate create;
  create.previous_item_id = "item_0";
  create.item = user_text_item("What's the weather? \"Quoted\", ünïcödé.");
  Item audio_item;
  audio_item.role = Role::kUser;
  Content audio;
  audio.type = ContentType::kInputAudio;
  audio.audio = std::string("\x01\x02\xff\x00", 4);
  audio_item.content.push_back(audio);
  ConversationItemCreate create_audio;
  create_audio.item = audio_item;
  ResponseParams params;
  params.instructions = "Be terse.";
  params.output_modalities = std::vector<Modality>{Modality::kText};
  params.voice = "kal";
  params.output_format = AudioFormat{"audio/pcm", 24000};
  params.conversation = "auto";
  SessionUpdate update{full_session()};
  update.session.id.reset();
  update.session.object.reset();
  const std::vector<ClientEventBody> bodies = {
      update,
      InputAudioBufferAppend{std::string("\x10\x00\x20\x00\xf0\xff", 6)},
      InputAudioBufferCommit{},
      InputAudioBufferClear{},
      create,
      create_audio,
      ConversationItemTruncate{"item_2", 0, 1500},
      ResponseCreate{params},
      ResponseCreate{},
      ResponseCancel{std::string("resp_1")},
      ResponseCancel{},
  };
  std::set<size_t> kinds;
  for (const ClientEventBody& b : bodies) {
    kinds.insert(b.index());
    EXPECT_EQ(client_roundtrip_error({std::string("evt_client_1"), b}), "") << type_name(b);
    EXPECT_EQ(client_roundtrip_error({std::nullopt, b}), "") << type_name(b);
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<ClientEventBody>) << "a client event is untested";
}

TEST(RealtimeEvents, EveryServerEventRoundTrips) {
  PartRef ref{"resp_1", "item_2", 0, 0};
  Content audio_part;
  audio_part.type = ContentType::kAudio;
  audio_part.transcript = std::optional<std::string>("");
  Content text_part;
  text_part.type = ContentType::kText;
  text_part.text = "Hi.";
  Response created;
  created.id = "resp_1";
  created.conversation_id = "conv_1";
  created.output_modalities = {Modality::kAudio};
  created.output_format = AudioFormat{"audio/pcm", 24000};
  created.voice = "alloy";
  Response done = created;
  done.status = "cancelled";
  done.status_details = StatusDetails{"cancelled", std::string("client_cancelled"), {}, {}};
  done.output.push_back(assistant_audio_item());
  Usage usage;
  usage.total_tokens = 30;
  usage.input_tokens = 20;
  usage.output_tokens = 10;
  usage.input_token_details.text_tokens = 20;
  usage.input_token_details.audio_tokens = 0;
  usage.input_token_details.cached_tokens = 0;
  usage.output_token_details.text_tokens = 10;
  usage.output_token_details.audio_tokens = 0;
  done.usage = usage;
  Response failed = created;
  failed.status = "failed";
  failed.status_details =
      StatusDetails{"failed", {}, std::string("server_error"), std::string("llm_failed")};
  ErrorInfo err;
  err.code = "invalid_base64";
  err.message = "Invalid value for 'audio': not valid base64.";
  err.param = "audio";
  err.event_id = "evt_7";
  ErrorInfo server_err;
  server_err.type = "server_error";
  server_err.code = "stt_failed";
  server_err.message = "speech-to-text server unreachable";
  const std::vector<ServerEventBody> bodies = {
      SessionCreated{full_session()},
      SessionUpdated{full_session()},
      InputAudioBufferSpeechStarted{1200, "item_1"},
      InputAudioBufferSpeechStopped{3400, "item_1"},
      InputAudioBufferCommitted{std::optional<std::string>(), "item_1"},
      InputAudioBufferCommitted{std::optional<std::string>("item_0"), "item_1"},
      InputAudioBufferCleared{},
      ConversationItemAdded{std::optional<std::string>(), user_text_item("hello")},
      ConversationItemDone{std::optional<std::string>("item_1"), assistant_audio_item()},
      ConversationItemTruncated{"item_2", 0, 640},
      InputAudioTranscriptionDelta{"item_1", 0, "hel"},
      InputAudioTranscriptionCompleted{"item_1", 0, "hello there", 1.5},
      ResponseCreated{created},
      ResponseDone{done},
      ResponseDone{failed},
      ResponseOutputItemAdded{"resp_1", 0, assistant_audio_item()},
      ResponseOutputItemDone{"resp_1", 0, assistant_audio_item()},
      ResponseContentPartAdded{ref, audio_part},
      ResponseContentPartDone{ref, text_part},
      ResponseOutputAudioDelta{ref, std::string("\x00\x01\x02\x03", 4)},
      ResponseOutputAudioDone{ref},
      ResponseOutputAudioTranscriptDelta{ref, "You "},
      ResponseOutputAudioTranscriptDone{ref, "You said: hello."},
      ResponseOutputTextDelta{ref, "You "},
      ResponseOutputTextDone{ref, "You said: hello."},
      Error{err},
      Error{server_err},
  };
  std::set<size_t> kinds;
  for (const ServerEventBody& b : bodies) {
    kinds.insert(b.index());
    EXPECT_EQ(server_roundtrip_error({"event_42", b}), "") << type_name(b);
  }
  EXPECT_EQ(kinds.size(), std::variant_size_v<ServerEventBody>) << "a server event is untested";
}

TEST(RealtimeEvents, TypeNamesAreTheGaNames) {
  EXPECT_STREQ(type_name(ServerEventBody{ConversationItemAdded{}}), "conversation.item.added");
  EXPECT_STREQ(type_name(ServerEventBody{ResponseOutputAudioDelta{}}),
               "response.output_audio.delta");
  EXPECT_STREQ(type_name(ServerEventBody{ResponseOutputAudioTranscriptDone{}}),
               "response.output_audio_transcript.done");
  EXPECT_STREQ(type_name(ServerEventBody{ResponseOutputTextDelta{}}), "response.output_text.delta");
  EXPECT_STREQ(type_name(ClientEventBody{ConversationItemTruncate{}}),
               "conversation.item.truncate");
}

TEST(RealtimeEvents, TheSessionUpdateOfTheGaInterfaceParses) {
  // As the openai 6.x types (RealtimeSessionCreateRequest) shape it.
  const char* text = R"({"type":"session.update","event_id":"evt_1","session":{
    "type":"realtime","model":"gpt-realtime","instructions":"Be brief.",
    "output_modalities":["audio"],
    "audio":{"input":{"format":{"type":"audio/pcm","rate":24000},
                      "turn_detection":{"type":"server_vad","threshold":0.5,"prefix_padding_ms":300,
                                        "silence_duration_ms":1500,"create_response":true,
                                        "interrupt_response":true,"idle_timeout_ms":null},
                      "transcription":{"model":"whisper-1"},
                      "noise_reduction":{"type":"near_field"}},
             "output":{"format":{"type":"audio/pcm","rate":24000},"voice":"alloy","speed":1.0}},
    "tools":[],"tool_choice":"auto","tracing":null}})";
  ClientParse p = parse_client_event(text);
  ASSERT_TRUE(p.ok()) << p.error.message;
  EXPECT_EQ(p.event->event_id, "evt_1");
  const Session& s = std::get<SessionUpdate>(p.event->body).session;
  EXPECT_EQ(s.type, "realtime");
  EXPECT_EQ(s.instructions, "Be brief.");
  ASSERT_TRUE(s.output_modalities);
  EXPECT_EQ(*s.output_modalities, std::vector<Modality>{Modality::kAudio});
  ASSERT_TRUE(s.input_format);
  EXPECT_EQ(s.input_format->type, "audio/pcm");
  EXPECT_EQ(s.input_format->rate, 24000);
  ASSERT_TRUE(s.turn_detection && *s.turn_detection);
  const TurnDetection& t = **s.turn_detection;
  EXPECT_EQ(t.type, "server_vad");
  EXPECT_EQ(t.threshold, 0.5);
  EXPECT_EQ(t.prefix_padding_ms, 300);
  EXPECT_EQ(t.silence_duration_ms, 1500);
  EXPECT_EQ(t.create_response, true);
  EXPECT_EQ(t.interrupt_response, true);
  EXPECT_EQ(s.voice, "alloy");
  EXPECT_EQ(s.speed, 1.0);
  // Accepted but not acted on: listed, not refused.
  EXPECT_EQ(s.ignored,
            (std::vector<std::string>{"session.tool_choice", "session.tools", "session.tracing",
                                      "session.audio.input.noise_reduction"}));
}

TEST(RealtimeEvents, TurnDetectionNullTurnsItOffAndAbsentLeavesIt) {
  ClientParse off = parse_client_event(
      R"({"type":"session.update","session":{"type":"realtime","audio":{"input":{"turn_detection":null}}}})");
  ASSERT_TRUE(off.ok()) << off.error.message;
  const Session& s = std::get<SessionUpdate>(off.event->body).session;
  ASSERT_TRUE(s.turn_detection.has_value());
  EXPECT_FALSE(s.turn_detection->has_value());
  ClientParse absent =
      parse_client_event(R"({"type":"session.update","session":{"type":"realtime"}})");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(std::get<SessionUpdate>(absent.event->body).session.turn_detection.has_value());
}

TEST(RealtimeEvents, ACustomVoiceObjectNamesTheVoice) {
  ClientParse p = parse_client_event(
      R"({"type":"session.update","session":{"type":"realtime","audio":{"output":{"voice":{"id":"kal"}}}}})");
  ASSERT_TRUE(p.ok()) << p.error.message;
  EXPECT_EQ(std::get<SessionUpdate>(p.event->body).session.voice, "kal");
}

TEST(RealtimeEvents, AppendDecodesTheAudio) {
  const std::string pcm("\x01\x00\xff\x7f\x00\x80", 6);
  ClientParse p = parse_client_event(R"({"type":"input_audio_buffer.append","audio":")" +
                                     base64_encode(pcm) + R"("})");
  ASSERT_TRUE(p.ok()) << p.error.message;
  EXPECT_EQ(std::get<InputAudioBufferAppend>(p.event->body).audio, pcm);
}

TEST(RealtimeEvents, ItemCreateWithTextAndAudioContent) {
  ClientParse p = parse_client_event(
      R"({"type":"conversation.item.create","item":{"type":"message","role":"user",
          "content":[{"type":"input_text","text":"hi"},{"type":"input_audio","audio":"AAABAA=="}]}})");
  ASSERT_TRUE(p.ok()) << p.error.message;
  const Item& item = std::get<ConversationItemCreate>(p.event->body).item;
  EXPECT_EQ(item.role, Role::kUser);
  ASSERT_EQ(item.content.size(), 2u);
  EXPECT_EQ(item.content[0].type, ContentType::kInputText);
  EXPECT_EQ(item.content[0].text, "hi");
  EXPECT_EQ(item.content[1].type, ContentType::kInputAudio);
  EXPECT_EQ(item.content[1].audio, std::string("\x00\x00\x01\x00", 4));
}

TEST(RealtimeEvents, ResponseCreateOverrides) {
  ClientParse p = parse_client_event(
      R"({"type":"response.create","response":{"instructions":"Shout.","output_modalities":["text"],
          "metadata":{"k":"v"}}})");
  ASSERT_TRUE(p.ok()) << p.error.message;
  const ResponseParams& r = *std::get<ResponseCreate>(p.event->body).response;
  EXPECT_EQ(r.instructions, "Shout.");
  EXPECT_EQ(r.output_modalities, std::vector<Modality>{Modality::kText});
  EXPECT_EQ(r.ignored, std::vector<std::string>{"response.metadata"});
}

// The error a client gets for each kind of bad input: code, the field at fault, its event_id.
struct Bad {
  const char* text;
  const char* code;
  std::optional<std::string> param;
};

TEST(RealtimeEvents, BadInputIsRefusedWithTheFieldAtFault) {
  const std::vector<Bad> cases = {
      {"{not json", "invalid_json", std::nullopt},
      {"[1,2]", "invalid_json", std::nullopt},
      {R"({"event_id":"e"})", "missing_required_parameter", std::string("type")},
      {R"({"type":7})", "invalid_type", std::string("type")},
      {R"({"type":"session.frobnicate"})", "unknown_event_type", std::string("type")},
      {R"({"type":"conversation.item.delete","item_id":"x"})", "unsupported_event",
       std::string("type")},
      {R"({"type":"input_audio_buffer.append"})", "missing_required_parameter",
       std::string("audio")},
      {R"({"type":"input_audio_buffer.append","audio":"not*base64"})", "invalid_base64",
       std::string("audio")},
      {R"({"type":"input_audio_buffer.append","audio":"QUJD RA=="})", "invalid_base64",
       std::string("audio")},
      {R"({"type":"input_audio_buffer.append","audio":"A"})", "invalid_base64",
       std::string("audio")},
      {R"({"type":"input_audio_buffer.append","audio":12})", "invalid_type", std::string("audio")},
      {R"({"type":"input_audio_buffer.commit","extra":1})", "unknown_parameter",
       std::string("extra")},
      {R"({"type":"session.update","session":{"instructions":"x"}})", "missing_required_parameter",
       std::string("session.type")},
      {R"({"type":"session.update","session":{"type":"realtime","modalities":["text"]}})",
       "unknown_parameter", std::string("session.modalities")},
      {R"({"type":"session.update","session":{"type":"realtime","output_modalities":["audio","text"]}})",
       "invalid_value", std::string("session.output_modalities")},
      {R"({"type":"session.update","session":{"type":"realtime","output_modalities":["video"]}})",
       "invalid_value", std::string("session.output_modalities")},
      {R"({"type":"session.update","session":{"type":"realtime","audio":{"input":{"format":{"type":"audio/flac"}}}}})",
       "invalid_value", std::string("session.audio.input.format.type")},
      {R"({"type":"session.update","session":{"type":"realtime","audio":{"input":{"turn_detection":{"type":"server_vad","threshold":1.5}}}}})",
       "invalid_value", std::string("session.audio.input.turn_detection.threshold")},
      {R"({"type":"session.update","session":{"type":"realtime","audio":{"input":{"turn_detection":{"type":"server_vad","silence_duration_ms":-5}}}}})",
       "invalid_value", std::string("session.audio.input.turn_detection.silence_duration_ms")},
      {R"({"type":"session.update","session":{"type":"realtime","audio":{"input":{"turn_detection":{"type":"push_to_talk"}}}}})",
       "invalid_value", std::string("session.audio.input.turn_detection.type")},
      {R"({"type":"conversation.item.create","item":{"type":"function_call","name":"f","arguments":"{}"}})",
       "unsupported_item_type", std::string("item.type")},
      {R"({"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_image","image_url":"x"}]}})",
       "unknown_parameter", std::string("item.content[0].image_url")},
      {R"({"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_image"}]}})",
       "unsupported_content_type", std::string("item.content[0].type")},
      {R"({"type":"conversation.item.create","item":{"type":"message","role":"robot","content":[]}})",
       "invalid_value", std::string("item.role")},
      {R"({"type":"conversation.item.create","item":{"type":"message","role":"user","content":"hi"}})",
       "invalid_type", std::string("item.content")},
      {R"({"type":"conversation.item.truncate","item_id":"item_1","content_index":0})",
       "missing_required_parameter", std::string("audio_end_ms")},
      {R"({"type":"conversation.item.truncate","item_id":"item_1","content_index":0,"audio_end_ms":-1})",
       "invalid_type", std::string("audio_end_ms")},
      {R"({"type":"conversation.item.truncate","item_id":"bad id!","content_index":0,"audio_end_ms":1})",
       "invalid_value", std::string("item_id")},
      {R"({"type":"response.create","response":{"conversation":"sideways"}})", "invalid_value",
       std::string("response.conversation")},
      {R"({"type":"response.cancel","response_id":5})", "invalid_type", std::string("response_id")},
  };
  for (const Bad& c : cases) {
    ClientParse p = parse_client_event(c.text);
    ASSERT_FALSE(p.ok()) << c.text;
    EXPECT_EQ(p.error.type, "invalid_request_error") << c.text;
    EXPECT_EQ(p.error.code, c.code) << c.text << ": " << p.error.message;
    EXPECT_EQ(p.error.param, c.param) << c.text << ": " << p.error.message;
    EXPECT_FALSE(p.error.message.empty()) << c.text;
  }
}

TEST(RealtimeEvents, ABetaFieldIsNamedWithItsGaName) {
  ClientParse p = parse_client_event(
      R"({"type":"session.update","session":{"type":"realtime","input_audio_format":"pcm16"}})");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error.message.find("session.audio.input.format"), std::string::npos)
      << p.error.message;
}

TEST(RealtimeEvents, TheErrorNamesTheClientsEventId) {
  ClientParse p = parse_client_event(R"({"type":"bogus.event","event_id":"evt_99"})");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.event_id, "evt_99");
  EXPECT_EQ(p.error.event_id, "evt_99");
  // The documented shape: {type:"error", event_id, error:{type, code, message, param, event_id}}.
  const json j = json::parse(to_json(ServerEvent{"event_3", Error{p.error}}));
  EXPECT_EQ(j["type"], "error");
  EXPECT_EQ(j["event_id"], "event_3");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["code"], "unknown_event_type");
  EXPECT_EQ(j["error"]["param"], "type");
  EXPECT_EQ(j["error"]["event_id"], "evt_99");
  EXPECT_TRUE(j["error"]["message"].is_string());
  // Without a param or event_id, both are present as null.
  const json k = json::parse(to_json(ServerEvent{"event_4", Error{ErrorInfo{}}}));
  EXPECT_TRUE(k["error"].contains("param") && k["error"]["param"].is_null());
  EXPECT_TRUE(k["error"].contains("event_id") && k["error"]["event_id"].is_null());
}

TEST(RealtimeEvents, AnEventLargerThanTheLimitIsRefused) {
  std::string big = R"({"type":"input_audio_buffer.append","audio":")";
  big += std::string(kMaxEventBytes, 'A');
  big += "\"}";
  ClientParse p = parse_client_event(big);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error.code, "message_too_large");
}

TEST(RealtimeEvents, ServerEventsNeedAnEventId) {
  ServerParse p = parse_server_event(R"({"type":"input_audio_buffer.cleared"})");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error.param, "event_id");
}

TEST(RealtimeEvents, ResponseDoneCarriesUsageAndStatus) {
  Response r;
  r.id = "resp_9";
  r.status = "completed";
  r.status_details = StatusDetails{"completed", {}, {}, {}};
  r.output_modalities = {Modality::kText};
  Usage u;
  u.input_tokens = 12;
  u.output_tokens = 5;
  u.total_tokens = 17;
  r.usage = u;
  const json j = json::parse(to_json(ServerEvent{"event_1", ResponseDone{r}}));
  EXPECT_EQ(j["response"]["object"], "realtime.response");
  EXPECT_EQ(j["response"]["status"], "completed");
  EXPECT_EQ(j["response"]["usage"]["total_tokens"], 17);
  EXPECT_EQ(j["response"]["usage"]["input_tokens"], 12);
  EXPECT_EQ(j["response"]["usage"]["output_tokens"], 5);
  EXPECT_EQ(j["response"]["output_modalities"], json::array({"text"}));
  // response.created: usage null, status_details null, as the API sends it.
  Response created;
  created.id = "resp_9";
  const json c = json::parse(to_json(ServerEvent{"event_0", ResponseCreated{created}}));
  EXPECT_TRUE(c["response"]["usage"].is_null());
  EXPECT_EQ(c["response"]["status"], "in_progress");
}

TEST(RealtimeEvents, ApplyUpdateReplacesWhatIsNamedAndMergesTurnDetection) {
  Session s = full_session();
  Session patch;
  patch.instructions = "New.";
  TurnDetection t;
  t.silence_duration_ms = 1200;
  patch.turn_detection = t;
  apply_update(patch, &s);
  EXPECT_EQ(s.instructions, "New.");
  EXPECT_EQ(s.voice, "alloy");
  ASSERT_TRUE(s.turn_detection && *s.turn_detection);
  EXPECT_EQ((*s.turn_detection)->silence_duration_ms, 1200);
  EXPECT_EQ((*s.turn_detection)->prefix_padding_ms, 300);  // kept
  Session off;
  off.turn_detection = std::optional<TurnDetection>();
  apply_update(off, &s);
  EXPECT_TRUE(s.turn_detection && !*s.turn_detection);
  Session on;
  on.turn_detection = TurnDetection{};
  apply_update(on, &s);
  ASSERT_TRUE(s.turn_detection && *s.turn_detection);
  EXPECT_FALSE((*s.turn_detection)->silence_duration_ms);  // a fresh one: nothing merged
}

TEST(RealtimeBase64, KnownVectorsAndStrictness) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"},
                                                         {std::string("\xff\xfe\x00", 3), "//4A"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    std::string out;
    ASSERT_TRUE(base64_decode(encoded, &out)) << encoded;
    EXPECT_EQ(out, plain);
    EXPECT_EQ(base64_decoded_size(encoded), plain.size());
  }
  std::string out;
  EXPECT_TRUE(base64_decode("Zm8", &out));  // padding left off
  EXPECT_EQ(out, "fo");
  for (const char* bad : {"Zg=", "Z", "Zm9v\n", "Zm-_", "Zg==Zg==", "Zh==", "=Zg=", "Zm9vY==="})
    EXPECT_FALSE(base64_decode(bad, &out)) << bad;
}

}  // namespace
}  // namespace earshot::protocol::realtime
