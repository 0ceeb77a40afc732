// The two sinks. Pacing uses absolute CLOCK_MONOTONIC deadlines restarted after each idle gap, so
// a paced sink is heard exactly as fast as a real device would play it.
#include <alsa/asoundlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>

#include "device/audio/optional_libs.h"
#include "device/playback/audio_sink.h"

namespace earshot::device {
namespace {

constexpr int kRate = 16000;

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Keeps real time for sinks that do not block: audio written ahead of the clock waits.
class SinkPacer {
 public:
  void before_write(uint64_t frames_written) {
    const int64_t now = now_ns();
    // After an idle gap (or the first write), the clock starts again from now.
    if (start_ns_ < 0 || now > due(frames_written) + 40000000) {
      start_ns_ = now;
      base_ = frames_written;
    }
    const int64_t wake = due(frames_written);
    if (wake > now) {
      timespec ts{time_t(wake / 1000000000), long(wake % 1000000000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
  }
  // Frames the clock says have been heard (never more than written).
  uint64_t heard(uint64_t frames_written) const {
    if (start_ns_ < 0) return frames_written;
    const uint64_t elapsed =
        uint64_t(std::max<int64_t>(0, now_ns() - start_ns_)) * kRate / 1000000000;
    return std::min(frames_written, base_ + elapsed);
  }
  void reset() { start_ns_ = -1; }

 private:
  int64_t due(uint64_t frames) const {
    return start_ns_ + int64_t((frames - base_) * 1000000000ull / kRate);
  }
  int64_t start_ns_ = -1;
  uint64_t base_ = 0;
};

class AlsaSink final : public AudioSink {
 public:
  explicit AlsaSink(AlsaSinkConfig c) : config_(std::move(c)) {}
  ~AlsaSink() override {
    if (pcm_) snd_pcm_close(pcm_);
  }

  bool open(std::string* error) override {
    int err = snd_pcm_open(&pcm_, config_.device.c_str(), SND_PCM_STREAM_PLAYBACK, 0);
    if (err < 0) {
      *error = "cannot open ALSA playback device '" + config_.device + "': " + snd_strerror(err);
      pcm_ = nullptr;
      return false;
    }
    const unsigned latency_us = unsigned(config_.period_ms * config_.buffer_periods * 1000);
    // soft_resample=1: the plug layer converts 16 kHz mono to whatever the card takes.
    err = snd_pcm_set_params(pcm_, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, 1, kRate,
                             1, latency_us);
    if (err < 0) {
      *error = "ALSA playback device '" + config_.device + "': " + snd_strerror(err);
      return false;
    }
    return true;
  }

  long write(const int16_t* samples, size_t frames) override {
    if (config_.pace) pacer_.before_write(written_.load());
    size_t done = 0;
    while (done < frames) {
      snd_pcm_sframes_t n = snd_pcm_writei(pcm_, samples + done, frames - done);
      if (n == -EAGAIN) continue;
      if (n < 0) {
        if (snd_pcm_recover(pcm_, int(n), 1) < 0) {
          error_ = std::string("playback: ") + snd_strerror(int(n));
          return -1;
        }
        ++underruns_;
        continue;
      }
      done += size_t(n);
    }
    written_.fetch_add(frames);
    return long(frames);
  }

  void flush_now() override {
    snd_pcm_drop(pcm_);  // discard what is queued in the device, now
    snd_pcm_prepare(pcm_);
    flushed_at_.store(frames_played_now());
    written_.store(flushed_at_.load());
    pacer_.reset();
  }

  uint64_t frames_played() const override { return frames_played_now(); }
  std::string describe() const override { return "alsa:" + config_.device; }
  std::string last_error() const override { return error_; }

 private:
  uint64_t frames_played_now() const {
    const uint64_t written = written_.load();
    if (config_.pace) return pacer_.heard(written);
    snd_pcm_sframes_t delay = 0;
    if (pcm_ && snd_pcm_delay(pcm_, &delay) == 0 && delay > 0)
      return written > uint64_t(delay) ? written - uint64_t(delay) : 0;
    return written;
  }

  AlsaSinkConfig config_;
  snd_pcm_t* pcm_ = nullptr;
  SinkPacer pacer_;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> flushed_at_{0};
  uint64_t underruns_ = 0;
  std::string error_;
};

class WavSink final : public AudioSink {
 public:
  explicit WavSink(WavSinkConfig c) : config_(std::move(c)) {}
  ~WavSink() override {
    if (file_) sf_->close(file_);
  }

  bool open(std::string* error) override {
    sf_ = sndfile_api(error);
    if (!sf_) return false;
    SF_INFO info{};
    info.samplerate = kRate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    file_ = sf_->open(config_.path.c_str(), SFM_WRITE, &info);
    if (!file_) {
      *error = "cannot write '" + config_.path + "': " + sf_->strerror(nullptr);
      return false;
    }
    // Keep the header right after every write, so the file is valid even if we are killed.
    sf_->command(file_, SFC_SET_UPDATE_HEADER_AUTO, nullptr, SF_TRUE);
    return true;
  }

  long write(const int16_t* samples, size_t frames) override {
    if (config_.pace) pacer_.before_write(written_.load());
    if (sf_->writef_short(file_, samples, sf_count_t(frames)) != sf_count_t(frames)) {
      error_ = std::string("writing '") + config_.path + "': " + sf_->strerror(file_);
      return -1;
    }
    written_.fetch_add(frames);
    return long(frames);
  }

  // A file has no device queue: what was written was "played". With pacing, what the clock has
  // not reached yet is cut off, as a real device would drop it.
  void flush_now() override {
    if (!config_.pace) return;
    const uint64_t heard = pacer_.heard(written_.load());
    const uint64_t written = written_.load();
    if (heard < written) {
      sf_count_t frames = sf_count_t(heard);
      sf_->command(file_, SFC_FILE_TRUNCATE, &frames, sizeof frames);
      sf_->seek(file_, 0, SEEK_END);
      written_.store(heard);
    }
    pacer_.reset();
  }

  uint64_t frames_played() const override {
    return config_.pace ? pacer_.heard(written_.load()) : written_.load();
  }
  std::string describe() const override { return "wav:" + config_.path; }
  std::string last_error() const override { return error_; }

 private:
  WavSinkConfig config_;
  const SndfileApi* sf_ = nullptr;
  SNDFILE* file_ = nullptr;
  SinkPacer pacer_;
  std::atomic<uint64_t> written_{0};
  std::string error_;
};

}  // namespace

std::unique_ptr<AudioSink> make_alsa_sink(const AlsaSinkConfig& config) {
  return std::make_unique<AlsaSink>(config);
}
std::unique_ptr<AudioSink> make_wav_sink(const WavSinkConfig& config) {
  return std::make_unique<WavSink>(config);
}

}  // namespace earshot::device
