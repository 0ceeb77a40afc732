// WAV/FLAC/... through libsndfile, optionally paced to real time (a recording standing in for a
// microphone) and looped.
#include <atomic>

#include "device/audio/audio_source.h"
#include "device/audio/optional_libs.h"

namespace earshot::device {
namespace {

class FileSource final : public AudioSource {
 public:
  explicit FileSource(FileSourceConfig c) : config_(std::move(c)), pacer_(1) {}
  ~FileSource() override {
    if (file_) sf_->close(file_);
  }

  bool open(std::string* error) override {
    sf_ = sndfile_api(error);
    if (!sf_) return false;
    SF_INFO info{};
    file_ = sf_->open(config_.path.c_str(), SFM_READ, &info);
    if (!file_) {
      *error = "cannot open '" + config_.path + "': " + sf_->strerror(nullptr);
      return false;
    }
    if (info.channels < 1 || info.samplerate < 1) {
      *error = "'" + config_.path + "' has no audio";
      return false;
    }
    format_ = {info.samplerate, info.channels};
    pacer_ = RealtimePacer(info.samplerate);
    return true;
  }

  AudioFormat format() const override { return format_; }

  long read(int16_t* out, size_t max_frames) override {
    while (!interrupted_.load()) {
      if (config_.realtime &&
          !pacer_.wait_for(frames_read_.load(std::memory_order_relaxed) + max_frames,
                           &interrupted_))
        return 0;
      const sf_count_t n = sf_->readf_short(file_, out, sf_count_t(max_frames));
      if (n > 0) {
        frames_read_.fetch_add(uint64_t(n), std::memory_order_relaxed);
        return long(n);
      }
      if (sf_->error(file_) != SF_ERR_NO_ERROR) {
        error_ = std::string("reading '") + config_.path + "': " + sf_->strerror(file_);
        return -1;
      }
      if (!config_.loop) return 0;
      sf_->seek(file_, 0, SEEK_SET);
    }
    return 0;
  }

  void interrupt() override { interrupted_.store(true); }
  std::string describe() const override {
    return "file:" + config_.path + " " + std::to_string(format_.sample_rate) + " Hz " +
           std::to_string(format_.channels) + " ch" + (config_.realtime ? " (real time)" : "");
  }
  std::string last_error() const override { return error_; }
  SourceStats stats() const override {
    return {frames_read_.load(std::memory_order_relaxed), 0, 0};
  }

 private:
  FileSourceConfig config_;
  const SndfileApi* sf_ = nullptr;
  SNDFILE* file_ = nullptr;
  AudioFormat format_;
  RealtimePacer pacer_;
  std::atomic<bool> interrupted_{false};
  std::atomic<uint64_t> frames_read_{0};  // the capture thread counts; stats() reads it anywhere
  std::string error_;
};

}  // namespace

std::unique_ptr<AudioSource> make_file_source(const FileSourceConfig& config) {
  return std::make_unique<FileSource>(config);
}

}  // namespace earshot::device
