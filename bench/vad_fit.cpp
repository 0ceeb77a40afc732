// Fits the logistic weights of our VAD (VadConfig::bias and ::weights) by Newton's method on the
// training half of the labelled set: the CMU ARCTIC, JFK and "cards" clips (never the LibriVox
// clips vad_bench scores) mixed with the second half of the kitchen noise (vad_bench uses the
// first) at clean, 20, 10, 5 and 0 dB SNR. Prints the weights to paste into VadConfig, and the
// threshold that gives recall 0.90 on the 10 dB training mix.
//
//   build/release/bench/vad_fit
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench/vad_corpus.h"
#include "dsp/vad/voice_activity_detector.h"

using namespace earshot::bench;
using earshot::dsp::kVadFeatureCount;
using earshot::dsp::VoiceActivityDetector;

namespace {

constexpr int kDim = kVadFeatureCount + 1;  // + bias

struct Sample {
  double x[kDim];
  bool speech;
};

// Solves A w = b for the small dense system (Gaussian elimination with partial pivoting).
void solve(double a[kDim][kDim], double b[kDim], double w[kDim]) {
  for (int c = 0; c < kDim; ++c) {
    int p = c;
    for (int r = c + 1; r < kDim; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[p][c])) p = r;
    std::swap(a[c], a[p]);
    std::swap(b[c], b[p]);
    for (int r = c + 1; r < kDim; ++r) {
      const double f = a[r][c] / a[c][c];
      for (int k = c; k < kDim; ++k)
        a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  for (int c = kDim - 1; c >= 0; --c) {
    double v = b[c];
    for (int k = c + 1; k < kDim; ++k)
      v -= a[c][k] * w[k];
    w[c] = v / a[c][c];
  }
}

}  // namespace

int main() {
  Corpus c = build_corpus(ClipSet::kTraining);
  const std::vector<float> noise = noise_half(load(data("noise/doing_the_dishes.wav")), true);
  std::vector<Sample> samples;
  std::vector<size_t> ten_db_begin_end(2);
  for (double snr : {1000.0, 20.0, 10.0, 5.0, 0.0}) {
    std::vector<float> audio = snr > 100 ? c.clean : mix(c, noise, snr);
    if (snr == 10.0) ten_db_begin_end[0] = samples.size();
    VoiceActivityDetector vad;
    for (size_t k = 0; k < c.label.size(); ++k) {
      vad.process(&audio[k * kFrame]);
      if (vad.features().level_db < earshot::dsp::VadConfig{}.silence_dbfs)
        continue;  // never speech
      Sample s{};
      float f[kVadFeatureCount];
      earshot::dsp::vad_feature_vector(vad.features(), f);
      for (int i = 0; i < kVadFeatureCount; ++i)
        s.x[i] = f[i];
      s.x[kVadFeatureCount] = 1.0;
      s.speech = c.label[k];
      samples.push_back(s);
    }
    if (snr == 10.0) ten_db_begin_end[1] = samples.size();
  }
  // Newton / IRLS with a small ridge, which keeps the weights modest where features correlate.
  double w[kDim] = {};
  const double ridge = 1.0;
  for (int iter = 0; iter < 25; ++iter) {
    double h[kDim][kDim] = {}, g[kDim] = {};
    for (const Sample& s : samples) {
      double z = 0;
      for (int i = 0; i < kDim; ++i)
        z += w[i] * s.x[i];
      const double p = 1 / (1 + std::exp(-z));
      const double r = p - (s.speech ? 1 : 0);
      const double v = std::max(p * (1 - p), 1e-6);
      for (int i = 0; i < kDim; ++i) {
        g[i] += r * s.x[i];
        for (int j = 0; j < kDim; ++j)
          h[i][j] += v * s.x[i] * s.x[j];
      }
    }
    for (int i = 0; i < kVadFeatureCount; ++i) {
      g[i] += ridge * w[i];
      h[i][i] += ridge;
    }
    double step[kDim];
    solve(h, g, step);
    double norm = 0;
    for (int i = 0; i < kDim; ++i) {
      w[i] -= step[i];
      norm += step[i] * step[i];
    }
    if (norm < 1e-12) break;
  }
  // The raw-score threshold reaching recall 0.90 on the 10 dB training mix.
  std::vector<double> speech_scores;
  for (size_t k = ten_db_begin_end[0]; k < ten_db_begin_end[1]; ++k) {
    if (!samples[k].speech) continue;
    double z = 0;
    for (int i = 0; i < kDim; ++i)
      z += w[i] * samples[k].x[i];
    speech_scores.push_back(1 / (1 + std::exp(-z)));
  }
  std::sort(speech_scores.begin(), speech_scores.end());
  const double th90 = speech_scores[size_t(double(speech_scores.size()) * 0.10)];
  printf("%zu training frames\n", samples.size());
  printf("bias = %.3ff;\nweights = {", w[kVadFeatureCount]);
  for (int i = 0; i < kVadFeatureCount; ++i)
    printf("%s%.3ff", i ? ", " : "", w[i]);
  printf("};\nthreshold for recall 0.90 at 10 dB (training): %.3f\n", th90);
  return 0;
}
