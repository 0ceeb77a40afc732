// AudioSink: where reply audio goes — an ALSA device or a WAV file — as 16 kHz mono int16.
//
// write() blocks while the device (or, with `pace`, our own clock) consumes audio, so the
// playback thread runs at the speaker's speed. flush_now() drops everything queued at once
// (barge-in). frames_played() is what the listener has actually heard: frames written minus what
// is still queued in the device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace earshot::device {

class AudioSink {
 public:
  virtual ~AudioSink() = default;
  virtual bool open(std::string* error) = 0;
  virtual long write(const int16_t* samples, size_t frames) = 0;  // frames accepted, or -1
  virtual void flush_now() = 0;
  virtual uint64_t frames_played() const = 0;
  virtual std::string describe() const = 0;
  virtual std::string last_error() const = 0;
};

struct AlsaSinkConfig {
  std::string device = "default";
  int period_ms = 20;
  int buffer_periods = 3;
  bool pace = false;  // keep real time ourselves (unpaced plugins such as `file`)
};
std::unique_ptr<AudioSink> make_alsa_sink(const AlsaSinkConfig& config);

struct WavSinkConfig {
  std::string path;
  bool pace = false;
};
std::unique_ptr<AudioSink> make_wav_sink(const WavSinkConfig& config);

}  // namespace earshot::device
