// The Wyoming events the bridge speaks, typed (rhasspy/wyoming: audio.py, asr.py, tts.py,
// info.py, pipeline.py, satellite.py, wake.py, vad.py, snd.py, ping.py, error.py). Each has a
// writer (to_event) and, for what a peer sends us, a reader that checks the fields it needs and
// says what is wrong; unknown fields are ignored, as the reference implementation does.
//
// Audio on Wyoming is raw PCM: `rate` Hz, `width` bytes per sample, `channels` interleaved. The
// bridge speaks and takes 16-bit (width 2) little-endian; mono out, any channel count in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/wyoming/framing.h"

namespace earshot::protocol::wyoming {

// Event type names.
inline constexpr const char* kDescribe = "describe";
inline constexpr const char* kInfo = "info";
inline constexpr const char* kAudioStart = "audio-start";
inline constexpr const char* kAudioChunk = "audio-chunk";
inline constexpr const char* kAudioStop = "audio-stop";
inline constexpr const char* kTranscribe = "transcribe";
inline constexpr const char* kTranscript = "transcript";
inline constexpr const char* kSynthesize = "synthesize";
inline constexpr const char* kRunSatellite = "run-satellite";
inline constexpr const char* kPauseSatellite = "pause-satellite";
inline constexpr const char* kRunPipeline = "run-pipeline";
inline constexpr const char* kDetection = "detection";
inline constexpr const char* kVoiceStarted = "voice-started";
inline constexpr const char* kVoiceStopped = "voice-stopped";
inline constexpr const char* kPlayed = "played";
inline constexpr const char* kPing = "ping";
inline constexpr const char* kPong = "pong";
inline constexpr const char* kError = "error";
inline constexpr const char* kHandled = "handled";

struct AudioFormat {
  int rate = 16000;  // Hz
  int width = 2;     // bytes per sample
  int channels = 1;
};

// audio-start and audio-chunk carry the format; audio-chunk's payload is the samples.
struct AudioChunk {
  AudioFormat format;
  std::optional<int64_t> timestamp;  // ms
  std::string audio;                 // the event's payload
};

enum class PipelineStage { kWake, kAsr, kIntent, kHandle, kTts };
const char* to_string(PipelineStage stage);

struct RunPipeline {
  PipelineStage start_stage = PipelineStage::kAsr;
  PipelineStage end_stage = PipelineStage::kTts;
  std::optional<std::string> name;  // the pipeline's name (a wake word may pick one)
  bool restart_on_end = false;
  std::optional<AudioFormat> snd_format;  // the format the satellite wants reply audio in
  std::optional<std::string> wake_word_name;
};

struct Transcribe {
  std::optional<std::string> name;      // model
  std::optional<std::string> language;  // e.g. "en"
};

struct Synthesize {
  std::string text;
  std::optional<std::string> voice_name;
  std::optional<std::string> voice_language;
  std::optional<std::string> voice_speaker;
};

struct Detection {  // a wake word heard
  std::optional<std::string> name;
  std::optional<int64_t> timestamp;
};

// What a satellite says of itself in `info` (info.satellite), as far as the bridge uses it.
struct SatelliteInfo {
  std::string name;
  std::optional<std::string> area;
  std::optional<AudioFormat> snd_format;
};

// What the bridge says of its services in `info`.
struct Attribution {
  std::string name, url;
};
struct Artifact {
  std::string name;
  std::string description;
  std::string version;
  Attribution attribution;
  bool installed = true;
  std::vector<std::string> languages;  // models and voices
};
struct ServiceInfo {
  std::vector<std::pair<Artifact, std::vector<Artifact>>> asr;  // program, its models
  std::vector<std::pair<Artifact, std::vector<Artifact>>> tts;  // program, its voices
};

// A reader's result: the value, or why the event was not one.
template <typename T>
struct Read {
  std::optional<T> value;
  std::string error;
  bool ok() const { return value.has_value(); }
};

Read<AudioFormat> read_audio_start(const Event& e);
Read<AudioChunk> read_audio_chunk(const Event& e);  // copies the payload
// The format fields of an audio-chunk without copying its payload (the audio path).
Read<AudioFormat> read_audio_format(const Event& e);
Read<RunPipeline> read_run_pipeline(const Event& e);
Read<Transcribe> read_transcribe(const Event& e);
Read<Synthesize> read_synthesize(const Event& e);
Read<Detection> read_detection(const Event& e);
Read<SatelliteInfo> read_satellite_info(const Event& e);  // from `info`
// transcript, error, ping/pong, handled: the "text" field (absent: "").
Read<std::string> read_text(const Event& e);

Event describe_event();
Event info_event(const ServiceInfo& info);
Event audio_start_event(const AudioFormat& format, std::optional<int64_t> timestamp = {});
Event audio_chunk_event(const AudioFormat& format, std::string audio,
                        std::optional<int64_t> timestamp = {});
Event audio_stop_event(std::optional<int64_t> timestamp = {});
Event transcribe_event(const Transcribe& t);
Event transcript_event(const std::string& text, const std::optional<std::string>& language = {});
Event synthesize_event(const Synthesize& s);
Event run_satellite_event();
Event pause_satellite_event();
Event run_pipeline_event(const RunPipeline& p);
Event detection_event(const Detection& d);
Event voice_started_event(std::optional<int64_t> timestamp = {});
Event voice_stopped_event(std::optional<int64_t> timestamp = {});
Event played_event();
Event ping_event(const std::optional<std::string>& text = {});
Event pong_event(const std::optional<std::string>& text = {});
Event error_event(const std::string& text, const std::optional<std::string>& code = {});
Event handled_event(const std::string& text);

// An audio-chunk of 16-bit mono samples appended to `out` on the wire, without building an Event
// (the reply audio path: no JSON library, `out` keeps its capacity).
void append_audio_chunk(int rate, const int16_t* samples, size_t count, std::string* out);

}  // namespace earshot::protocol::wyoming
