// VAD benchmark: our VoiceActivityDetector against the WebRTC VAD (webrtc-audio-processing) at each
// of its four likelihood settings, frame by frame (10 ms), on held-out splits: recordings that
// share no speaker, noise or recording with what the detector was fitted or tuned on. The first
// (tests/data/vad/heldout, bench/vad_data.sh) has been scored at every change of the detector and
// is no longer an unseen set; the second (tests/data/vad/heldout2, bench/vad_heldout2.py) was laid
// out after an earlier model (see docs/vad.md) and has been used many times since. A third
// (tests/data/vad/heldout3, bench/vad_heldout3.py), scored four times, a fourth
// (tests/data/vad/heldout4, bench/vad_heldout4.py), scored three times, and a fifth
// (tests/data/vad/heldout5, bench/vad_heldout5.py), scored twice (docs/vad.md lists what for), are
// scored only when named (`--split third`, `--split fourth`, `--split fifth`), never by default.
// None of them is unseen any more. A sixth (tests/data/vad/heldout6, bench/vad_heldout6.py) was
// laid out and committed before anything was scored on it: `--split sixth`, only when named, once
// for the next candidate chosen on validation.
//
// Our detector is scored twice: its raw per-frame score (the logistic output, decided at 0.5) and
// its held score (20 ms mean, 200 ms hold, decided at the node's default 0.7 with hysteresis); each
// against word-level labels (pauses between words are non-speech) and utterance-level labels
// (pauses under 300 ms closed). Conditions: clean, and mixed at 10 dB and 0 dB SNR with each
// split's own noises (first: babble, fan, music; second: crowd, ambience, music; third: household,
// weather, music; fourth: household, machines, music; fifth: tv, kitchen, street; sixth:
// livingroom, music, square), pooled per SNR.
//
// Printed per condition and detector: precision, recall, F1, false-alarm rate (share of non-speech
// frames called speech), ROC-AUC of the score, and the lowest false-alarm rate at any threshold
// whose recall is at least 0.90 (for WebRTC's yes/no output: its own if its recall reaches 0.90,
// else 1, calling everything speech). Then each noise alone (the whole file at its 10 dB level, no
// voice in it: the splits lay clips 1-2.5 s apart, so the figures above never see a room where
// nobody speaks), the share of frames each detector calls speech; the goals of issue 10, checked;
// how long each decision stays on after an utterance ends (what it adds to the end of a turn);
// and what the node's segmenter makes of each decision: utterances cut or lost, and with each noise
// alone the segments sent (through_segmenter, vad_corpus.h).
//
//   build/release/bench/vad_bench [--split first|second|third|fourth|fifth|sixth]
//                                           accuracy tables (seconds): the first and second splits
//                                           unless one is named; the third to sixth only when
//                                           named (once per candidate)
//   build/release/bench/vad_bench --cost NAME  runs one detector over the clean set, for callgrind
//                                              (bench/vad_cost.sh turns that into instructions/s)
//   ... --split NAME --dump-audio DIR          writes the split's inputs (each condition, each
//                                              noise alone) to DIR as WAV files, and scores nothing
//   ... --split NAME --reference DIR           adds a reference detector's scores (DIR/<input>.f32,
//                                              one float per 10 ms frame): Silero VAD v6 made by
//                                              bench/vad_silero.sh, printed in a table of its own
//                                              beside ours and WebRTC's best, with the goals it
//                                              would meet on this split
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
  void append(const Run& o) {
    score.insert(score.end(), o.score.begin(), o.score.end());
    decision.insert(decision.end(), o.decision.begin(), o.decision.end());
  }
};

constexpr float kRawThreshold = 0.5f;  // the logistic score's own midpoint

// Our detector's held score (and the node's decision on it) and its raw score (decided at 0.5).
std::pair<Run, Run> run_ours(const std::vector<float>& x) {
  VoiceActivityDetector vad;
  Run held, raw;
  for (size_t i = 0; i + kFrame <= x.size(); i += kFrame) {
    held.score.push_back(vad.process(&x[i]));
    held.decision.push_back(vad.is_speech());
    raw.score.push_back(vad.raw_score());
    raw.decision.push_back(vad.raw_score() >= kRawThreshold);
  }
  return {held, raw};
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

double called_speech(const std::vector<bool>& decision) {
  return decision.empty()
             ? 0.0
             : double(std::count(decision.begin(), decision.end(), true)) / double(decision.size());
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

constexpr int kDetectors = 6;  // ours raw, ours held, webrtc 0-3
const char* const kDetectorNames[kDetectors] = {"ours raw (0.5)",      "ours held (0.7)",
                                                "webrtc likelihood 0", "webrtc likelihood 1",
                                                "webrtc likelihood 2", "webrtc likelihood 3"};

// Every detector's output over one condition, and the labels they are scored against.
struct Outputs {
  Run run[kDetectors];
  Run reference;  // empty without --reference
  std::vector<bool> word, utterance;
  void append(const Outputs& o) {
    for (int d = 0; d < kDetectors; ++d)
      run[d].append(o.run[d]);
    reference.append(o.reference);
    word.insert(word.end(), o.word.begin(), o.word.end());
    utterance.insert(utterance.end(), o.utterance.begin(), o.utterance.end());
  }
};

// A reference detector's scores, made outside the bench for each input it writes (--dump-audio,
// --reference): where they are, and the split's name, which every input's name starts with.
struct Reference {
  std::string dump_dir, scores_dir, split;
  std::string input(const std::string& name) const {
    std::string key = split + "-" + name;
    for (char& ch : key)
      if (ch == ' ') ch = '_';
    return key;
  }
};

// --reference: the scores made for the input, one per 10 ms frame, decided at 0.5.
Run reference_run(const std::string& path, size_t frames) {
  Run r;
  r.score = read_scores(path, frames);
  for (float v : r.score)
    r.decision.push_back(v >= kRawThreshold);
  return r;
}

// Our detector's and the reference's outputs for one input (named for --dump-audio/--reference).
Outputs run_all(const Corpus& c, const std::vector<float>& audio, const Reference& ref,
                const std::string& name) {
  Outputs o;
  if (!ref.dump_dir.empty()) {
    write_wav(ref.dump_dir + "/" + ref.input(name) + ".wav", audio);
    return o;
  }
  if (!ref.scores_dir.empty())
    o.reference =
        reference_run(ref.scores_dir + "/" + ref.input(name) + ".f32", audio.size() / kFrame);
  auto [held, raw] = run_ours(audio);
  o.run[0] = raw;
  o.run[1] = held;
  for (int l = 0; l < 4; ++l)
    o.run[2 + l] = run_webrtc(audio, l);
  o.word = c.label;
  o.utterance = c.utterance;
  return o;
}

struct Metrics {
  Scores s;
  double auc, fa90;
};

Metrics metrics(const std::vector<bool>& label, const Run& r) {
  Roc curve = roc(label, r.score);
  return {score(label, r.decision), curve.auc, fa_at_recall(curve, 0.90).first};
}

void print_table(const char* labels, const std::vector<std::pair<std::string, Outputs>>& conds,
                 bool word) {
  printf("\nAgainst %s labels:\n\n", labels);
  printf(
      "| condition | detector | precision | recall | F1 | false alarm | ROC-AUC | "
      "false alarm at recall >= 0.90 |\n");
  printf("|---|---|---|---|---|---|---|---|\n");
  for (const auto& [name, o] : conds)
    for (int d = 0; d < kDetectors; ++d) {
      const Metrics m = metrics(word ? o.word : o.utterance, o.run[d]);
      printf("| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", name.c_str(),
             kDetectorNames[d], m.s.precision, m.s.recall, m.s.f1, m.s.false_alarm, m.auc, m.fa90);
    }
}

// Issue 10's goals for one of our scores (raw against word labels, held against utterance labels):
// clean F1 at least WebRTC's best; at recall >= 0.90, false alarms at most half of WebRTC's
// (its best setting) at 10 dB and below WebRTC's at 0 dB.
void print_goals(const char* what, int ours, bool word,
                 const std::vector<std::pair<std::string, Outputs>>& conds) {
  // ours < 0: the reference detector.
  auto get = [&](const Outputs& o, int d) {
    return metrics(word ? o.word : o.utterance, d < 0 ? o.reference : o.run[d]);
  };
  const Outputs& clean = conds[0].second;
  const Outputs& ten = conds[1].second;
  const Outputs& zero = conds[2].second;
  double web_f1 = 0, web_fa10 = 1, web_fa0 = 1;
  for (int d = 2; d < kDetectors; ++d) {
    web_f1 = std::max(web_f1, get(clean, d).s.f1);
    web_fa10 = std::min(web_fa10, get(ten, d).fa90);
    web_fa0 = std::min(web_fa0, get(zero, d).fa90);
  }
  const double f1 = get(clean, ours).s.f1, fa10 = get(ten, ours).fa90, fa0 = get(zero, ours).fa90;
  printf("| %s | clean F1 >= WebRTC's best | %.3f vs %.3f | %s |\n", what, f1, web_f1,
         f1 >= web_f1 ? "met" : "missed");
  printf(
      "| %s | 10 dB false alarm at recall >= 0.90 <= half WebRTC's | %.3f vs %.3f (half: %.3f) | "
      "%s |\n",
      what, fa10, web_fa10, web_fa10 / 2, fa10 <= web_fa10 / 2 ? "met" : "missed");
  printf("| %s | 0 dB false alarm at recall >= 0.90 < WebRTC's | %.3f vs %.3f | %s |\n", what, fa0,
         web_fa0, fa0 < web_fa0 ? "met" : "missed");
}

int cost_mode(const std::string& which) {
  Corpus c = build_heldout();
  size_t speech = 0;
  if (which == "ours") {
    Run r = run_ours(c.clean).first;
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

// The head of a table with a column for each detector that decides on its own (all but the raw
// score, which has no hold).
void print_decision_header() {
  printf("\n| condition |");
  for (int d = 1; d < kDetectors; ++d)
    printf(" %s |", kDetectorNames[d]);
  printf("\n|---|---|---|---|---|---|\n");
}

// How long each detector's decision stays on after an utterance ends (utterance labels; only the
// ends followed by at least 500 ms without speech, so the next utterance is not counted): the
// node's turn cannot end before its VAD lets go, so this adds to every reply's latency. Median and
// 90th percentile, ms, capped at 500.
void print_tails(const std::vector<std::pair<std::string, Outputs>>& conds) {
  constexpr size_t kQuiet = 50;
  printf("\nDecision on after an utterance ends (ms; median / 90th percentile):\n");
  print_decision_header();
  for (const auto& [name, o] : conds) {
    printf("| %s |", name.c_str());
    for (int d = 1; d < kDetectors; ++d) {
      const std::vector<bool>& l = o.utterance;
      const std::vector<bool>& dec = o.run[d].decision;
      std::vector<double> tails;
      for (size_t k = 1; k + kQuiet <= l.size(); ++k) {
        if (!l[k - 1] || l[k]) continue;
        if (std::find(l.begin() + long(k), l.begin() + long(k + kQuiet), true) !=
            l.begin() + long(k + kQuiet))
          continue;
        size_t on = 0;
        while (on < kQuiet && dec[k + on])
          ++on;
        tails.push_back(10.0 * double(on));
      }
      std::sort(tails.begin(), tails.end());
      if (tails.empty()) {
        printf(" - |");
        continue;
      }
      printf(" %.0f / %.0f |", tails[tails.size() / 2], tails[tails.size() * 9 / 10]);
    }
    printf("\n");
  }
}

// The reference detector (its raw score, decided at 0.5) beside our raw score and WebRTC's best
// setting for each figure: how far a strong detector gets on this split's labels and noises.
void print_reference(const std::vector<std::pair<std::string, Outputs>>& conds, const Run& alone) {
  printf(
      "\nReference: Silero VAD v6 (raw, 0.5), bench/vad_silero.sh. F1 / false alarm at recall >= "
      "0.90 / ROC-AUC:\n\n| condition | labels | reference | ours raw | WebRTC's best |\n"
      "|---|---|---|---|---|\n");
  for (const auto& [name, o] : conds)
    for (bool word : {true, false}) {
      const std::vector<bool>& l = word ? o.word : o.utterance;
      const Metrics r = metrics(l, o.reference), ours = metrics(l, o.run[0]);
      Metrics web{{0, 0, 0, 0}, 0, 1};
      for (int d = 2; d < kDetectors; ++d) {
        const Metrics m = metrics(l, o.run[d]);
        web.s.f1 = std::max(web.s.f1, m.s.f1);
        web.fa90 = std::min(web.fa90, m.fa90);
        web.auc = std::max(web.auc, m.auc);
      }
      printf("| %s | %s | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f | %.3f / %.3f / %.3f |\n",
             name.c_str(), word ? "word" : "utterance", r.s.f1, r.fa90, r.auc, ours.s.f1, ours.fa90,
             ours.auc, web.s.f1, web.fa90, web.auc);
    }
  printf("\nEach noise alone, share of frames the reference calls speech: %.3f\n",
         called_speech(alone.decision));
  printf(
      "\nThe goals, for the reference's raw score:\n\n| score | goal | it vs WebRTC | |\n"
      "|---|---|---|---|\n");
  print_goals("reference raw, word labels", -1, true, conds);
  print_goals("reference raw, utterance labels", -1, false, conds);
}

// One split's tables and goals.
void report_split(const char* title, const Corpus& c,
                  const std::vector<std::pair<std::string, std::string>>& noises,
                  const Reference& ref) {
  auto share = [](const std::vector<bool>& l) {
    return 100.0 * double(std::count(l.begin(), l.end(), true)) / double(l.size());
  };
  printf(
      "\n## %s: %.1f s, %zu frames of 10 ms; speech %.1f%% (word labels), %.1f%% (utterance "
      "labels)\n",
      title, double(c.clean.size()) / kRate, c.label.size(), share(c.label), share(c.utterance));
  std::vector<std::pair<std::string, Outputs>> conds = {
      {"clean", run_all(c, c.clean, ref, "clean")}};
  std::vector<std::pair<std::string, Outputs>> per_noise;
  for (double snr : {10.0, 0.0}) {
    Outputs pooled;
    for (const auto& [name, file] : noises) {
      const std::string condition = std::to_string(int(snr)) + " dB " + name;
      Outputs o = run_all(c, mix(c, load(data(file)), snr), ref, condition);
      pooled.append(o);
      per_noise.push_back({condition, std::move(o)});
    }
    conds.push_back({std::to_string(int(snr)) + " dB (all noises)", std::move(pooled)});
  }
  if (!ref.dump_dir.empty()) {
    for (const auto& [name, file] : noises)
      write_wav(ref.dump_dir + "/" + ref.input("alone " + name) + ".wav",
                noise_alone(c, load(data(file)), 10.0));
    printf("%s: inputs written to %s\n", title, ref.dump_dir.c_str());
    return;
  }
  print_table("word-level", conds, true);
  print_table("utterance-level", conds, false);
  printf("\nPer noise, false alarm at recall >= 0.90 (ROC-AUC):\n\n| condition | labels |");
  for (const char* d : kDetectorNames)
    printf(" %s |", d);
  printf("\n|---|---|---|---|---|---|---|---|\n");
  for (const auto& [name, o] : per_noise)
    for (bool word : {true, false}) {
      printf("| %s | %s |", name.c_str(), word ? "word" : "utterance");
      for (int d = 0; d < kDetectors; ++d) {
        const Metrics m = metrics(word ? o.word : o.utterance, o.run[d]);
        printf(" %.3f (%.3f) |", m.fa90, m.auc);
      }
      printf("\n");
    }
  // The splits lay clips 1-2.5 s apart, so every noise frame above is within seconds of a voice.
  // A room is mostly nobody speaking: each noise alone, at its 10 dB level, for its whole length.
  printf(
      "\nEach noise alone (no voice in it; at its 10 dB level, its whole length): share of frames "
      "called speech\n\n| noise | seconds |");
  for (const char* d : kDetectorNames)
    printf(" %s |", d);
  printf("\n|---|---|---|---|---|---|---|---|\n");
  std::vector<Run> alone_pooled(kDetectors);
  Run reference_alone;
  double alone_seconds = 0;
  for (const auto& [name, file] : noises) {
    const std::vector<float> alone = noise_alone(c, load(data(file)), 10.0);
    if (!ref.scores_dir.empty())
      reference_alone.append(reference_run(
          ref.scores_dir + "/" + ref.input("alone " + name) + ".f32", alone.size() / kFrame));
    auto [held, raw] = run_ours(alone);
    const Run runs[kDetectors] = {raw,
                                  held,
                                  run_webrtc(alone, 0),
                                  run_webrtc(alone, 1),
                                  run_webrtc(alone, 2),
                                  run_webrtc(alone, 3)};
    printf("| %s | %.0f |", name.c_str(), double(alone.size()) / kRate);
    alone_seconds += double(alone.size()) / kRate;
    for (int d = 0; d < kDetectors; ++d) {
      printf(" %.3f |", called_speech(runs[d].decision));
      alone_pooled[size_t(d)].append(runs[d]);
    }
    printf("\n");
  }
  printf("| all | |");
  for (const Run& r : alone_pooled)
    printf(" %.3f |", called_speech(r.decision));
  printf("\n");
  printf(
      "\nGoals (WebRTC: its best setting for each figure):\n\n| score | goal | ours vs WebRTC | "
      "|\n|---|---|---|---|\n");
  print_goals("raw, word labels", 0, true, conds);
  print_goals("held, utterance labels", 1, false, conds);
  print_tails(conds);
  // What a household gets: the segments the node sends, not frames.
  printf(
      "\nThrough the node's segmenter (no high-pass here): utterances cut in two or more / lost, "
      "of all; with each noise alone, segments sent per minute (seconds of them per minute)\n");
  print_decision_header();
  for (const auto& [name, o] : conds) {
    printf("| %s |", name.c_str());
    for (int d = 1; d < kDetectors; ++d) {
      const SegmentCount n = through_segmenter(o.utterance, o.run[d].decision);
      printf(" %d / %d of %d |", n.cut, n.lost, n.utterances);
    }
    printf("\n");
  }
  printf("| each noise alone |");
  for (int d = 1; d < kDetectors; ++d) {
    const Run& r = alone_pooled[size_t(d)];
    const SegmentCount n = through_segmenter(std::vector<bool>(r.decision.size()), r.decision);
    printf(" %.1f (%.0f s) |", double(n.segments) * 60.0 / alone_seconds,
           double(n.frames) * 0.01 * 60.0 / alone_seconds);
  }
  printf("\n");
  if (!ref.scores_dir.empty()) print_reference(conds, reference_alone);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--cost") == 0) return cost_mode(argv[2]);
  // No argument: the first and second splits. The third to sixth are scored only when named.
  std::string split;
  Reference ref;
  bool usage_error = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) {
      usage_error = true;
    } else if (arg == "--split") {
      split = argv[++i];
    } else if (arg == "--dump-audio") {
      ref.dump_dir = argv[++i];
    } else if (arg == "--reference") {
      ref.scores_dir = argv[++i];
    } else {
      usage_error = true;
    }
  }
  struct Split {
    const char* name;
    const char* title;
    Corpus (*build)();
    NoiseList (*noises)();
    bool by_default;
  };
  const Split splits[] = {{"first", "First held-out split (tests/data/vad/heldout)", build_heldout,
                           heldout_noises, true},
                          {"second", "Second held-out split (tests/data/vad/heldout2)",
                           build_heldout2, heldout2_noises, true},
                          {"third", "Third held-out split (tests/data/vad/heldout3)",
                           build_heldout3, heldout3_noises, false},
                          {"fourth", "Fourth held-out split (tests/data/vad/heldout4)",
                           build_heldout4, heldout4_noises, false},
                          {"fifth", "Fifth held-out split (tests/data/vad/heldout5)",
                           build_heldout5, heldout5_noises, false},
                          {"sixth", "Sixth held-out split (tests/data/vad/heldout6)",
                           build_heldout6, heldout6_noises, false}};
  const bool named = std::any_of(std::begin(splits), std::end(splits),
                                 [&](const Split& s) { return split == s.name; });
  // A reference's inputs and scores are made for one named split at a time.
  const bool with_reference = !ref.dump_dir.empty() || !ref.scores_dir.empty();
  if (usage_error || (!split.empty() && !named) || (with_reference && split.empty()) ||
      (!ref.dump_dir.empty() && !ref.scores_dir.empty())) {
    fprintf(stderr,
            "usage: vad_bench [--split first|second|third|fourth|fifth|sixth "
            "[--dump-audio DIR | --reference DIR]] | --cost NAME\n");
    return 2;
  }
  ref.split = split;
  for (const Split& s : splits)
    if (split.empty() ? s.by_default : split == s.name)
      report_split(s.title, s.build(), s.noises(), ref);
  return 0;
}
