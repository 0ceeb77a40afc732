// VoiceActivityDetector: is this 10 ms of 16 kHz audio someone speaking?
//
// Designed for a kitchen: level-independent, and deaf to the clatter and running water that
// energy detectors (and the WebRTC VAD) call speech. Per frame it measures
//   1. band SNR: the log energy of each speech band (250-4000 Hz) over a per-band noise floor (the
//      minimum of the smoothed energy over the last ~2 s: minimum statistics), so loudness alone
//      never counts and a new steady noise is learnt within two seconds;
//   2. harmonicity: the peak normalized autocorrelation over pitch lags (80-400 Hz) of the
//      signal decimated to 8 kHz — voiced speech is periodic, dishes and water are not;
//   3. spectral flatness in 200-2000 Hz: voiced speech concentrates energy in harmonics.
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
struct VadFeatures {
  float band_snr_db = 0;  // mean over speech bands of max(0, 10 log10(energy / noise floor))
  float harmonicity = 0;  // peak normalized autocorrelation over pitch lags, 0..1
  float tonality = 0;     // 1 - spectral flatness in 200-2000 Hz, 0..1
  float level_db = -100;  // frame level, dBFS
};

struct VadConfig {
  float threshold = 0.5f;   // decision threshold on the smoothed score
  float hysteresis = 0.1f;  // once speaking, stay until the score drops below threshold - this
  float noise_rise_db_per_s = 3;  // how fast the noise floor may climb (it falls at once)
  float silence_dbfs = -65;       // quieter frames are never speech
  // Logistic weights: score = sigmoid(bias + w_snr * min(snr, 30) + w_harm * harm + w_tone * tone).
  float bias = -6.0f, w_snr = 0.25f, w_harm = 7.0f, w_tone = 2.0f;
  float smoothing = 0.6f;  // smoothed = max(raw, smoothing * previous): syllables, not clicks
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
