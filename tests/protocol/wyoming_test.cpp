// Wyoming framing and events (protocol/wyoming/): byte streams cut anywhere give the same events,
// limits are enforced with a clear error, and each event the bridge writes reads back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "protocol/wyoming/events.h"
#include "protocol/wyoming/framing.h"

namespace earshot::protocol::wyoming {
namespace {

using json = nlohmann::json;

std::vector<Event> read_all(std::string_view bytes, size_t step, EventReader* reader) {
  std::vector<Event> out;
  for (size_t at = 0; at < bytes.size(); at += step)
    EXPECT_TRUE(reader->feed(bytes.substr(at, step), &out)) << reader->error().message;
  return out;
}

// The three parts as the README describes them, written by hand (not by our serialiser).
const std::string kChunkOnWire =
    "{\"type\": \"audio-chunk\", \"data\": {\"rate\": 22050}, \"data_length\": 27, "
    "\"payload_length\": 4, \"version\": \"1.5.2\"}\n"
    "{\"width\": 2, \"channels\": 1}"
    "\x01\x02\x03\x04";

TEST(WyomingFraming, ReadsHeaderDataAndPayloadSplitAnywhere) {
  ASSERT_EQ(std::string("{\"width\": 2, \"channels\": 1}").size(), 27u);
  const std::string stream = kChunkOnWire + "{\"type\":\"audio-stop\"}\n" + kChunkOnWire;
  for (size_t step : {size_t(1), size_t(3), size_t(7), stream.size()}) {
    EventReader reader;
    std::vector<Event> events = read_all(stream, step, &reader);
    ASSERT_EQ(events.size(), 3u) << "step " << step;
    EXPECT_EQ(events[0].type, "audio-chunk");
    EXPECT_EQ(events[0].payload, "\x01\x02\x03\x04");
    // Data from the header and the data block, merged.
    Read<AudioChunk> chunk = read_audio_chunk(events[0]);
    ASSERT_TRUE(chunk.ok()) << chunk.error;
    EXPECT_EQ(chunk.value->format.rate, 22050);
    EXPECT_EQ(chunk.value->format.width, 2);
    EXPECT_EQ(chunk.value->format.channels, 1);
    EXPECT_EQ(events[1].type, "audio-stop");
    EXPECT_EQ(events[1].payload, "");
    EXPECT_EQ(events[2].payload, events[0].payload);
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(WyomingFraming, DataBlockOverridesHeaderData) {
  EventReader reader;
  std::vector<Event> out;
  const std::string extra = "{\"text\":\"second\"}";
  ASSERT_TRUE(
      reader.feed("{\"type\":\"transcript\",\"data\":{\"text\":\"first\",\"language\":\"en\"},"
                  "\"data_length\":" +
                      std::to_string(extra.size()) + "}\n" + extra,
                  &out));
  ASSERT_EQ(out.size(), 1u);
  json data = json::parse(out[0].data);
  EXPECT_EQ(data["text"], "second");
  EXPECT_EQ(data["language"], "en");
}

TEST(WyomingFraming, SerialisedEventsReadBack) {
  std::string wire;
  serialize_to(audio_start_event({24000, 2, 1}, 0), &wire);
  serialize_to(audio_chunk_event({24000, 2, 1}, std::string("\0\1\2\3", 4), 10), &wire);
  const int16_t samples[3] = {1, -2, 32767};
  append_audio_chunk(24000, samples, 3, &wire);
  serialize_to(audio_stop_event(), &wire);
  serialize_to(transcript_event("hello \"there\"\n", "en"), &wire);
  EventReader reader;
  std::vector<Event> out = read_all(wire, 5, &reader);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(read_audio_start(out[0]).value->rate, 24000);
  EXPECT_EQ(out[1].payload, std::string("\0\1\2\3", 4));
  Read<AudioChunk> chunk = read_audio_chunk(out[2]);
  ASSERT_TRUE(chunk.ok()) << chunk.error;
  EXPECT_EQ(chunk.value->format.rate, 24000);
  EXPECT_EQ(chunk.value->audio, std::string("\x01\x00\xfe\xff\xff\x7f", 6));
  EXPECT_EQ(out[3].type, "audio-stop");
  EXPECT_EQ(*read_text(out[4]).value, "hello \"there\"\n");
  // Every header carries our version, as the reference writer does.
  EXPECT_NE(wire.find(std::string("\"version\":\"") + kVersion + "\""), std::string::npos);
}

TEST(WyomingFraming, LimitsAndMalformedHeadersBreakTheStreamWithAClearError) {
  struct Case {
    std::string bytes, code;
  };
  FramingLimits limits;
  limits.max_header_bytes = 64;
  limits.max_data_bytes = 100;
  limits.max_payload_bytes = 1000;
  const std::vector<Case> cases = {
      {std::string(65, 'x'), "header_too_long"},  // no newline within the limit
      {"{\"type\":\"" + std::string(80, 'a') + "\"}\n", "header_too_long"},
      {"not json\n", "bad_header"},
      {"[1,2]\n", "bad_header"},
      {"{\"data\":{}}\n", "missing_type"},
      {"{\"type\":\"\"}\n", "missing_type"},
      {"{\"type\":\"x\",\"data\":[1]}\n", "bad_header"},
      {"{\"type\":\"x\",\"payload_length\":-1}\n", "bad_length"},
      {"{\"type\":\"x\",\"data_length\":\"3\"}\n", "bad_length"},
      {"{\"type\":\"x\",\"data_length\":101}\n", "data_too_long"},
      {"{\"type\":\"x\",\"payload_length\":1001}\n", "payload_too_long"},
      {"{\"type\":\"x\",\"data_length\":3}\n[1]", "bad_data"},
  };
  for (const Case& c : cases) {
    EventReader reader(limits);
    std::vector<Event> out;
    EXPECT_FALSE(reader.feed(c.bytes, &out)) << c.bytes;
    EXPECT_TRUE(reader.broken());
    EXPECT_EQ(reader.error().code, c.code) << c.bytes;
    EXPECT_FALSE(reader.error().message.empty());
    EXPECT_TRUE(out.empty());
    // Nothing more is read from a broken stream.
    EXPECT_FALSE(reader.feed("{\"type\":\"ping\"}\n", &out));
    EXPECT_TRUE(out.empty());
  }
  // At the limits exactly: accepted.
  EventReader reader(limits);
  std::vector<Event> out;
  EXPECT_TRUE(
      reader.feed("{\"type\":\"x\",\"payload_length\":1000}\n" + std::string(1000, 'p'), &out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].payload.size(), 1000u);
}

TEST(WyomingEvents, RunPipelineFromASatellite) {
  Event e{kRunPipeline,
          R"({"start_stage":"asr","end_stage":"tts","restart_on_end":false,"name":null,)"
          R"("snd_format":{"rate":22050,"width":2,"channels":1}})",
          ""};
  Read<RunPipeline> r = read_run_pipeline(e);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.value->start_stage, PipelineStage::kAsr);
  EXPECT_EQ(r.value->end_stage, PipelineStage::kTts);
  ASSERT_TRUE(r.value->snd_format);
  EXPECT_EQ(r.value->snd_format->rate, 22050);
  EXPECT_FALSE(r.value->name);
  // Round trip.
  Read<RunPipeline> again = read_run_pipeline(run_pipeline_event(*r.value));
  ASSERT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.value->snd_format->rate, 22050);

  EXPECT_FALSE(read_run_pipeline({kRunPipeline, R"({"start_stage":"asr"})", ""}).ok());
  EXPECT_FALSE(
      read_run_pipeline({kRunPipeline, R"({"start_stage":"tts","end_stage":"asr"})", ""}).ok());
  EXPECT_FALSE(
      read_run_pipeline({kRunPipeline, R"({"start_stage":"nap","end_stage":"tts"})", ""}).ok());
}

TEST(WyomingEvents, AudioFormatIsRequiredOnChunks) {
  EXPECT_FALSE(read_audio_chunk({kAudioChunk, R"({"rate":16000,"width":2})", "ab"}).ok());
  EXPECT_FALSE(read_audio_chunk({kAudioChunk, R"({"rate":0,"width":2,"channels":1})", ""}).ok());
  Read<AudioChunk> r = read_audio_chunk(
      {kAudioChunk, R"({"rate":16000,"width":2,"channels":1,"timestamp":null})", "ab"});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.value->timestamp);
  EXPECT_FALSE(read_audio_chunk({kAudioStart, "{}", ""}).ok());  // the wrong type
}

TEST(WyomingEvents, SynthesizeTranscribeDetectionAndSatelliteInfo) {
  Read<Synthesize> s = read_synthesize(synthesize_event({"Hi.", "kal", std::nullopt, "x"}));
  ASSERT_TRUE(s.ok()) << s.error;
  EXPECT_EQ(s.value->text, "Hi.");
  EXPECT_EQ(*s.value->voice_name, "kal");
  EXPECT_EQ(*s.value->voice_speaker, "x");
  EXPECT_FALSE(read_synthesize({kSynthesize, R"({"voice":{}})", ""}).ok());

  Read<Transcribe> t =
      read_transcribe({kTranscribe, R"({"language":"en","sendPartials":false})", ""});
  ASSERT_TRUE(t.ok()) << t.error;
  EXPECT_EQ(*t.value->language, "en");

  Read<Detection> d = read_detection({kDetection, R"({"name":"ok_nabu","timestamp":1234})", ""});
  ASSERT_TRUE(d.ok()) << d.error;
  EXPECT_EQ(*d.value->name, "ok_nabu");
  EXPECT_EQ(*d.value->timestamp, 1234);

  Read<SatelliteInfo> i = read_satellite_info(
      {kInfo,
       R"({"asr":[],"satellite":{"name":"kitchen sat","area":"Kitchen","installed":true,)"
       R"("snd_format":{"rate":22050,"width":2,"channels":1}}})",
       ""});
  ASSERT_TRUE(i.ok()) << i.error;
  EXPECT_EQ(i.value->name, "kitchen sat");
  EXPECT_EQ(*i.value->area, "Kitchen");
  EXPECT_EQ(i.value->snd_format->rate, 22050);
  EXPECT_FALSE(read_satellite_info({kInfo, R"({"asr":[]})", ""}).ok());
}

TEST(WyomingEvents, InfoDescribesAsrAndTtsAsHomeAssistantReadsThem) {
  ServiceInfo info;
  Artifact program{"earshot", "Earshot bridge", "0.1.0", {"Earshot", "https://x"}, true, {}};
  Artifact model{"pocketsphinx", "en-us", "", {"CMU", "https://y"}, true, {"en"}};
  info.asr.push_back({program, {model}});
  info.tts.push_back({program, {Artifact{"kal", "flite", "", {"CMU", "z"}, true, {"en"}}}});
  json data = json::parse(info_event(info).data);
  ASSERT_EQ(data["asr"].size(), 1u);
  EXPECT_EQ(data["asr"][0]["name"], "earshot");
  EXPECT_EQ(data["asr"][0]["installed"], true);
  EXPECT_EQ(data["asr"][0]["models"][0]["languages"][0], "en");
  EXPECT_EQ(data["asr"][0]["models"][0]["attribution"]["name"], "CMU");
  EXPECT_EQ(data["tts"][0]["voices"][0]["name"], "kal");
  EXPECT_TRUE(data["wake"].is_array());
}

}  // namespace
}  // namespace earshot::protocol::wyoming
