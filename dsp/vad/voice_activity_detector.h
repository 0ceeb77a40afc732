// VoiceActivityDetector: is this 10 ms of 16 kHz audio someone speaking?
//
// Designed for a kitchen: level-independent, and deaf to the clatter and running water that
// energy detectors (and the WebRTC VAD) call speech. Per frame it measures
//   1. band SNR: the log energy of each speech band (250-4000 Hz) over a per-band noise floor (the
//      minimum of the smoothed energy over the last ~2 s: minimum statistics), so loudness alone
//      never counts and a new steady noise is learnt within two seconds;
//   2. harmonicity: the peak normalized autocorrelation over pitch lags (80-400 Hz) of the
//      signal decimated to 8 kHz — voiced speech is periodic, dishes and water are not;
//   3. spectral flatness in 200-2000 Hz: voiced speech concentrates energy in harmonics;
//   4. the balance of low (250-3000 Hz) to high (4-8 kHz) energy: clatter and water are bright;
//   5. the means of 1, 2 and 4 over the last 100 ms: speech is sustained, a clink is not.
// It combines them in a logistic score (weights fitted on labelled speech mixed with kitchen
// noise; see docs/vad.md), smooths it over time (speech lasts syllables, clatter milliseconds) and
// decides with hysteresis.
//
// Cost: one 256-point real FFT and ~40 autocorrelation lags of 160 samples per frame.
// No allocation after construction. Not thread-safe: one detector per stream.
#pragma once

#include <cstddef>
#include <memory>

namespace earshot::dsp {

// The per-frame evidence the score is computed from (exposed for tuning and the benchmark).
// Everything is causal: context features look only at past frames.
struct VadFeatures {
  float band_snr_db = 0;  // mean over speech bands of max(0, 10 log10(energy / noise floor))
  float harmonicity = 0;  // peak normalized autocorrelation over pitch lags, 0..1
  float tonality = 0;     // 1 - spectral flatness in 200-2000 Hz, 0..1
  float low_high_db = 0;  // energy 250-3000 Hz over 4-8 kHz, dB: voices are low, clatter is not
  float level_db = -100;  // frame level, dBFS
  // Context over the last kContextFrames (100 ms): speech is sustained, clatter is brief.
  float harmonicity_mean = 0;
  float band_snr_mean_db = 0;
  float low_high_mean_db = 0;
};

inline constexpr int kVadFeatureCount = 7;
inline constexpr int kVadContextFrames = 10;
inline constexpr int kVadMaxHoldFrames = 100;  // 1 s: the longest mean or hold

// The feature vector the logistic score weighs, each scaled to roughly 0..1.
void vad_feature_vector(const VadFeatures& f, float out[kVadFeatureCount]);

struct VadConfig {
  float threshold = 0.7f;    // decision threshold on the held score (docs/vad.md)
  float hysteresis = 0.1f;   // once speaking, stay until the score drops below threshold - this
  float silence_dbfs = -70;  // quieter frames are never speech
  // score = sigmoid(bias + sum(weights[i] * vad_feature_vector[i])). Fitted by logistic regression
  // on labelled speech mixed with kitchen noise (bench/vad_fit.cpp; docs/vad.md).
  float bias = -5.164f;
  float weights[kVadFeatureCount] = {0.949f, 0.291f, 2.264f, -0.001f, 10.793f, 0.230f, -0.582f};
  // The score is the maximum, over the last hold_frames, of the raw score averaged over the last
  // mean_frames: the mean keeps one bright frame of clatter from counting, the hold carries the
  // score across the short pauses between words (speech lasts syllables, clatter milliseconds).
  int mean_frames = 5;   // 50 ms
  int hold_frames = 30;  // 300 ms
};

class VoiceActivityDetector {
 public:
  explicit VoiceActivityDetector(const VadConfig& config = {});
  ~VoiceActivityDetector();
  VoiceActivityDetector(const VoiceActivityDetector&) = delete;
  VoiceActivityDetector& operator=(const VoiceActivityDetector&) = delete;

  // One frame: 160 samples at 16 kHz, float in [-1, 1]. Returns the speech score in [0, 1].
  float process(const float* frame);
  bool is_speech() const { return speech_; }
  float score() const { return smoothed_; }
  float raw_score() const { return raw_; }
  const VadFeatures& features() const { return features_; }
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  VadConfig config_;
  VadFeatures features_;
  float raw_ = 0;
  float smoothed_ = 0;
  bool speech_ = false;
};

}  // namespace earshot::dsp
