// SpeechSegmenter: turns per-frame speech decisions into segments worth sending.
//
// It works on 20 ms codec frames and keeps the last `pre_roll_ms` of audio in a fixed ring, so
// when a segment starts the words that began before the detector was sure are sent too. A segment
// starts after `min_speech_ms` of consecutive speech (a single click never opens one) and ends
// after `hangover_ms` of non-speech (a pause between words does not end it). Frames are handed to
// `emit` in order with flags: the first of a segment kSegmentStart, buffered ones kPreRoll, the
// last kSegmentEnd. Memory is allocated once, in the constructor.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "dsp/audio_format.h"

namespace earshot::dsp {

enum SegmentFlags : uint16_t { kSegmentStart = 1, kSegmentEnd = 2, kPreRoll = 4 };

struct SegmenterConfig {
  int pre_roll_ms = 300;
  int hangover_ms = 400;
  int min_speech_ms = 40;
};

struct SegmentFrame {
  const float* pcm;  // kCodecFrameSamples samples, valid during the callback
  uint64_t timestamp;
  uint16_t flags;
};

class SpeechSegmenter {
 public:
  explicit SpeechSegmenter(const SegmenterConfig& config = {})
      : pre_roll_frames_(config.pre_roll_ms / 20),
        hangover_frames_(std::max(1, config.hangover_ms / 20)),
        min_speech_frames_(std::max(1, config.min_speech_ms / 20)),
        ring_(size_t(pre_roll_frames_ + min_speech_frames_) * kCodecFrameSamples),
        stamps_(size_t(pre_roll_frames_ + min_speech_frames_)) {}

  // One 20 ms frame and whether it is speech. Returns true if a segment started on this push.
  template <class Emit>
  bool push(const float* pcm, uint64_t timestamp, bool speech, Emit&& emit) {
    if (in_segment_) {
      hangover_left_ = speech ? hangover_frames_ : hangover_left_ - 1;
      const bool last = hangover_left_ <= 0;
      emit(SegmentFrame{pcm, timestamp, uint16_t(last ? kSegmentEnd : 0)});
      if (last) {
        in_segment_ = false;
        run_ = 0;
        held_ = 0;
      }
      return false;
    }
    remember(pcm, timestamp);
    run_ = speech ? run_ + 1 : 0;
    if (run_ < min_speech_frames_) return false;
    // Start: everything remembered (pre-roll plus the speech run) goes out, oldest first.
    in_segment_ = true;
    hangover_left_ = hangover_frames_;
    const size_t capacity = stamps_.size();
    for (size_t i = 0; i < held_; ++i) {
      const size_t slot = (next_ + capacity - held_ + i) % capacity;
      uint16_t flags = i == 0 ? kSegmentStart : 0;
      if (i + size_t(run_) < held_) flags |= kPreRoll;
      emit(SegmentFrame{&ring_[slot * kCodecFrameSamples], stamps_[slot], flags});
    }
    held_ = 0;
    return true;
  }

  bool in_segment() const { return in_segment_; }
  void reset() {
    in_segment_ = false;
    run_ = 0;
    held_ = 0;
  }

 private:
  void remember(const float* pcm, uint64_t timestamp) {
    const size_t capacity = stamps_.size();
    std::memcpy(&ring_[next_ * kCodecFrameSamples], pcm, kCodecFrameSamples * sizeof(float));
    stamps_[next_] = timestamp;
    next_ = (next_ + 1) % capacity;
    held_ = std::min(held_ + 1, capacity);
  }

  int pre_roll_frames_, hangover_frames_, min_speech_frames_;
  std::vector<float> ring_;
  std::vector<uint64_t> stamps_;
  size_t next_ = 0;  // ring slot the next frame goes to
  size_t held_ = 0;  // frames remembered (at most the ring's capacity)
  int run_ = 0;      // consecutive speech frames while idle
  int hangover_left_ = 0;
  bool in_segment_ = false;
};

}  // namespace earshot::dsp
