// WebRtcVad: the WebRTC voice activity detector (from webrtc-audio-processing), the reference our
// own detector is measured against (bench/vad_bench.cpp). Not used in the product's pipeline.
#pragma once

#include <memory>
#include <string>

namespace earshot::dsp {

class WebRtcVad {
 public:
  enum class Likelihood { kVeryLow, kLow, kModerate, kHigh };
  static std::unique_ptr<WebRtcVad> create(Likelihood likelihood, std::string* error);
  ~WebRtcVad();
  WebRtcVad(const WebRtcVad&) = delete;
  WebRtcVad& operator=(const WebRtcVad&) = delete;
  bool is_speech(const float* frame);  // 160 samples, 16 kHz

 private:
  WebRtcVad();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::dsp
