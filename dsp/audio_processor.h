// AudioProcessor: echo cancellation, noise suppression and gain control from
// webrtc-audio-processing, on 10 ms frames of 16 kHz mono.
//
// Echo cancellation needs the far end: every frame the speaker plays goes to analyze_playback()
// before the microphone frame that may contain its echo goes to process_capture(). The webrtc
// types stay behind this header (pimpl); nothing allocates per frame.
// Threading: one thread calls both methods (the node's pipeline thread).
#pragma once

#include <memory>
#include <string>

namespace earshot::dsp {

struct AudioProcessorConfig {
  bool echo_cancellation = false;
  bool noise_suppression = false;
  int noise_suppression_level = 2;  // 0 low .. 3 very high
  bool gain_control = false;
  int stream_delay_ms = 40;  // playback-to-capture delay of the device pair
};

class AudioProcessor {
 public:
  static std::unique_ptr<AudioProcessor> create(const AudioProcessorConfig& config,
                                                std::string* error);
  ~AudioProcessor();
  AudioProcessor(const AudioProcessor&) = delete;
  AudioProcessor& operator=(const AudioProcessor&) = delete;

  void analyze_playback(const float* frame);  // 160 samples: what the speaker plays
  void process_capture(float* frame);         // 160 samples, in place

 private:
  AudioProcessor();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::dsp
