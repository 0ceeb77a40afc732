// Fits the logistic weights of our VAD (VadConfig::bias and ::weights) by Newton's method on the
// training set (vad_corpus.h build_training: CMU ARCTIC, JFK, "cards" and LibriVox voices, word
// labels) mixed with the training noises (the kitchen recording and the synthesized training
// babble, fan and music) at clean, 20, 10, 5 and 0 dB SNR. Nothing of the held-out split vad_bench
// scores (voices, recordings, noises) is used. The raw score is fitted to word-level labels: a
// frame is speech when it is inside a word. Prints the weights to paste into VadConfig, and, on the
// training data itself, the ROC-AUC and false-alarm rate at recall 0.90 of the raw score per noise
// and SNR (what the errors are, without looking at the held-out split).
//
//   build/release/bench/vad_fit
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
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
  Corpus c = build_training();
  std::vector<Sample> samples;
  struct Block {
    std::string name;
    size_t begin, end;
  };
  std::vector<Block> blocks;
  auto add = [&](const std::string& name, const std::vector<float>& audio) {
    const size_t begin = samples.size();
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
    blocks.push_back({name, begin, samples.size()});
  };
  add("clean", c.clean);
  for (const auto& [name, file] : training_noises()) {
    const std::vector<float> noise = load(data(file));
    for (double snr : {20.0, 10.0, 5.0, 0.0})
      add(name + " " + std::to_string(int(snr)) + " dB", mix(c, noise, snr));
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
  // In-sample: per block, ROC-AUC and the false-alarm rate at recall 0.90 of the raw score.
  printf("%zu training frames\n", samples.size());
  for (const Block& b : blocks) {
    std::vector<std::pair<double, bool>> scored;
    for (size_t k = b.begin; k < b.end; ++k) {
      double z = 0;
      for (int i = 0; i < kDim; ++i)
        z += w[i] * samples[k].x[i];
      scored.push_back({z, samples[k].speech});
    }
    std::sort(scored.begin(), scored.end(), [](auto& l, auto& r) { return l.first > r.first; });
    double pos = 0, neg = 0;
    for (auto& s : scored)
      (s.second ? pos : neg) += 1;
    double tp = 0, fp = 0, auc = 0, fa90 = 1;
    for (auto& s : scored) {
      if (s.second) {
        tp += 1;
      } else {
        fp += 1;
        auc += tp / pos / neg;
      }
      if (tp / pos >= 0.90 && fa90 == 1) fa90 = fp / neg;
    }
    printf("  %-16s AUC %.3f  false alarm at recall 0.90: %.3f\n", b.name.c_str(), auc, fa90);
  }
  // Thresholds, chosen on the clean training set with the fitted weights: the raw score's that
  // maximizes F1 against word labels and the held score's against utterance labels (digital
  // silence included, as the detector sees it).
  earshot::dsp::VadConfig fitted;
  fitted.bias = float(w[kVadFeatureCount]);
  for (int i = 0; i < kVadFeatureCount; ++i)
    fitted.weights[i] = float(w[i]);
  std::vector<float> raw, held;
  {
    VoiceActivityDetector vad(fitted);
    for (size_t k = 0; k < c.label.size(); ++k) {
      held.push_back(vad.process(&c.clean[k * kFrame]));
      raw.push_back(vad.raw_score());
    }
  }
  auto best_f1 = [](const std::vector<float>& sc, const std::vector<bool>& lab) {
    double best = 0, best_th = 0;
    for (int t = 5; t < 100; t += 5) {
      double tp = 0, fp = 0, fn = 0;
      for (size_t k = 0; k < sc.size(); ++k) {
        const bool d = sc[k] >= float(t) / 100;
        tp += d && lab[k];
        fp += d && !lab[k];
        fn += !d && lab[k];
      }
      const double f1 = 2 * tp / (2 * tp + fp + fn);
      if (f1 > best) best = f1, best_th = t / 100.0;
    }
    return std::make_pair(best_th, best);
  };
  const auto [raw_th, raw_f1] = best_f1(raw, c.label);
  const auto [held_th, held_f1] = best_f1(held, c.utterance);
  printf(
      "clean training F1: raw score %.3f at threshold %.2f (word labels), held score %.3f at "
      "%.2f (utterance labels)\n",
      raw_f1, raw_th, held_f1, held_th);
  printf("bias = %.3ff;\nweights = {", w[kVadFeatureCount]);
  for (int i = 0; i < kVadFeatureCount; ++i)
    printf("%s%.3ff", i ? ", " : "", w[i]);
  printf("};\n");
  return 0;
}
