// Raw signed 16-bit little-endian PCM from a file descriptor (stdin): `arecord | earshot-node`.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "device/audio/audio_source.h"

namespace earshot::device {
namespace {

class RawSource final : public AudioSource {
 public:
  explicit RawSource(RawSourceConfig c) : config_(c), pacer_(c.sample_rate) {}

  bool open(std::string* error) override {
    if (config_.sample_rate < 8000 || config_.sample_rate > 192000) {
      *error = "raw input: unsupported sample rate " + std::to_string(config_.sample_rate) + " Hz";
      return false;
    }
    if (config_.channels < 1 || config_.channels > 32) {
      *error = "raw input: unsupported channel count " + std::to_string(config_.channels);
      return false;
    }
    return true;
  }
  AudioFormat format() const override { return {config_.sample_rate, config_.channels}; }

  long read(int16_t* out, size_t max_frames) override {
    const size_t frame_bytes = size_t(config_.channels) * 2;
    auto* bytes = reinterpret_cast<uint8_t*>(out);
    size_t have = carry_;
    std::memcpy(bytes, carry_bytes_, carry_);
    while (!interrupted_.load()) {
      if (config_.realtime && have == carry_ &&
          !pacer_.wait_for(frames_read_.load(std::memory_order_relaxed) + max_frames,
                           &interrupted_))
        return 0;
      pollfd p{config_.fd, POLLIN, 0};
      if (poll(&p, 1, 50) == 0) continue;  // re-check interrupted_
      const ssize_t n = ::read(config_.fd, bytes + have, max_frames * frame_bytes - have);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) {
        error_ = std::string("reading raw input: ") + strerror(errno);
        return -1;
      }
      if (n == 0) return 0;  // end of input; a partial last frame is dropped
      have += size_t(n);
      if (have >= frame_bytes) {
        const size_t frames = have / frame_bytes;
        carry_ = have - frames * frame_bytes;
        std::memcpy(carry_bytes_, bytes + frames * frame_bytes, carry_);
        frames_read_.fetch_add(frames, std::memory_order_relaxed);
        return long(frames);
      }
    }
    return 0;
  }

  void interrupt() override { interrupted_.store(true); }
  std::string describe() const override {
    return "raw:fd" + std::to_string(config_.fd) + " " + std::to_string(config_.sample_rate) +
           " Hz " + std::to_string(config_.channels) + " ch";
  }
  std::string last_error() const override { return error_; }
  SourceStats stats() const override {
    return {frames_read_.load(std::memory_order_relaxed), 0, 0};
  }

 private:
  RawSourceConfig config_;
  RealtimePacer pacer_;
  std::atomic<bool> interrupted_{false};
  std::atomic<uint64_t> frames_read_{0};  // the capture thread counts; stats() reads it anywhere
  uint8_t carry_bytes_[64] = {};
  size_t carry_ = 0;
  std::string error_;
};

}  // namespace

std::unique_ptr<AudioSource> make_stdin_source(const RawSourceConfig& config) {
  return std::make_unique<RawSource>(config);
}

}  // namespace earshot::device
