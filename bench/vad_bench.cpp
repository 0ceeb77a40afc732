// VAD benchmark: our VoiceActivityDetector against the WebRTC VAD (webrtc-audio-processing) at each
// of its four likelihood settings, frame by frame (10 ms), on the same labelled audio in one run.
//
// The labelled set is built from tests/data (see docs/benchmarks.md): the LibriVox clips (speech
// spans from their .lab files), the CMU ARCTIC clips, JFK and the pocketsphinx "cards" commands
// (speech spans from the clean signal's energy, pauses under 300 ms closed), laid end to end with
// 1-2.5 s of silence between them, as a person talking to a room node would. Conditions: clean,
// mixed with the kitchen noise (doing_the_dishes) at 10 dB and 0 dB SNR, and the noise alone.
//
// Printed per condition and detector: precision, recall, F1, false-alarm rate (share of non-speech
// frames called speech), and for our detector the ROC-AUC of its score plus the false-alarm rate at
// the threshold that reaches recall 0.90 and at the recall each WebRTC setting reaches.
//
//   build/release/bench/vad_bench              accuracy tables (seconds)
//   build/release/bench/vad_bench --cost NAME  runs one detector over the clean set, for callgrind
//                                              (bench/vad_cost.sh turns that into instructions/s)
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/vad_corpus.h"
#include "dsp/vad/voice_activity_detector.h"
#include "dsp/webrtc_vad.h"

namespace {

using earshot::dsp::VoiceActivityDetector;
using earshot::dsp::WebRtcVad;

using namespace earshot::bench;

struct Run {
  std::vector<float> score;
  std::vector<bool> decision;
};

Run run_ours(const std::vector<float>& x) {
  VoiceActivityDetector vad;
  Run r;
  for (size_t i = 0; i + kFrame <= x.size(); i += kFrame) {
    r.score.push_back(vad.process(&x[i]));
    r.decision.push_back(vad.is_speech());
  }
  return r;
}

Run run_webrtc(const std::vector<float>& x, int likelihood) {
  std::string err;
  auto vad = WebRtcVad::create(WebRtcVad::Likelihood(likelihood), &err);
  if (!vad) {
    fprintf(stderr, "vad_bench: %s\n", err.c_str());
    exit(1);
  }
  Run r;
  for (size_t i = 0; i + kFrame <= x.size(); i += kFrame) {
    const bool s = vad->is_speech(&x[i]);
    r.decision.push_back(s);
    r.score.push_back(s ? 1.0f : 0.0f);
  }
  return r;
}

struct Scores {
  double precision, recall, f1, false_alarm;
};

Scores score(const std::vector<bool>& label, const std::vector<bool>& decision) {
  double tp = 0, fp = 0, fn = 0, tn = 0;
  for (size_t k = 0; k < std::min(label.size(), decision.size()); ++k) {
    if (label[k] && decision[k])
      ++tp;
    else if (!label[k] && decision[k])
      ++fp;
    else if (label[k])
      ++fn;
    else
      ++tn;
  }
  Scores s{};
  s.precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  s.recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0;
  s.false_alarm = fp + tn > 0 ? fp / (fp + tn) : 0;
  return s;
}

// ROC of a score: (false-alarm, recall) for every threshold, and its area.
struct Roc {
  std::vector<std::pair<double, double>> points;  // sorted by threshold descending
  std::vector<float> thresholds;
  double auc = 0;
};

Roc roc(const std::vector<bool>& label, const std::vector<float>& sc) {
  std::vector<size_t> idx(std::min(label.size(), sc.size()));
  for (size_t i = 0; i < idx.size(); ++i)
    idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return sc[a] > sc[b]; });
  double pos = 0, neg = 0;
  for (size_t i : idx)
    (label[i] ? pos : neg) += 1;
  Roc r;
  double tp = 0, fp = 0, prev_fa = 0, prev_rec = 0;
  for (size_t j = 0; j < idx.size(); ++j) {
    (label[idx[j]] ? tp : fp) += 1;
    if (j + 1 < idx.size() && sc[idx[j + 1]] == sc[idx[j]]) continue;
    const double fa = neg ? fp / neg : 0, rec = pos ? tp / pos : 0;
    r.auc += (fa - prev_fa) * (rec + prev_rec) / 2;
    prev_fa = fa;
    prev_rec = rec;
    r.points.push_back({fa, rec});
    r.thresholds.push_back(sc[idx[j]]);
  }
  return r;
}

// The lowest false-alarm rate of any threshold whose recall is at least `recall`.
std::pair<double, float> fa_at_recall(const Roc& r, double recall) {
  for (size_t i = 0; i < r.points.size(); ++i)
    if (r.points[i].second >= recall) return {r.points[i].first, r.thresholds[i]};
  return {1.0, 0.0f};
}

void print_row(const char* condition, const char* name, const Scores& s, const char* extra) {
  printf("| %-9s | %-22s | %9.3f | %6.3f | %5.3f | %11.3f | %s |\n", condition, name, s.precision,
         s.recall, s.f1, s.false_alarm, extra);
}

int cost_mode(const std::string& which) {
  Corpus c = build_corpus();
  size_t speech = 0;
  if (which == "ours") {
    Run r = run_ours(c.clean);
    speech = size_t(std::count(r.decision.begin(), r.decision.end(), true));
  } else if (which.rfind("webrtc", 0) == 0) {
    Run r = run_webrtc(c.clean, which.back() - '0');
    speech = size_t(std::count(r.decision.begin(), r.decision.end(), true));
  } else if (which == "none") {
    speech = 0;  // corpus building only: subtracted from the others
  } else {
    fprintf(stderr, "vad_bench: --cost ours|webrtc0..3|none\n");
    return 2;
  }
  printf("%s: %.1f s of audio, %zu speech frames\n", which.c_str(), double(c.clean.size()) / kRate,
         speech);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--cost") == 0) return cost_mode(argv[2]);
  Corpus c = build_corpus();
  const std::vector<float> noise = noise_half(load(data("noise/doing_the_dishes.wav")), false);
  size_t speech_frames = size_t(std::count(c.label.begin(), c.label.end(), true));
  printf("labelled set: %.1f s, %zu frames of 10 ms, %.1f%% speech\n\n",
         double(c.clean.size()) / kRate, c.label.size(),
         100.0 * double(speech_frames) / double(c.label.size()));
  printf(
      "| condition | detector               | precision | recall |    F1 | false alarm | notes "
      "|\n");
  printf(
      "|-----------|------------------------|-----------|--------|-------|-------------|-------|"
      "\n");
  struct Condition {
    const char* name;
    std::vector<float> audio;
  };
  std::vector<Condition> conditions = {
      {"clean", c.clean}, {"10 dB", mix(c, noise, 10)}, {"0 dB", mix(c, noise, 0)}};
  for (const Condition& cond : conditions) {
    Run ours = run_ours(cond.audio);
    Roc r = roc(c.label, ours.score);
    std::vector<Scores> webrtc;
    for (int l = 0; l < 4; ++l)
      webrtc.push_back(score(c.label, run_webrtc(cond.audio, l).decision));
    auto [fa90, th90] = fa_at_recall(r, 0.90);
    char extra[256];
    snprintf(extra, sizeof extra, "AUC %.3f; at recall 0.90: false alarm %.3f (threshold %.2f)",
             r.auc, fa90, double(th90));
    print_row(cond.name, "ours (default 0.7)", score(c.label, ours.decision), extra);
    for (int l = 0; l < 4; ++l) {
      auto [fa_same, th_same] = fa_at_recall(r, webrtc[size_t(l)].recall);
      snprintf(extra, sizeof extra, "ours at this recall: false alarm %.3f (threshold %.2f)",
               fa_same, double(th_same));
      char name[32];
      snprintf(name, sizeof name, "webrtc likelihood %d", l);
      print_row(cond.name, name, webrtc[size_t(l)], extra);
    }
  }
  // The noise alone: every frame called speech is a false alarm (a node that wakes the bridge).
  std::vector<bool> none(noise.size() / kFrame, false);
  Run ours = run_ours(noise);
  print_row("dishes", "ours (default 0.7)", score(none, ours.decision), "noise only");
  for (int l = 0; l < 4; ++l) {
    char name[32];
    snprintf(name, sizeof name, "webrtc likelihood %d", l);
    print_row("dishes", name, score(none, run_webrtc(noise, l).decision), "noise only");
  }
  return 0;
}
