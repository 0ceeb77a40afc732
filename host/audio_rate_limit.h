// AudioRateLimit: is a client sending audio faster than real time, beyond a burst?
//
// A node may legitimately send faster than real time for a while — after a reconnect it
// redelivers everything it buffered — but not for ever: a client that does is flooding. The
// limit is a credit: by `now`, a client may have sent (now - first frame) × rate + burst of audio.
// Event-loop thread only; no allocation.
#pragma once

#include <cstdint>

namespace earshot::host {

class AudioRateLimit {
 public:
  AudioRateLimit(int64_t burst_ms, double rate) : burst_ms_(burst_ms), rate_(rate) {}

  // Counts `audio_ms` arriving at `now_ms`; false once the client is over its credit.
  bool admit(int64_t now_ms, int64_t audio_ms) {
    if (start_ms_ < 0) start_ms_ = now_ms;
    received_ms_ += audio_ms;
    return double(received_ms_) <= double(now_ms - start_ms_) * rate_ + double(burst_ms_);
  }
  int64_t received_ms() const { return received_ms_; }

 private:
  int64_t burst_ms_;
  double rate_;
  int64_t start_ms_ = -1;
  int64_t received_ms_ = 0;
};

}  // namespace earshot::host
