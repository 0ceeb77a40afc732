// ALSA capture that recovers instead of dying: an overrun is prepared away and counted; a device
// that errors (unplugged) is closed and re-opened every reopen_interval_ms until it comes back.
#include <alsa/asoundlib.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "device/audio/audio_source.h"

namespace earshot::device {
namespace {

class AlsaSource final : public AudioSource {
 public:
  explicit AlsaSource(AlsaSourceConfig c) : config_(std::move(c)), pacer_(1) {}
  ~AlsaSource() override { close_pcm(); }

  bool open(std::string* error) override {
    std::string e;
    if (!open_pcm(&e)) {
      *error = e;
      return false;
    }
    pacer_ = RealtimePacer(format_.sample_rate);
    return true;
  }

  AudioFormat format() const override { return format_; }

  long read(int16_t* out, size_t max_frames) override {
    int failures = 0;
    while (!interrupted_) {
      if (!pcm_) {
        if (!reopen_wait()) return interrupted_ ? 0 : -1;
        continue;
      }
      if (config_.pace &&
          !pacer_.wait_for(frames_read_.load(std::memory_order_relaxed) - paced_base_ + max_frames,
                           &interrupted_))
        return 0;
      snd_pcm_sframes_t n = snd_pcm_readi(pcm_, out, max_frames);
      if (n > 0) {
        frames_read_.fetch_add(uint64_t(n), std::memory_order_relaxed);
        return long(n);
      }
      if (n == 0) continue;
      if (n == -EAGAIN) {
        snd_pcm_wait(pcm_, 100);
        continue;
      }
      if (n == -EPIPE) {  // overrun: we were too slow; drop what was lost and go on
        xruns_.fetch_add(1);
        snd_pcm_prepare(pcm_);
        continue;
      }
      if (n == -ESTRPIPE) {  // suspended
        while (snd_pcm_resume(pcm_) == -EAGAIN && !interrupted_)
          snd_pcm_wait(pcm_, 100);
        snd_pcm_prepare(pcm_);
        continue;
      }
      // Anything else (-ENODEV, -EBADFD, -EIO, or a file plugin at its end): the device is gone.
      if (++failures > 3 || n == -ENODEV || n == -EBADFD || n == -EIO) {
        set_error(std::string("capture device lost: ") + snd_strerror(int(n)));
        close_pcm();
        continue;
      }
      if (snd_pcm_recover(pcm_, int(n), 1) < 0) close_pcm();
    }
    return 0;
  }

  void interrupt() override { interrupted_ = true; }

  std::string describe() const override {
    return "alsa:" + config_.device + " " + std::to_string(format_.sample_rate) + " Hz " +
           std::to_string(format_.channels) + " ch";
  }
  std::string last_error() const override {
    std::lock_guard<std::mutex> lock(error_mutex_);
    return error_;
  }
  SourceStats stats() const override {
    return {frames_read_.load(std::memory_order_relaxed), xruns_.load(), reopens_.load()};
  }

 private:
  void set_error(const std::string& e) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    error_ = e;
  }

  bool open_pcm(std::string* error) {
    snd_pcm_t* pcm = nullptr;
    int err = snd_pcm_open(&pcm, config_.device.c_str(), SND_PCM_STREAM_CAPTURE, 0);
    if (err < 0) {
      *error = "cannot open ALSA capture device '" + config_.device + "': " + snd_strerror(err);
      return false;
    }
    snd_pcm_hw_params_t* hw;
    snd_pcm_hw_params_alloca(&hw);
    unsigned rate = unsigned(config_.sample_rate);
    unsigned channels = unsigned(config_.channels);
    snd_pcm_uframes_t period = snd_pcm_uframes_t(config_.sample_rate * config_.period_ms / 1000);
    snd_pcm_uframes_t buffer = period * snd_pcm_uframes_t(config_.buffer_periods);
    const char* step = "";
    if ((err = snd_pcm_hw_params_any(pcm, hw)) < 0)
      step = "no configurations";
    else if ((err = snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0)
      step = "interleaved access";
    else if ((err = snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE)) < 0)
      step = "format S16_LE";
    else if ((err = snd_pcm_hw_params_set_channels_near(pcm, hw, &channels)) < 0)
      step = "channels";
    else if ((err = snd_pcm_hw_params_set_rate_near(pcm, hw, &rate, nullptr)) < 0)
      step = "rate";
    else if ((err = snd_pcm_hw_params_set_period_size_near(pcm, hw, &period, nullptr)) < 0)
      step = "period";
    else if ((err = snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &buffer)) < 0)
      step = "buffer";
    else if ((err = snd_pcm_hw_params(pcm, hw)) < 0)
      step = "applying parameters";
    else if ((err = snd_pcm_prepare(pcm)) < 0)
      step = "prepare";
    if (err < 0) {
      *error = "ALSA capture device '" + config_.device + "': " + step + ": " + snd_strerror(err);
      snd_pcm_close(pcm);
      return false;
    }
    if (format_.sample_rate &&
        (int(rate) != format_.sample_rate || int(channels) != format_.channels)) {
      // A device that came back with another format would feed the resampler the wrong rate.
      *error = "ALSA capture device '" + config_.device + "' came back as " + std::to_string(rate) +
               " Hz " + std::to_string(channels) + " ch";
      snd_pcm_close(pcm);
      return false;
    }
    format_ = {int(rate), int(channels)};
    pcm_ = pcm;
    return true;
  }

  void close_pcm() {
    if (pcm_) snd_pcm_close(pcm_);
    pcm_ = nullptr;
  }

  // Waits reopen_interval_ms (interruptibly) and tries the device again.
  bool reopen_wait() {
    if (config_.max_reopen_attempts >= 0 && attempts_ >= config_.max_reopen_attempts) return false;
    RealtimePacer wait(1000);
    if (!wait.wait_for(uint64_t(config_.reopen_interval_ms), &interrupted_)) return false;
    ++attempts_;
    std::string e;
    if (open_pcm(&e)) {
      reopens_.fetch_add(1);
      attempts_ = 0;
      pacer_ = RealtimePacer(format_.sample_rate);
      paced_base_ = frames_read_.load(std::memory_order_relaxed);
    } else {
      set_error(e);
    }
    return true;
  }

  AlsaSourceConfig config_;
  snd_pcm_t* pcm_ = nullptr;
  AudioFormat format_;
  RealtimePacer pacer_;
  uint64_t paced_base_ = 0;
  std::atomic<bool> interrupted_{false};
  std::atomic<uint64_t> frames_read_{0};  // the capture thread counts; stats() reads it anywhere
  int attempts_ = 0;
  std::atomic<uint64_t> xruns_{0};
  std::atomic<uint64_t> reopens_{0};
  mutable std::mutex error_mutex_;
  std::string error_;
};

}  // namespace

std::unique_ptr<AudioSource> make_alsa_source(const AlsaSourceConfig& config) {
  return std::make_unique<AlsaSource>(config);
}

}  // namespace earshot::device
