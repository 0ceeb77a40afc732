#include "dsp/vad/voice_activity_detector.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dsp/real_fft.h"

namespace earshot::dsp {
namespace {

constexpr int kFrame = 160;  // 10 ms at 16 kHz
constexpr int kFft = 256;    // 16 ms analysis window
constexpr int kBins = kFft / 2 + 1;
constexpr float kBinHz = 16000.0f / kFft;
// Band edges (Hz): roughly critical bands up to 8 kHz.
constexpr float kEdges[] = {100,  250,  400,  550,  700,  900,  1100, 1350, 1650,
                            2000, 2400, 2900, 3450, 4000, 5000, 6500, 8000};
constexpr int kBands = int(sizeof kEdges / sizeof kEdges[0]) - 1;
constexpr float kSpeechLowHz = 250, kSpeechHighHz = 4000;
// Pitch search on the signal decimated to 8 kHz: lags 20..100 = 400..80 Hz over a 20 ms window.
constexpr int kDecWindow = 160;
constexpr int kMinLag = 20, kMaxLag = 100;
constexpr int kDecHistory = kDecWindow + kMaxLag;

float sigmoid(float z) {
  return 1.0f / (1.0f + std::exp(-z));
}

}  // namespace

void vad_feature_vector(const VadFeatures& f, float out[kVadFeatureCount]) {
  out[0] = std::min(f.band_snr_db, 30.0f) / 10.0f;
  out[1] = f.harmonicity;
  out[2] = f.tonality;
  out[3] = f.low_high_db / 10.0f;
  out[4] = f.harmonicity_mean;
  out[5] = f.band_snr_mean_db / 10.0f;
  out[6] = f.low_high_mean_db / 10.0f;
  out[7] = std::min(f.level_spread_db, 20.0f) / 10.0f;
  out[8] = f.harmonicity_rise;
  out[9] = std::min(f.level_drop_db, 30.0f) / 10.0f;
  out[10] = f.pitch_steadiness;
  out[11] = std::min(f.high_snr_db, 30.0f) / 10.0f;
}

static float model_logit(const VadModel& m, const float x[kVadInputCount]) {
  float z = m.out_bias;
  for (int i = 0; i < kVadInputCount; ++i)
    z += m.linear[i] * x[i];
  for (int h = 0; h < kVadHiddenCount; ++h) {
    if (m.out[h] == 0) continue;  // an unused unit (a logistic model uses none)
    float a = m.hidden_bias[h];
    for (int i = 0; i < kVadInputCount; ++i)
      a += m.hidden[h][i] * x[i];
    z += m.out[h] * std::tanh(a);
  }
  return z;
}

float vad_model_score(const VadModel& m, const float x[kVadInputCount]) {
  return sigmoid(model_logit(m, x));
}

float vad_model_step(const VadModel& m, const float x[kVadInputCount], float h[kVadGruCount]) {
  const float z = model_logit(m, x);
  const int n = std::clamp(m.gru_units, 0, kVadGruCount);
  if (n == 0) return sigmoid(z);
  float a[3][kVadGruCount];
  for (int g = 0; g < 3; ++g)
    for (int j = 0; j < n; ++j) {
      float v = m.gru_b[g][j];
      for (int i = 0; i < kVadInputCount; ++i)
        v += m.gru_w[g][j][i] * x[i];
      a[g][j] = v;
    }
  float upd[kVadGruCount], rh[kVadGruCount];
  for (int j = 0; j < n; ++j) {
    float u = a[0][j], r = a[1][j];
    for (int k = 0; k < n; ++k)
      u += m.gru_u[0][j][k] * h[k], r += m.gru_u[1][j][k] * h[k];
    upd[j] = sigmoid(u);
    rh[j] = sigmoid(r) * h[j];
  }
  float gate = m.gate_bias;
  for (int j = 0; j < n; ++j) {
    float c = a[2][j];
    for (int k = 0; k < n; ++k)
      c += m.gru_u[2][j][k] * rh[k];
    h[j] = (1 - upd[j]) * std::tanh(c) + upd[j] * h[j];
  }
  for (int j = 0; j < n; ++j)
    gate += m.gate[j] * h[j];
  const float softplus = gate > 20 ? gate : std::log1p(std::exp(gate));
  return sigmoid(z - softplus);
}

struct VoiceActivityDetector::Impl {
  RealFft fft{kFft};
  float fft_in[kFft];
  float window[kFft];
  float history[kFft] = {};  // the last 256 input samples
  float power[kBins] = {};
  int band_lo[kBands], band_hi[kBands];
  bool speech_band[kBands];
  // Minimum statistics: the floor is the minimum of the smoothed band energy over the last
  // kBlocks blocks of kBlockFrames frames (~2 s). Speech always has gaps within that, so the
  // minimum sits on the noise; a new steady noise becomes the floor within 2 s.
  static constexpr int kBlockFrames = 40, kBlocks = 5;
  float smooth[kBands] = {};
  float block_min[kBlocks][kBands] = {};
  int block = 0, block_pos = 0;
  float noise[kBands] = {};
  int frames = 0;
  float dec[kDecHistory] = {};  // decimated history, newest at the end
  // Rings of the last kVadContextFrames values of the context features, and their sums.
  float ctx_harm[kVadContextFrames] = {}, ctx_snr[kVadContextFrames] = {},
        ctx_lh[kVadContextFrames] = {};
  float sum_harm = 0, sum_snr = 0, sum_lh = 0;
  int ctx_pos = 0;
  // Speech-band level (dB) over the last kVadSpreadFrames frames, for its spread.
  float level_ring[kVadSpreadFrames] = {};
  int level_pos = 0;
  // Block minima of harmonicity_mean over kHarmBlocks blocks of kBlockFrames (~1.6 s).
  static constexpr int kHarmBlocks = 4;
  float harm_block_min[kHarmBlocks] = {};
  // Pitch: the fractional lag of the last kPitchSpan frames (0 when not periodic), and whether
  // each of the last kVadSpreadFrames frames held its pitch kPitchSpan frames on.
  static constexpr int kPitchSpan = 10;
  float lag_ring[kPitchSpan] = {};
  float steady_ring[kVadSpreadFrames] = {};
  float steady_sum = 0;
  float pitch_lag = 0;  // this frame's, set by harmonicity()
  // The feature vectors of the last kStackHistory frames (for the delta), newest at pos; the
  // leaky average's state.
  static constexpr int kStackHistory = kVadMaxDeltaFrames + 1;
  float feature_ring[kStackHistory][kVadFeatureCount] = {};
  int feature_pos = 0;
  float leaky[kVadFeatureCount] = {};
  float input[kVadInputCount] = {};
  float gru_h[kVadGruCount] = {};
  // The score's history: raw scores (for the mean), means (for the hold) and whether each frame
  // was periodic enough for the full hold (VadConfig::hold_min_harmonicity).
  float raw_ring[kVadMaxHoldFrames] = {}, mean_ring[kVadMaxHoldFrames] = {};
  bool periodic_ring[kVadMaxHoldFrames] = {};
  int score_pos = 0;

  Impl() {
    for (int i = 0; i < kFft; ++i)
      window[i] = 0.5f - 0.5f * std::cos(2.0f * float(M_PI) * float(i) / float(kFft));
    for (int b = 0; b < kBands; ++b) {
      band_lo[b] = std::max(1, int(std::lround(kEdges[b] / kBinHz)));
      band_hi[b] =
          std::min(kBins - 1, std::max(band_lo[b] + 1, int(std::lround(kEdges[b + 1] / kBinHz))));
      speech_band[b] = kEdges[b] >= kSpeechLowHz && kEdges[b + 1] <= kSpeechHighHz;
    }
  }

  // Peak normalized autocorrelation over the pitch lags, coarse (step 2) then refined. The lagged
  // windows' energies come from one prefix sum, and the dot product keeps eight partial sums so
  // the compiler can vectorize it without -ffast-math: this is most of the detector's cost.
  float harmonicity() {
    const float* seg = dec + kMaxLag;
    cum_energy[0] = 0;
    for (int i = 0; i < kDecHistory; ++i)
      cum_energy[i + 1] = cum_energy[i] + double(dec[i]) * dec[i];
    const double e0 = cum_energy[kDecHistory] - cum_energy[kMaxLag];
    if (e0 < 1e-9) return 0;
    // Each lag's correlation is computed once: the refinement and the parabola below reuse the
    // coarse scan's (both neighbours of the peak are always among the lags already computed).
    float memo[kMaxLag + 1];
    bool known[kMaxLag + 1] = {};
    auto corr = [&](int lag) {
      if (known[lag]) return memo[lag];
      known[lag] = true;
      const float* lagged = seg - lag;
      float acc[8] = {};
      for (int i = 0; i < kDecWindow; i += 8)
        for (int k = 0; k < 8; ++k)
          acc[k] += seg[i + k] * lagged[i + k];
      const float dot =
          ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      const double el = cum_energy[kMaxLag - lag + kDecWindow] - cum_energy[kMaxLag - lag];
      return memo[lag] = el > 1e-9 ? float(dot / std::sqrt(e0 * el)) : 0.0f;
    };
    float best = 0;
    int best_lag = kMinLag;
    for (int lag = kMinLag; lag <= kMaxLag; lag += 2) {
      const float c = corr(lag);
      if (c > best) best = c, best_lag = lag;
    }
    for (int lag : {best_lag - 1, best_lag + 1})
      if (lag >= kMinLag && lag <= kMaxLag) {
        const float c = corr(lag);
        if (c > best) best = c, best_lag = lag;
      }
    // The peak's fractional lag (a parabola through it and its neighbours), for pitch steadiness.
    pitch_lag = float(best_lag);
    if (best_lag > kMinLag && best_lag < kMaxLag) {
      const float l = corr(best_lag - 1), r = corr(best_lag + 1);
      const float den = l - 2 * best + r;
      if (den < 0) pitch_lag += std::clamp(0.5f * (l - r) / den, -0.5f, 0.5f);
    }
    return std::clamp(best, 0.0f, 1.0f);
  }
  double cum_energy[kDecHistory + 1] = {};
};

VoiceActivityDetector::VoiceActivityDetector(const VadConfig& config)
    : impl_(std::make_unique<Impl>()), config_(config) {}

VoiceActivityDetector::~VoiceActivityDetector() = default;

void VoiceActivityDetector::reset() {
  Impl& s = *impl_;
  std::fill(std::begin(s.history), std::end(s.history), 0.0f);
  std::fill(std::begin(s.dec), std::end(s.dec), 0.0f);
  std::fill(std::begin(s.noise), std::end(s.noise), 0.0f);
  s.block = s.block_pos = 0;
  s.frames = 0;
  std::fill(std::begin(s.ctx_harm), std::end(s.ctx_harm), 0.0f);
  std::fill(std::begin(s.ctx_snr), std::end(s.ctx_snr), 0.0f);
  std::fill(std::begin(s.ctx_lh), std::end(s.ctx_lh), 0.0f);
  s.sum_harm = s.sum_snr = s.sum_lh = 0;
  s.ctx_pos = 0;
  std::fill(std::begin(s.level_ring), std::end(s.level_ring), 0.0f);
  s.level_pos = 0;
  std::fill(std::begin(s.harm_block_min), std::end(s.harm_block_min), 0.0f);
  std::fill(std::begin(s.lag_ring), std::end(s.lag_ring), 0.0f);
  std::fill(std::begin(s.steady_ring), std::end(s.steady_ring), 0.0f);
  s.steady_sum = 0;
  s.pitch_lag = 0;
  for (auto& v : s.feature_ring)
    std::fill(std::begin(v), std::end(v), 0.0f);
  s.feature_pos = 0;
  std::fill(std::begin(s.leaky), std::end(s.leaky), 0.0f);
  std::fill(std::begin(s.input), std::end(s.input), 0.0f);
  std::fill(std::begin(s.gru_h), std::end(s.gru_h), 0.0f);
  std::fill(std::begin(s.raw_ring), std::end(s.raw_ring), 0.0f);
  std::fill(std::begin(s.mean_ring), std::end(s.mean_ring), 0.0f);
  s.score_pos = 0;
  raw_ = smoothed_ = 0;
  speech_ = false;
}

const float* VoiceActivityDetector::model_input() const {
  return impl_->input;
}

float VoiceActivityDetector::process(const float* frame) {
  Impl& s = *impl_;
  // 1. Spectrum of the last 16 ms.
  std::memmove(s.history, s.history + kFrame, (kFft - kFrame) * sizeof(float));
  std::memcpy(s.history + kFft - kFrame, frame, kFrame * sizeof(float));
  float level = 0;
  for (int i = 0; i < kFrame; ++i)
    level += frame[i] * frame[i];
  features_.level_db = 10.0f * std::log10(level / kFrame + 1e-12f);
  for (int i = 0; i < kFft; ++i)
    s.fft_in[i] = s.history[i] * s.window[i];
  s.fft.power(s.fft_in, s.power);

  // 2. Band SNR over the minimum-statistics floor.
  constexpr float kFloor = 1e-7f;  // about -90 dBFS per band: digital silence is not a floor
  float snr_sum = 0, speech_energy = 0, high_snr_sum = 0;
  int snr_bands = 0, high_bands = 0;
  for (int b = 0; b < kBands; ++b) {
    float e = kFloor;
    for (int k = s.band_lo[b]; k < s.band_hi[b]; ++k)
      e += s.power[k];
    float& sm = s.smooth[b];
    // The floor starts from the second frame, the first whose 256-sample window is all signal:
    // the first frame's window is 96 zeros and 160 samples, a few dB low, and as the floor it
    // would stand for 2 s and make any steady noise a stream starts with look like speech.
    sm = s.frames <= 1 ? e : 0.7f * sm + 0.3f * e;
    if (s.frames <= 1)
      for (auto& blk : s.block_min)
        blk[b] = sm;
    float& cur = s.block_min[s.block][b];
    cur = s.block_pos == 0 ? sm : std::min(cur, sm);
    float floor = cur;
    for (auto& blk : s.block_min)
      floor = std::min(floor, blk[b]);
    s.noise[b] = std::max(kFloor, floor * 1.5f);  // the minimum underestimates the mean noise
    if (s.speech_band[b]) {
      snr_sum += std::max(0.0f, 10.0f * std::log10(e / s.noise[b]));
      ++snr_bands;
      speech_energy += e;
    } else if (kEdges[b] >= 4000) {
      high_snr_sum += std::max(0.0f, 10.0f * std::log10(e / s.noise[b]));
      ++high_bands;
    }
  }
  if (++s.block_pos == Impl::kBlockFrames) {
    s.block_pos = 0;
    s.block = (s.block + 1) % Impl::kBlocks;
  }
  features_.band_snr_db = snr_bands ? snr_sum / float(snr_bands) : 0;
  features_.high_snr_db = high_bands ? high_snr_sum / float(high_bands) : 0;

  // 3. Flatness of 200-2000 Hz: geometric over arithmetic mean of the power.
  const int lo = int(200 / kBinHz), hi = int(2000 / kBinHz);
  float log_sum = 0, sum = 0;
  for (int k = lo; k < hi; ++k) {
    log_sum += std::log(s.power[k] + 1e-12f);
    sum += s.power[k] + 1e-12f;
  }
  const float n_bins = float(hi - lo);
  const float flatness = std::exp(log_sum / n_bins) / (sum / n_bins);
  features_.tonality = std::clamp(1.0f - flatness, 0.0f, 1.0f);

  // 4. Harmonicity at 8 kHz (pairs averaged: a cheap low-pass before decimation).
  std::memmove(s.dec, s.dec + kFrame / 2, (kDecHistory - kFrame / 2) * sizeof(float));
  for (int i = 0; i < kFrame / 2; ++i)
    s.dec[kDecHistory - kFrame / 2 + i] = 0.5f * (frame[2 * i] + frame[2 * i + 1]);
  features_.harmonicity = s.harmonicity();

  // 5. Balance of low to high frequencies.
  float low = 1e-9f, high = 1e-9f;
  for (int k = int(250 / kBinHz); k < int(3000 / kBinHz); ++k)
    low += s.power[k];
  for (int k = int(4000 / kBinHz); k < kBins; ++k)
    high += s.power[k];
  features_.low_high_db = std::clamp(10.0f * std::log10(low / high), -30.0f, 30.0f);

  // 6. Context: running means over the last kVadContextFrames frames.
  auto slide = [&](float* ring, float* running, float value) {
    *running += value - ring[s.ctx_pos];
    ring[s.ctx_pos] = value;
    return *running / float(kVadContextFrames);
  };
  features_.harmonicity_mean = slide(s.ctx_harm, &s.sum_harm, features_.harmonicity);
  features_.band_snr_mean_db = slide(s.ctx_snr, &s.sum_snr, std::min(features_.band_snr_db, 30.0f));
  features_.low_high_mean_db = slide(s.ctx_lh, &s.sum_lh, features_.low_high_db);
  s.ctx_pos = (s.ctx_pos + 1) % kVadContextFrames;
  if (s.frames % 1000 == 999) {  // float sums drift; recompute them now and then
    s.sum_harm = s.sum_snr = s.sum_lh = 0;
    for (int i = 0; i < kVadContextFrames; ++i) {
      s.sum_harm += s.ctx_harm[i];
      s.sum_snr += s.ctx_snr[i];
      s.sum_lh += s.ctx_lh[i];
    }
  }

  // 7. Longer context: the spread of the speech-band level over 300 ms, how far the harmonicity
  // stands above its recent floor (block minima, as for the noise floor), and pitch steadiness.
  const float speech_level_db = 10.0f * std::log10(speech_energy);
  if (s.frames == 0) std::fill(std::begin(s.level_ring), std::end(s.level_ring), speech_level_db);
  s.level_ring[s.level_pos] = speech_level_db;
  float level_mean = 0, level_sq = 0, level_max = speech_level_db;
  for (float v : s.level_ring) {
    level_mean += v;
    level_max = std::max(level_max, v);
  }
  level_mean /= float(kVadSpreadFrames);
  for (float v : s.level_ring)
    level_sq += (v - level_mean) * (v - level_mean);
  features_.level_spread_db = std::sqrt(level_sq / float(kVadSpreadFrames));
  features_.level_drop_db = level_max - speech_level_db;
  const int harm_block = (s.frames / Impl::kBlockFrames) % Impl::kHarmBlocks;
  float& harm_cur = s.harm_block_min[harm_block];
  harm_cur = s.frames % Impl::kBlockFrames == 0 ? features_.harmonicity_mean
                                                : std::min(harm_cur, features_.harmonicity_mean);
  float harm_floor = harm_cur;
  for (float m : s.harm_block_min)
    harm_floor = std::min(harm_floor, m);
  features_.harmonicity_rise = std::max(0.0f, features_.harmonicity_mean - harm_floor);
  const float lag_now = features_.harmonicity > 0.6f ? s.pitch_lag : 0.0f;
  const int pitch_slot = s.frames % Impl::kPitchSpan;
  const float lag_then = s.lag_ring[pitch_slot];  // kPitchSpan frames ago
  s.lag_ring[pitch_slot] = lag_now;
  const float steady =
      lag_now > 0 && lag_then > 0 && std::fabs(lag_now - lag_then) < 0.01f * lag_now ? 1.0f : 0.0f;
  s.steady_sum += steady - s.steady_ring[s.level_pos];
  s.steady_ring[s.level_pos] = steady;
  features_.pitch_steadiness = std::clamp(s.steady_sum / float(kVadSpreadFrames), 0.0f, 1.0f);
  if (s.frames % 1000 == 999) {
    s.steady_sum = 0;
    for (float v : s.steady_ring)
      s.steady_sum += v;
  }
  s.level_pos = (s.level_pos + 1) % kVadSpreadFrames;

  // 8. Score: the network over this frame's features, their change over delta_frames and their
  // leaky average.
  const VadModel& model = *config_.model;
  float* f = s.input;
  vad_feature_vector(features_, f);
  std::copy(f, f + kVadFeatureCount, s.feature_ring[s.feature_pos]);
  const int delta = std::clamp(model.delta_frames, 0, kVadMaxDeltaFrames);
  const float* past =
      s.feature_ring[(s.feature_pos + Impl::kStackHistory - delta) % Impl::kStackHistory];
  const float leak = std::clamp(model.leak, 0.0f, 1.0f);
  for (int i = 0; i < kVadFeatureCount; ++i) {
    s.input[kVadFeatureCount + i] = f[i] - past[i];  // 0 when delta is 0
    s.leaky[i] = leak * s.leaky[i] + (1 - leak) * f[i];
    s.input[2 * kVadFeatureCount + i] = leak > 0 ? s.leaky[i] : 0.0f;
  }
  s.feature_pos = (s.feature_pos + 1) % Impl::kStackHistory;
  ++s.frames;
  // Digital silence is never speech; a recurrent gate still steps through it, as it was fitted.
  const bool silent = features_.level_db < config_.silence_dbfs;
  raw_ = silent && model.gru_units == 0 ? 0.0f : vad_model_step(model, s.input, s.gru_h);
  if (silent) raw_ = 0;

  // 9. Smoothing, decision.
  const int mean_n = std::clamp(config_.mean_frames, 1, kVadMaxHoldFrames);
  const int hold_n = std::clamp(config_.hold_frames, 1, kVadMaxHoldFrames);
  s.raw_ring[s.score_pos] = raw_;
  float mean = 0;
  for (int i = 0; i < mean_n; ++i)
    mean += s.raw_ring[(s.score_pos + kVadMaxHoldFrames - i) % kVadMaxHoldFrames];
  s.mean_ring[s.score_pos] = mean / float(mean_n);
  s.periodic_ring[s.score_pos] = features_.harmonicity >= config_.hold_min_harmonicity;
  const int aperiodic_n = std::clamp(config_.aperiodic_hold_frames, 1, hold_n);
  smoothed_ = 0;
  for (int i = 0; i < hold_n; ++i) {
    const int at = (s.score_pos + kVadMaxHoldFrames - i) % kVadMaxHoldFrames;
    if (i < aperiodic_n || s.periodic_ring[at]) smoothed_ = std::max(smoothed_, s.mean_ring[at]);
  }
  s.score_pos = (s.score_pos + 1) % kVadMaxHoldFrames;
  // Digital silence (a muted or disconnected microphone) ends the hold at once.
  if (features_.level_db < config_.silence_dbfs) smoothed_ = 0;
  const float threshold = speech_ ? config_.threshold - config_.hysteresis : config_.threshold;
  speech_ = smoothed_ >= threshold;
  return smoothed_;
}

}  // namespace earshot::dsp
