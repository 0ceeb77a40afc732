// AudioSource: where the node's audio comes from — an ALSA device, a WAV/FLAC file or raw PCM on
// stdin — as interleaved signed 16-bit frames at the source's own rate and channel count.
//
// read() blocks until it has data. Trouble a source can recover from (an xrun, a device unplugged
// and plugged back) is handled inside read(): counted in stats(), never returned. Only what cannot
// be recovered ends the stream with -1 and a message in last_error().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace earshot::device {

struct AudioFormat {
  int sample_rate = 0;
  int channels = 0;
};

struct SourceStats {
  uint64_t frames_read = 0;
  uint64_t xruns = 0;
  uint64_t reopens = 0;
};

class AudioSource {
 public:
  virtual ~AudioSource() = default;
  virtual bool open(std::string* error) = 0;
  virtual AudioFormat format() const = 0;  // valid after open()
  // Up to max_frames frames into `out`. >0 frames read, 0 end of stream, -1 unrecoverable error.
  virtual long read(int16_t* out, size_t max_frames) = 0;
  // From another thread: make a blocked read() return soon.
  virtual void interrupt() = 0;
  virtual std::string describe() const = 0;
  virtual std::string last_error() const = 0;
  // Safe from any thread while read() runs on the capture thread (the pipeline polls it).
  virtual SourceStats stats() const = 0;
};

// Paces a source to real time: wait_for(frames) sleeps until that many frames are due since the
// first call, on absolute CLOCK_MONOTONIC deadlines (no drift). Interruptible.
class RealtimePacer {
 public:
  explicit RealtimePacer(int sample_rate) : rate_(sample_rate) {}
  // False if interrupted.
  bool wait_for(uint64_t total_frames, const std::atomic<bool>* interrupted);

 private:
  int rate_;
  int64_t start_ns_ = -1;
};

struct AlsaSourceConfig {
  std::string device = "default";
  int sample_rate = 48000;  // requested; the nearest the card offers is used
  int channels = 1;         // requested; the nearest the card offers is used
  int period_ms = 10;
  int buffer_periods = 4;
  bool pace = false;  // keep real time ourselves (unpaced plugins such as `file`)
  int reopen_interval_ms = 1000;
  int max_reopen_attempts = -1;  // -1: forever (a node waits for its microphone to come back)
};
std::unique_ptr<AudioSource> make_alsa_source(const AlsaSourceConfig& config);

struct FileSourceConfig {
  std::string path;
  bool realtime = false;
  bool loop = false;
};
std::unique_ptr<AudioSource> make_file_source(const FileSourceConfig& config);

struct RawSourceConfig {
  int fd = 0;
  int sample_rate = 16000;
  int channels = 1;
  bool realtime = false;
};
std::unique_ptr<AudioSource> make_stdin_source(const RawSourceConfig& config);

}  // namespace earshot::device
