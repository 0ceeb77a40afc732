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
//   5. the means of 1, 2 and 4 over the last 100 ms: speech is sustained, a clink is not;
//   6. over longer context, what tells a voice from a steady or musical background: the 300 ms
//      spread of the speech-band level, the harmonicity's rise over its own ~1.6 s floor, the
//      frame's drop below the loudest of the last 300 ms, and how steadily the pitch holds;
//   7. the SNR of the 4-8 kHz bands: fricatives (s, sh, f) live there.
// A small network (one hidden layer of 16 tanh units plus a linear path, VadModel) scores the
// features of this frame, their change over 50 ms and a leaky average of them. The shipped model
// (dsp/vad/vad_model.cpp) was fitted by bench/vad_fit on labelled speech in 24 languages mixed
// with kitchen noise, babble, fans and music (docs/vad.md). The score is smoothed over time
// (speech lasts syllables, clatter milliseconds), held over the pauses between words, and decided
// with hysteresis.
//
// Cost: one 256-point real FFT, ~45 autocorrelation lags of 160 samples, and the network's
// multiply-adds (36 for the linear path, 37 and a tanh per hidden unit in use) per frame.
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
  // Over longer context, what tells a voice from a steady or musical background:
  // the spread (standard deviation, dB) of the speech-band level over the last 300 ms — syllables
  // rise and fall several dB, a fan or a crowd's babble does not;
  float level_spread_db = 0;
  // harmonicity_mean over its own minimum of the last ~1.6 s — a hum or a held chord is periodic
  // all the time, a voice only while it speaks.
  float harmonicity_rise = 0;
  // How far this frame's speech-band level is below the loudest of the last 300 ms: the pause
  // after a word drops well below it, steady noise and the middle of a word do not.
  float level_drop_db = 0;
  // Share of the last 300 ms in which the pitch stayed within 1 % of where it was 100 ms before
  // (both frames periodic): a note holds its pitch, a voice glides.
  float pitch_steadiness = 0;
  // Mean over the 4-8 kHz bands of max(0, 10 log10(energy / noise floor)): fricatives.
  float high_snr_db = 0;
};

inline constexpr int kVadFeatureCount = 12;
inline constexpr int kVadContextFrames = 10;
inline constexpr int kVadSpreadFrames = 30;
inline constexpr int kVadMaxHoldFrames = 100;  // 1 s: the longest mean or hold
// The network's input: this frame's feature vector, its change over the last `delta_frames`
// frames, and a leaky average of it (VadModel says which are in use). No raw past frames: a past
// frame of a word keeps the score up in the pause after it, which the word labels call non-speech.
inline constexpr int kVadInputCount = kVadFeatureCount * 3;
inline constexpr int kVadMaxDeltaFrames = 15;
inline constexpr int kVadHiddenCount = 16;
inline constexpr int kVadGruCount = 16;  // the recurrent gate's most units

// The feature vector the score weighs, each scaled to roughly 0..1.
void vad_feature_vector(const VadFeatures& f, float out[kVadFeatureCount]);

// The score's model: raw = sigmoid(out_bias + linear . x + out . tanh(hidden_bias + hidden x)),
// x = [f, f - f(delta_frames ago), leaky average of f] for the feature vector f; the delta part is
// zero when delta_frames is 0, the leaky part when leak is 0. With `out` zero it is a logistic
// regression.
struct VadModel {
  float hidden[kVadHiddenCount][kVadInputCount];
  float hidden_bias[kVadHiddenCount];
  float out[kVadHiddenCount];
  float linear[kVadInputCount];
  float out_bias;
  int delta_frames;  // 0..kVadMaxDeltaFrames
  float leak;        // the leaky average's state = leak * state + (1 - leak) * f; 0..1
  // An optional recurrent gate: a GRU over x, stepped every frame, whose output can only lower
  // the score: raw = sigmoid(z - softplus(gate_bias + gate . h)), z the logit above. Tried on
  // validation, not shipped (gru_units 0 here costs nothing; docs/vad.md). The GRU, per unit j:
  // u = sigmoid(W0 x + U0 h + b0), r = sigmoid(W1 x + U1 h + b1),
  // h_j = (1 - u_j) tanh(W2 x + U2 (r * h) + b2)_j + u_j h_j.
  int gru_units;                                 // 0..kVadGruCount
  float gru_w[3][kVadGruCount][kVadInputCount];  // update, reset, candidate
  float gru_u[3][kVadGruCount][kVadGruCount];
  float gru_b[3][kVadGruCount];
  float gate[kVadGruCount];
  float gate_bias;
};

// The shipped model (dsp/vad/vad_model.cpp; bench/vad_fit.cpp fits one; docs/vad.md).
extern const VadModel kVadModel;
// The raw score of one stacked input under `model`.
float vad_model_score(const VadModel& model, const float x[kVadInputCount]);
// The same with the recurrent gate: steps the GRU state h (zero at the start of a stream).
float vad_model_step(const VadModel& model, const float x[kVadInputCount], float h[kVadGruCount]);

struct VadConfig {
  float threshold = 0.7f;    // decision threshold on the held score (docs/vad.md)
  float hysteresis = 0.1f;   // once speaking, stay until the score drops below threshold - this
  float silence_dbfs = -70;  // quieter frames are never speech
  // The raw score's model; must outlive the detector.
  const VadModel* model = &kVadModel;
  // The score is the maximum, over the last hold_frames, of the raw score averaged over the last
  // mean_frames: the mean keeps one bright frame of clatter from counting alone (it averages to
  // half its score), the hold carries the score across the short pauses between words (speech
  // lasts syllables, clatter milliseconds). Both were chosen on validation (bench/vad_fit
  // --hold-sweep; docs/vad.md): a longer mean or hold lets every burst of noise count for longer,
  // and the hold adds to the end of every turn, since the turn's silence counts from it.
  int mean_frames = 2;   // 20 ms
  int hold_frames = 20;  // 200 ms
  // Only a frame at least this periodic (harmonicity) is carried by the hold; any frame counts
  // for itself. 0 (shipped): every frame is held. At 0.6 it cut false alarms with nobody
  // speaking on every held-out split, but a pause after an unvoiced sound then ended a segment
  // mid-sentence (docs/benchmarks.md, "The hold carries voiced frames only"); vad_fit
  // --hold-sweep scores it.
  float hold_min_harmonicity = 0;
  // How long a frame less periodic than that is held (0: only for itself). Held for 100-150 ms,
  // they cost fewer utterances cut, and most of the gain goes with them.
  int aperiodic_hold_frames = 0;
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
  // The network's input this frame (VadModel's x), for fitting.
  const float* model_input() const;
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
