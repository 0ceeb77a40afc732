#include "protocol/wyoming/events.h"

#include <nlohmann/json.hpp>

#include <cstring>

namespace earshot::protocol::wyoming {
namespace {

using json = nlohmann::json;

constexpr std::pair<PipelineStage, const char*> kStages[] = {
    {PipelineStage::kWake, "wake"},     {PipelineStage::kAsr, "asr"},
    {PipelineStage::kIntent, "intent"}, {PipelineStage::kHandle, "handle"},
    {PipelineStage::kTts, "tts"},
};

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Event make(const char* type, const json& data = json::object(), std::string payload = {}) {
  return Event{type, data.empty() ? std::string("{}") : dump(data), std::move(payload)};
}

// The event's data as a JSON object (an event that came through EventReader always has one).
bool data_of(const Event& e, const char* type, json* out, std::string* error) {
  if (e.type != type) {
    *error = std::string("expected ") + type + ", got " + e.type;
    return false;
  }
  *out = json::parse(e.data.empty() ? std::string("{}") : e.data, nullptr, false);
  if (out->is_discarded() || !out->is_object()) {
    *error = std::string(type) + ": data is not a JSON object";
    return false;
  }
  return true;
}

// Optional fields: absent or null is "none"; a value of the wrong type is an error.
bool opt_string(const json& j, const char* key, std::optional<std::string>* out,
                std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string()) {
    *error = std::string(key) + " must be a string";
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool opt_int(const json& j, const char* key, std::optional<int64_t>* out, std::string* error) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
    return true;
  }
  if (it->is_number_float()) {  // some peers write timestamps as floats
    const double v = it->get<double>();
    if (v > -9.0e18 && v < 9.0e18) {
      *out = int64_t(v);
      return true;
    }
  }
  *error = std::string(key) + " must be a number";
  return false;
}

bool format_of(const json& j, AudioFormat* f, std::string* error) {
  for (auto [key, field] :
       {std::pair{"rate", &f->rate}, {"width", &f->width}, {"channels", &f->channels}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) {
      *error = std::string("audio format: ") + key + " (an integer) is required";
      return false;
    }
    const int64_t v = it->get<int64_t>();
    if (v <= 0 || v > 1000000) {
      *error = std::string("audio format: ") + key + " out of range";
      return false;
    }
    *field = int(v);
  }
  return true;
}

json format_json(const AudioFormat& f) {
  return {{"rate", f.rate}, {"width", f.width}, {"channels", f.channels}};
}

json artifact_json(const Artifact& a) {
  json j = {{"name", a.name},
            {"attribution", {{"name", a.attribution.name}, {"url", a.attribution.url}}},
            {"installed", a.installed},
            {"description", a.description},
            {"version", a.version.empty() ? json() : json(a.version)}};
  return j;
}

}  // namespace

const char* to_string(PipelineStage stage) {
  for (const auto& [s, name] : kStages)
    if (s == stage) return name;
  return "asr";
}

Read<AudioFormat> read_audio_start(const Event& e) {
  Read<AudioFormat> r;
  json j;
  AudioFormat f;
  if (data_of(e, kAudioStart, &j, &r.error) && format_of(j, &f, &r.error)) r.value = f;
  return r;
}

Read<AudioFormat> read_audio_format(const Event& e) {
  Read<AudioFormat> r;
  json j;
  AudioFormat f;
  if (data_of(e, kAudioChunk, &j, &r.error) && format_of(j, &f, &r.error)) r.value = f;
  return r;
}

Read<AudioChunk> read_audio_chunk(const Event& e) {
  Read<AudioChunk> r;
  json j;
  AudioChunk c;
  if (!data_of(e, kAudioChunk, &j, &r.error) || !format_of(j, &c.format, &r.error) ||
      !opt_int(j, "timestamp", &c.timestamp, &r.error))
    return r;
  c.audio = e.payload;
  r.value = std::move(c);
  return r;
}

Read<RunPipeline> read_run_pipeline(const Event& e) {
  Read<RunPipeline> r;
  json j;
  if (!data_of(e, kRunPipeline, &j, &r.error)) return r;
  RunPipeline p;
  for (auto [key, field] :
       {std::pair{"start_stage", &p.start_stage}, {"end_stage", &p.end_stage}}) {
    auto it = j.find(key);
    bool found = false;
    if (it != j.end() && it->is_string())
      for (const auto& [s, name] : kStages)
        if (it->get_ref<const std::string&>() == name) *field = s, found = true;
    if (!found) {
      r.error = std::string("run-pipeline: ") + key + " must be wake, asr, intent, handle or tts";
      return r;
    }
  }
  if (p.end_stage < p.start_stage) {
    r.error = "run-pipeline: end_stage comes before start_stage";
    return r;
  }
  if (!opt_string(j, "name", &p.name, &r.error) ||
      !opt_string(j, "wake_word_name", &p.wake_word_name, &r.error))
    return r;
  if (auto it = j.find("restart_on_end"); it != j.end() && it->is_boolean())
    p.restart_on_end = it->get<bool>();
  if (auto it = j.find("snd_format"); it != j.end() && !it->is_null()) {
    AudioFormat f;
    if (!it->is_object() || !format_of(*it, &f, &r.error)) {
      if (r.error.empty()) r.error = "snd_format must be an object";
      r.error = "run-pipeline: " + r.error;
      return r;
    }
    p.snd_format = f;
  }
  r.value = std::move(p);
  return r;
}

Read<Transcribe> read_transcribe(const Event& e) {
  Read<Transcribe> r;
  json j;
  Transcribe t;
  if (data_of(e, kTranscribe, &j, &r.error) && opt_string(j, "name", &t.name, &r.error) &&
      opt_string(j, "language", &t.language, &r.error))
    r.value = t;
  return r;
}

Read<Synthesize> read_synthesize(const Event& e) {
  Read<Synthesize> r;
  json j;
  if (!data_of(e, kSynthesize, &j, &r.error)) return r;
  auto text = j.find("text");
  if (text == j.end() || !text->is_string()) {
    r.error = "synthesize: text (a string) is required";
    return r;
  }
  Synthesize s;
  s.text = text->get<std::string>();
  if (auto voice = j.find("voice"); voice != j.end() && !voice->is_null()) {
    if (!voice->is_object()) {
      r.error = "synthesize: voice must be an object";
      return r;
    }
    if (!opt_string(*voice, "name", &s.voice_name, &r.error) ||
        !opt_string(*voice, "language", &s.voice_language, &r.error) ||
        !opt_string(*voice, "speaker", &s.voice_speaker, &r.error))
      return r;
  }
  r.value = std::move(s);
  return r;
}

Read<Detection> read_detection(const Event& e) {
  Read<Detection> r;
  json j;
  Detection d;
  if (data_of(e, kDetection, &j, &r.error) && opt_string(j, "name", &d.name, &r.error) &&
      opt_int(j, "timestamp", &d.timestamp, &r.error))
    r.value = d;
  return r;
}

Read<SatelliteInfo> read_satellite_info(const Event& e) {
  Read<SatelliteInfo> r;
  json j;
  if (!data_of(e, kInfo, &j, &r.error)) return r;
  SatelliteInfo s;
  auto sat = j.find("satellite");
  if (sat == j.end() || !sat->is_object()) {
    r.error = "info: no satellite section (is this a satellite?)";
    return r;
  }
  std::optional<std::string> name;
  if (!opt_string(*sat, "name", &name, &r.error) || !opt_string(*sat, "area", &s.area, &r.error))
    return r;
  s.name = name.value_or("");
  if (auto f = sat->find("snd_format"); f != sat->end() && f->is_object()) {
    AudioFormat format;
    if (format_of(*f, &format, &r.error)) s.snd_format = format;
    r.error.clear();  // a malformed optional field is ignored
  }
  r.value = std::move(s);
  return r;
}

Read<std::string> read_text(const Event& e) {
  Read<std::string> r;
  json j = json::parse(e.data.empty() ? std::string("{}") : e.data, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    r.error = e.type + ": data is not a JSON object";
    return r;
  }
  std::optional<std::string> text;
  if (opt_string(j, "text", &text, &r.error)) r.value = text.value_or("");
  return r;
}

Event describe_event() {
  return make(kDescribe);
}

Event info_event(const ServiceInfo& info) {
  json asr = json::array(), tts = json::array();
  for (const auto& [program, models] : info.asr) {
    json p = artifact_json(program);
    p["models"] = json::array();
    for (const Artifact& m : models) {
      json model = artifact_json(m);
      model["languages"] = m.languages;
      p["models"].push_back(std::move(model));
    }
    asr.push_back(std::move(p));
  }
  for (const auto& [program, voices] : info.tts) {
    json p = artifact_json(program);
    p["voices"] = json::array();
    for (const Artifact& v : voices) {
      json voice = artifact_json(v);
      voice["languages"] = v.languages;
      voice["speakers"] = nullptr;
      p["voices"].push_back(std::move(voice));
    }
    tts.push_back(std::move(p));
  }
  return make(kInfo, {{"asr", asr},
                      {"tts", tts},
                      {"handle", json::array()},
                      {"intent", json::array()},
                      {"wake", json::array()}});
}

Event audio_start_event(const AudioFormat& format, std::optional<int64_t> timestamp) {
  json j = format_json(format);
  if (timestamp) j["timestamp"] = *timestamp;
  return make(kAudioStart, j);
}

Event audio_chunk_event(const AudioFormat& format, std::string audio,
                        std::optional<int64_t> timestamp) {
  json j = format_json(format);
  if (timestamp) j["timestamp"] = *timestamp;
  return make(kAudioChunk, j, std::move(audio));
}

Event audio_stop_event(std::optional<int64_t> timestamp) {
  json j = json::object();
  if (timestamp) j["timestamp"] = *timestamp;
  return make(kAudioStop, j);
}

Event transcribe_event(const Transcribe& t) {
  json j = json::object();
  if (t.name) j["name"] = *t.name;
  if (t.language) j["language"] = *t.language;
  return make(kTranscribe, j);
}

Event transcript_event(const std::string& text, const std::optional<std::string>& language) {
  json j = {{"text", text}};
  if (language && !language->empty()) j["language"] = *language;
  return make(kTranscript, j);
}

Event synthesize_event(const Synthesize& s) {
  json j = {{"text", s.text}};
  json voice = json::object();
  if (s.voice_name) voice["name"] = *s.voice_name;
  if (s.voice_language) voice["language"] = *s.voice_language;
  if (s.voice_speaker) voice["speaker"] = *s.voice_speaker;
  if (!voice.empty()) j["voice"] = voice;
  return make(kSynthesize, j);
}

Event run_satellite_event() {
  return make(kRunSatellite);
}
Event pause_satellite_event() {
  return make(kPauseSatellite);
}

Event run_pipeline_event(const RunPipeline& p) {
  json j = {{"start_stage", to_string(p.start_stage)},
            {"end_stage", to_string(p.end_stage)},
            {"restart_on_end", p.restart_on_end}};
  if (p.name) j["name"] = *p.name;
  if (p.wake_word_name) j["wake_word_name"] = *p.wake_word_name;
  if (p.snd_format) j["snd_format"] = format_json(*p.snd_format);
  return make(kRunPipeline, j);
}

Event detection_event(const Detection& d) {
  json j = json::object();
  if (d.name) j["name"] = *d.name;
  if (d.timestamp) j["timestamp"] = *d.timestamp;
  return make(kDetection, j);
}

Event voice_started_event(std::optional<int64_t> timestamp) {
  json j = json::object();
  if (timestamp) j["timestamp"] = *timestamp;
  return make(kVoiceStarted, j);
}

Event voice_stopped_event(std::optional<int64_t> timestamp) {
  json j = json::object();
  if (timestamp) j["timestamp"] = *timestamp;
  return make(kVoiceStopped, j);
}

Event played_event() {
  return make(kPlayed);
}

Event ping_event(const std::optional<std::string>& text) {
  return make(kPing, text ? json{{"text", *text}} : json::object());
}

Event pong_event(const std::optional<std::string>& text) {
  return make(kPong, text ? json{{"text", *text}} : json::object());
}

Event error_event(const std::string& text, const std::optional<std::string>& code) {
  json j = {{"text", text}};
  if (code) j["code"] = *code;
  return make(kError, j);
}

Event handled_event(const std::string& text) {
  return make(kHandled, {{"text", text}});
}

void append_audio_chunk(int rate, const int16_t* samples, size_t count, std::string* out) {
  char data[96];
  const int data_length =
      snprintf(data, sizeof data, "{\"rate\":%d,\"width\":2,\"channels\":1}", rate);
  char header[160];
  const int header_length = snprintf(
      header, sizeof header,
      "{\"type\":\"audio-chunk\",\"version\":\"%s\",\"data_length\":%d,\"payload_length\":%zu}\n",
      kVersion, data_length, count * 2);
  out->append(header, size_t(header_length));
  out->append(data, size_t(data_length));
  const size_t at = out->size();
  out->resize(at + count * 2);
  char* p = out->data() + at;
  for (size_t i = 0; i < count; ++i) {  // little-endian on the wire, whatever the host
    const auto v = uint16_t(samples[i]);
    p[2 * i] = char(v & 0xff);
    p[2 * i + 1] = char(v >> 8);
  }
}

}  // namespace earshot::protocol::wyoming
