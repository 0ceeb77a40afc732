// Fits our VAD's model (dsp::VadModel: one hidden layer of tanh units plus a linear path, over the
// features of this frame, their change and their leaky average) by Adam on the training set only
// (vad_corpus.h build_training: CMU ARCTIC, JFK, "cards" and LibriVox voices with pocketsphinx word
// labels, and the Debian voices in 24 languages with energy labels) mixed with the training noises
// (the kitchen recording; the synthesized babble, fan and music; babble of the Debian voices, full
// band and radio band; Wesnoth's music; household sounds and more varied music, singing among it,
// from Debian packages) at clean, 20, 10, 5 and 0 dB SNR. Nothing of the held-out
// split vad_bench scores is used. The raw score is fitted to word-level labels: a frame is speech
// when it is inside a word.
//
// Every choice (hidden units, the weight of word ends, the number of epochs) is made on a
// validation split carved from the training side: the CMU ARCTIC speaker axb (three clips), the
// last "cards" and the last LibriVox clip, four of the Debian languages, and the last 30 % of
// every training noise (other voices and tracks, for the Debian babble and music); the rest
// trains. Validation mode prints, for the candidate and for the logistic regression the detector
// shipped with before the network, what vad_bench prints for the goals: clean F1 (raw at 0.5
// against word labels, held at the node's 0.7 against utterance labels), the false-alarm rate at
// recall >= 0.90 at 10 and 0 dB, and the recall of word ends (the last 100 ms of each word,
// clean); the same clean figures with precision and recall on the validation clips labelled as
// the held-out splits are (pocketsphinx word spans); and the synthetic pause of
// Vad.RawScoreFallsInThePausesTheHeldScoreBridges; and each validation noise alone (no voice in
// it), the share of its frames called speech. --hold-sweep then scores the held score's mean,
// hold and how periodic a held frame must be (VadConfig) over a grid. Final mode refits on the
// whole training side with the chosen settings and writes the model's source file.
//
//   build/release/bench/vad_fit [--hidden H] [--end-weight W] [--epochs N]       validation
//                               [--delta FRAMES] [--leak A]   (the input: VadModel)
//                               [--tail FRAMES] [--hiss] [--seed N] [--hold-sweep]
//                               [--band-limit]   (also fit on the clips low-passed at 4 and
//                               5.5 kHz, clean and at 10 dB; validation prints the aligned
//                               clips low-passed the same way either way)
//                               [--band-limit-clean]   (the same, clean only)
//                               [--leave-out NOISE[,NOISE...]]   (those noises unseen in
//                               fitting: dishes, babble, fan, music, voices, radio, tracks,
//                               household, music_more)
//                               [--lr R] [--cosine] [--average-last K]   (the step size, its
//                               decay to zero over the fit, the weights averaged over the last
//                               K epochs)
//                               [--noise-alone LEVELS]   (each fitting noise also by itself)
//                               [--utterance-target]   (fit to utterance labels: experiment)
//                               [--tts [--tts-weight W]]   (also fit on Festival's voices,
//                               tests/data/vad/tts, their frames weighing W)
//                               [--hedgewars]   (also fit on Hedgewars' voice packs,
//                               tests/data/vad/hedgewars: real voices, weighing 1)
//                               [--speed F,G]   (also fit on the clips played F and G times as
//                               fast, in the same noises: speed perturbation)
//                               [--drop-features I,J]   (those features zero in every input)
//                               [--gru UNITS ...]   (the recurrent gate: train_gru below)
//                               [--teacher-dump DIR | --teacher DIR [--teacher-mix A]
//                                [--teacher-clean-for NOISES]]
//                               (a teacher's scores as targets: g_teacher_dump below)
//   build/release/bench/vad_fit --final --epochs N [...] --write dsp/vad/vad_model.cpp
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "bench/vad_corpus.h"
#include "dsp/high_pass_filter.h"
#include "dsp/vad/speech_segmenter.h"
#include "dsp/vad/voice_activity_detector.h"

using namespace earshot::bench;
using earshot::dsp::kVadHiddenCount;
using earshot::dsp::kVadInputCount;
using earshot::dsp::VadConfig;
using earshot::dsp::VadModel;
using earshot::dsp::VoiceActivityDetector;

namespace {

constexpr int kI = kVadInputCount, kH = kVadHiddenCount;
constexpr float kRawThreshold = 0.5f;  // vad_bench's
constexpr size_t kWordEndFrames = 10;  // the last 100 ms of a word

// The detector before the network (shipped until 2026-11-30): the logistic regression over the
// first seven features, for comparison.
VadModel logistic_model() {
  VadModel m{};
  const float w[] = {0.949f, 0.291f, 2.264f, -0.001f, 10.793f, 0.230f, -0.582f};
  std::copy(std::begin(w), std::end(w), m.linear);
  m.out_bias = -5.164f;
  return m;
}

struct Samples {
  std::vector<float> x;  // kI per sample
  std::vector<float> y, weight;
  std::vector<size_t> starts;  // where each stream (one collect()) begins, for --gru
  size_t size() const { return y.size(); }
};

bool is_validation_clip(const std::string& clip) {
  return clip.find("axb_") != std::string::npos || clip.find("cards/005") != std::string::npos ||
         clip.find("-0930") != std::string::npos ||
         clip.find("ktuberling_el") != std::string::npos ||
         clip.find("ktuberling_sl") != std::string::npos ||
         clip.find("klettres_hu") != std::string::npos ||
         clip.find("klettres_he") != std::string::npos;
}

// The input layout being fitted (VadModel's delta_frames and leak; --delta, --leak): the
// detector builds the network's input from it, so fitting collects with it too.
VadModel g_layout{};
int g_gru = 0;  // --gru: units of the recurrent gate (0: none)
bool g_gru_frozen = false;
double g_gate_init = -4;
double g_lr = 0.003;       // --lr: Adam's step size
bool g_gate_slow = false;  // --gate-slow: the gate reads only the leaky averages
// --cosine: the step size falls from --lr to zero along half a cosine over the whole fit, so the
// last epochs settle instead of jumping (validation loss moved 0.51-0.66 between epochs at a
// fixed step, which made the unstopped final fit's last epoch a lottery).
bool g_cosine = false;
// --average-last K: the weights kept are the mean of the weights after every step of the last K
// epochs (0: the last step's), which smooths the same jumps another way.
int g_average_last = 0;
// --utterance-target: fit against the utterance labels (pauses between words are speech) instead of
// the word labels, to see what the held score gains when the score is fitted for what it is
// scored on. The raw score then no longer falls in pauses; an experiment, not a recipe.
bool g_utterance_target = false;
// --teacher-dump DIR / --teacher DIR [--teacher-mix A]: a teacher's scores as fitting targets.
// With --teacher-dump, every fitting input (each collect() into the training set, in order) is
// written to DIR/fit-<n>.wav; bench/silero/scores.js scores them (Silero VAD v6); with --teacher,
// each frame's target is (1 - A) * its label + A * the teacher's score for it, so the network
// learns what the teacher hears in noise beside what the labels say. Validation keeps the labels.
// The inputs depend on every other option: dump and fit with the same ones.
std::string g_teacher_dump, g_teacher_dir;
float g_teacher_mix = 0.5f;
int g_teacher_input = 0;  // fitting inputs collected so far
// --teacher-clean-for NOISES: in those noises (a comma list of training noise names, `hiss` for
// --hiss's white noise), a frame's teacher score is the teacher's on the clean clips (the first
// fitting input) instead of on the mix. The teacher hears other people talking as speech (babble,
// voices and radio are, and the labels call them non-speech), and hears less of a word the noise
// masks, which the labels still call speech: on the clean clips it says only where the words are.
std::string g_teacher_clean_for;
bool g_teacher_clean = false;  // set while collecting such a noise
// --drop-features I,J,...: those features (vad_feature_vector's indices) are zero in every input
// the fit sees (this frame, its change and its leaky average), so a model fitted without them
// ignores them: the same recipe with and without a feature, on one build.
std::vector<bool> g_dropped(earshot::dsp::kVadFeatureCount);
std::string g_drop_list;
void drop_features(float* x) {
  constexpr int kF = earshot::dsp::kVadFeatureCount;
  for (int i = 0; i < kF; ++i)
    if (g_dropped[size_t(i)]) x[i] = x[kF + i] = x[2 * kF + i] = 0;
}
std::string g_speed_list;  // --speed F,G: as given, for the recipe
// "a,b,c" as its items, for the options that take a list.
std::vector<std::string> comma_separated(const std::string& list) {
  std::vector<std::string> items;
  for (size_t at = 0; at < list.size();) {
    const size_t comma = std::min(list.find(',', at), list.size());
    items.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return items;
}
// Whether `name` is one of the items of the comma list `list` (--leave-out, --teacher-clean-for).
bool listed(const std::string& list, const std::string& name) {
  return ("," + list + ",").find("," + name + ",") != std::string::npos;
}
// --noise-alone LEVELS: every fitting noise also by itself (a room between turns), at its 10 dB
// level, then also its 0 and 20 dB ones; 0: not at all.
int g_noise_alone = 0;

// Frames in the last kWordEndFrames of a word: the fricatives and decays that end words.
std::vector<bool> word_ends(const std::vector<bool>& label) {
  std::vector<bool> end(label.size());
  for (size_t k = 0; k < label.size(); ++k)
    if (label[k] && (k + 1 == label.size() || !label[k + 1]))
      for (size_t j = 0; j < kWordEndFrames && j <= k && label[k - j]; ++j)
        end[k - j] = true;
  return end;
}

// `c` low-passed at `cutoff_hz` (a 255-tap Hann-windowed sinc; stop band about 50 dB down from
// 150 Hz above the cutoff): speech as a telephone (4 kHz) or an 11 kHz recording (5.5 kHz) carries
// it, for --band-limit. The labels are the clip's own.
Corpus band_limited(const Corpus& c, double cutoff_hz) {
  constexpr int kTaps = 255, kHalf = kTaps / 2;
  std::vector<double> h(kTaps);
  double sum = 0;
  for (int i = 0; i < kTaps; ++i) {
    const double t = i - kHalf, fc = cutoff_hz / kRate;
    const double sinc = t == 0 ? 2 * fc : std::sin(2 * M_PI * fc * t) / (M_PI * t);
    h[size_t(i)] = sinc * (0.5 - 0.5 * std::cos(2 * M_PI * i / (kTaps - 1)));
    sum += h[size_t(i)];
  }
  Corpus out = c;
  for (size_t n = 0; n < c.clean.size(); ++n) {
    double y = 0;
    for (int i = 0; i < kTaps; ++i) {
      const long k = long(n) + kHalf - i;
      if (k >= 0 && size_t(k) < c.clean.size()) y += h[size_t(i)] * c.clean[size_t(k)];
    }
    out.clean[n] = float(y / sum);
  }
  return out;
}

// The network's inputs for every non-silent frame of `audio` (the features do not depend on the
// model), labelled by the corpus's word labels; word ends weigh `end_weight`.
// `tail` frames after each word are labelled speech too (the decay after a word's last sound).
void collect(const Corpus& c, const std::vector<float>& audio, float end_weight, int tail,
             Samples* out, bool fitting = false) {
  std::vector<float> teacher;
  if (fitting && (!g_teacher_dump.empty() || !g_teacher_dir.empty())) {
    const std::string input = "/fit-" + std::to_string(g_teacher_input++);
    if (!g_teacher_dump.empty()) write_wav(g_teacher_dump + input + ".wav", audio);
    if (!g_teacher_dir.empty())
      teacher = read_scores(g_teacher_dir + (g_teacher_clean ? "/fit-0" : input) + ".f32",
                            audio.size() / kFrame);
  }
  VadConfig config;
  config.model = &g_layout;
  VoiceActivityDetector vad(config);
  const std::vector<bool> ends = word_ends(c.label);
  std::vector<bool> label = c.label;
  for (size_t k = 1; k < label.size(); ++k)
    if (c.label[k - 1] && !c.label[k])
      for (size_t j = k; j < std::min(label.size(), k + size_t(tail)); ++j)
        label[j] = true;
  out->starts.push_back(out->size());
  for (size_t k = 0; k < c.label.size(); ++k) {
    vad.process(&audio[k * kFrame]);
    if (vad.features().level_db < VadConfig{}.silence_dbfs) {  // never speech
      if (g_gru == 0) continue;
      // The recurrent state steps through it: kept in the stream, weighing nothing.
      out->x.insert(out->x.end(), vad.model_input(), vad.model_input() + kI);
      drop_features(&out->x[out->x.size() - kI]);
      out->y.push_back(0.0f);
      out->weight.push_back(0.0f);
      continue;
    }
    out->x.insert(out->x.end(), vad.model_input(), vad.model_input() + kI);
    drop_features(&out->x[out->x.size() - kI]);
    const float target = (g_utterance_target ? c.utterance[k] : label[k]) ? 1.0f : 0.0f;
    out->y.push_back(teacher.empty() ? target
                                     : (1 - g_teacher_mix) * target + g_teacher_mix * teacher[k]);
    const float scale = c.weight.empty() ? 1.0f : c.weight[k];
    out->weight.push_back((ends[k] ? end_weight : 1.0f) * scale);
  }
}

// `c` played `factor` times as fast (pitch and formants up by the same factor, words shorter), the
// labels moved with it: speed perturbation, the usual way to make more speakers from few (a voice
// 10 % faster is a smaller vocal tract, not the same person). For --speed.
Corpus speed_perturbed(const Corpus& c, double factor) {
  std::string err;
  auto rs = earshot::dsp::Resampler::create(kRate * factor, kRate, c.clean.size(), &err);
  if (!rs) {
    fprintf(stderr, "vad_fit: %s\n", err.c_str());
    exit(1);
  }
  Corpus out;
  out.clean.resize(rs->max_output_frames() * 2 + 64);
  size_t n = rs->process(c.clean.data(), c.clean.size(), out.clean.data(), out.clean.size());
  while (size_t m = rs->flush(out.clean.data() + n, out.clean.size() - n))
    n += m;
  out.clean.resize(n / kFrame * kFrame);
  const size_t frames = out.clean.size() / kFrame;
  for (size_t k = 0; k < frames; ++k) {
    const size_t from = std::min(c.label.size() - 1, size_t((double(k) + 0.5) * factor));
    out.label.push_back(c.label[from]);
    out.utterance.push_back(c.utterance[from]);
    if (!c.weight.empty()) out.weight.push_back(c.weight[from]);
  }
  return out;
}

// A corpus as long as `audio` with no speech in it, for scoring or fitting a noise by itself.
Corpus without_speech(const std::vector<float>& audio) {
  Corpus c;
  c.clean.assign(audio.size() / kFrame * kFrame, 0.0f);
  c.label.assign(audio.size() / kFrame, false);
  c.utterance = c.label;
  return c;
}

// A deterministic generator (std::mt19937's sequence is fixed by the standard; the distributions
// are not, so they are done by hand).
// The training run's seed (--seed; the initial weights, the batch order and the hiss): fits with
// other seeds show how much of a difference between two settings is chance.
uint32_t g_seed = 20261130;

struct Rng {
  std::mt19937 gen{g_seed};
  double uniform() { return (double(gen()) + 0.5) / 4294967296.0; }
  double normal() { return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform()); }
  size_t below(size_t n) { return size_t(uniform() * double(n)) % n; }
};

struct Net {
  double w1[kH][kI], b1[kH], w2[kH], lin[kI], b2;
};

double forward(const Net& n, int hidden, const float* x, double a[kH]) {
  double z = n.b2;
  for (int i = 0; i < kI; ++i)
    z += n.lin[i] * x[i];
  for (int h = 0; h < hidden; ++h) {
    double v = n.b1[h];
    for (int i = 0; i < kI; ++i)
      v += n.w1[h][i] * x[i];
    a[h] = std::tanh(v);
    z += n.w2[h] * a[h];
  }
  return z;
}

double loss(const Net& n, int hidden, const Samples& s) {
  double total = 0, weights = 0;
  double a[kH];
  for (size_t k = 0; k < s.size(); ++k) {
    const double z = forward(n, hidden, &s.x[k * kI], a);
    // log(1 + e^-z) for speech, log(1 + e^z) for non-speech, computed stably.
    const double m = s.y[k] > 0.5f ? -z : z;
    total += s.weight[k] * (std::max(m, 0.0) + std::log1p(std::exp(-std::fabs(m))));
    weights += s.weight[k];
  }
  return total / weights;
}

// One Adam step (with a small L2 penalty) on parameters [from, to) of `p`, from gradients summed
// over a batch of total weight `batch_weight`; `step` counts from 1. Both fits use it.
// `fraction` is how far through the whole fit this step is (0..1), for --cosine.
void adam_step(double* p, const double* g, double* m, double* v, size_t from, size_t to,
               double batch_weight, long step, double fraction) {
  const double lr = g_cosine ? g_lr * 0.5 * (1 + std::cos(M_PI * fraction)) : g_lr;
  const double beta1 = 0.9, beta2 = 0.999, l2 = 1e-4;
  for (size_t i = from; i < to; ++i) {
    const double gi = g[i] / batch_weight + l2 * p[i];
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    const double mh = m[i] / (1 - std::pow(beta1, double(step)));
    const double vh = v[i] / (1 - std::pow(beta2, double(step)));
    p[i] -= lr * mh / (std::sqrt(vh) + 1e-8);
  }
}

// The running mean of a parameter block over the steps it is given (--average-last).
class WeightAverage {
 public:
  explicit WeightAverage(size_t count) : mean_(count) {}
  void add(const double* p) {
    ++steps_;
    for (size_t i = 0; i < mean_.size(); ++i)
      mean_[i] += (p[i] - mean_[i]) / double(steps_);
  }
  bool empty() const { return steps_ == 0; }
  void copy_to(double* p) const { std::copy(mean_.begin(), mean_.end(), p); }

 private:
  std::vector<double> mean_;
  long steps_ = 0;
};

// Adam over shuffled mini-batches with a small L2 penalty on the weights. Returns the epoch (1..)
// with the lowest validation loss when `validation` is given, and keeps that epoch's network.
int train(Net* best, int hidden, int epochs, const Samples& s, const Samples* validation,
          bool early_stop) {
  Rng rng;
  Net n{};
  for (int h = 0; h < kH; ++h)
    for (int i = 0; i < kI; ++i)
      n.w1[h][i] = h < hidden ? rng.normal() / std::sqrt(double(kI)) : 0;
  for (int h = 0; h < hidden; ++h)
    n.w2[h] = 0.1 * rng.normal();
  constexpr int kParams = kH * kI + kH + kH + kI + 1;
  auto params = [](Net& net) { return reinterpret_cast<double*>(&net); };
  static_assert(sizeof(Net) == kParams * sizeof(double));
  std::vector<double> m(kParams), v(kParams), g(kParams);
  constexpr size_t kBatch = 256;
  std::vector<size_t> order(s.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  long step = 0;
  const double total_steps = double(epochs) * double((order.size() + kBatch - 1) / kBatch);
  WeightAverage average(kParams);
  double best_loss = 1e9;
  int best_epoch = epochs;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    for (size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[rng.below(i)]);
    for (size_t start = 0; start < order.size(); start += kBatch) {
      std::fill(g.begin(), g.end(), 0.0);
      Net& grad = *reinterpret_cast<Net*>(g.data());
      const size_t end = std::min(order.size(), start + kBatch);
      double batch_weight = 0;
      for (size_t j = start; j < end; ++j) {
        const size_t k = order[j];
        const float* x = &s.x[k * kI];
        double a[kH];
        const double z = forward(n, hidden, x, a);
        const double d = s.weight[k] * (1 / (1 + std::exp(-z)) - s.y[k]);
        batch_weight += s.weight[k];
        grad.b2 += d;
        for (int i = 0; i < kI; ++i)
          grad.lin[i] += d * x[i];
        for (int h = 0; h < hidden; ++h) {
          grad.w2[h] += d * a[h];
          const double dh = d * n.w2[h] * (1 - a[h] * a[h]);
          grad.b1[h] += dh;
          for (int i = 0; i < kI; ++i)
            grad.w1[h][i] += dh * x[i];
        }
      }
      ++step;
      double* p = params(n);
      adam_step(p, g.data(), m.data(), v.data(), 0, size_t(kParams), batch_weight, step,
                double(step) / total_steps);
      for (int h = hidden; h < kH; ++h) {  // unused units stay zero
        std::fill(std::begin(n.w1[h]), std::end(n.w1[h]), 0.0);
        n.b1[h] = n.w2[h] = 0;
      }
      if (epoch > epochs - g_average_last) average.add(p);
    }
    Net kept = n;
    if (!average.empty()) average.copy_to(params(kept));
    if (validation) {
      const double vl = loss(kept, hidden, *validation);
      printf("  epoch %2d: training loss %.4f, validation loss %.4f\n", epoch,
             loss(kept, hidden, s), vl);
      if (vl < best_loss) best_loss = vl, best_epoch = epoch;
      if (vl <= best_loss || !early_stop) *best = kept;
    } else {
      *best = kept;
    }
  }
  return best_epoch;
}

VadModel to_model(const Net& n) {
  VadModel m{};
  for (int h = 0; h < kH; ++h) {
    for (int i = 0; i < kI; ++i)
      m.hidden[h][i] = float(n.w1[h][i]);
    m.hidden_bias[h] = float(n.b1[h]);
    m.out[h] = float(n.w2[h]);
  }
  for (int i = 0; i < kI; ++i)
    m.linear[i] = float(n.lin[i]);
  m.out_bias = float(n.b2);
  m.delta_frames = g_layout.delta_frames;
  m.leak = g_layout.leak;
  return m;
}

// --- The recurrent gate (--gru): a GRU whose output can only lower the network's logit ---

constexpr int kG = earshot::dsp::kVadGruCount;
struct Gru {
  double w[3][kG][kI], u[3][kG][kG], b[3][kG], gate[kG], gate_b;
};
struct Full {
  Net net;
  Gru gru;
};

double sigmoid_d(double z) {
  return 1 / (1 + std::exp(-z));
}
double softplus_d(double g) {
  return g > 30 ? g : std::log1p(std::exp(g));
}

// One step of the GRU (units `n`), keeping what the backward pass needs.
struct GruStep {
  double hprev[kG], z[kG], r[kG], c[kG], h[kG];
};
void gru_forward(const Gru& q, int n, const float* x, const double* hprev, GruStep* st) {
  for (int j = 0; j < n; ++j)
    st->hprev[j] = hprev[j];
  double rh[kG];
  for (int j = 0; j < n; ++j) {
    double az = q.b[0][j], ar = q.b[1][j];
    for (int i = 0; i < kI; ++i)
      az += q.w[0][j][i] * x[i], ar += q.w[1][j][i] * x[i];
    for (int k = 0; k < n; ++k)
      az += q.u[0][j][k] * hprev[k], ar += q.u[1][j][k] * hprev[k];
    st->z[j] = sigmoid_d(az);
    st->r[j] = sigmoid_d(ar);
    rh[j] = st->r[j] * hprev[j];
  }
  for (int j = 0; j < n; ++j) {
    double ac = q.b[2][j];
    for (int i = 0; i < kI; ++i)
      ac += q.w[2][j][i] * x[i];
    for (int k = 0; k < n; ++k)
      ac += q.u[2][j][k] * rh[k];
    st->c[j] = std::tanh(ac);
    st->h[j] = (1 - st->z[j]) * st->c[j] + st->z[j] * hprev[j];
  }
}

// Loss over whole streams, the state carried as the detector carries it.
double gru_loss(const Full& f, int hidden, const Samples& s) {
  double total = 0, weights = 0, a[kH];
  GruStep st{};
  double h[kG] = {};
  size_t next_start = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    if (next_start < s.starts.size() && s.starts[next_start] == k) {
      std::fill(std::begin(h), std::end(h), 0.0);
      ++next_start;
    }
    const float* x = &s.x[k * kI];
    gru_forward(f.gru, g_gru, x, h, &st);
    std::copy(st.h, st.h + kG, h);
    double g = f.gru.gate_b;
    for (int j = 0; j < g_gru; ++j)
      g += f.gru.gate[j] * h[j];
    const double z = forward(f.net, hidden, x, a) - softplus_d(g);
    const double m = s.y[k] > 0.5f ? -z : z;
    total += s.weight[k] * (std::max(m, 0.0) + std::log1p(std::exp(-std::fabs(m))));
    weights += s.weight[k];
  }
  return total / weights;
}

// Adam over shuffled chunks of kChunk frames (truncated back-propagation through time; each
// chunk starts from a zero state), a few chunks to a batch.
int train_gru(Full* best, int hidden, int epochs, const Samples& s, const Samples* validation,
              bool early_stop, const Net* frozen) {
  constexpr size_t kChunk = 200, kChunksPerBatch = 8;
  Rng rng;
  auto f = std::make_unique<Full>();
  *f = Full{};
  for (int h = 0; h < kH; ++h)
    for (int i = 0; i < kI; ++i)
      f->net.w1[h][i] = h < hidden ? rng.normal() / std::sqrt(double(kI)) : 0;
  for (int h = 0; h < hidden; ++h)
    f->net.w2[h] = 0.1 * rng.normal();
  for (int g = 0; g < 3; ++g)
    for (int j = 0; j < g_gru; ++j) {
      for (int i = 0; i < kI; ++i)
        f->gru.w[g][j][i] = rng.normal() / std::sqrt(double(kI));
      for (int k = 0; k < g_gru; ++k)
        f->gru.u[g][j][k] = rng.normal() / std::sqrt(double(g_gru));
    }
  if (g_gate_slow)
    for (auto& gate : f->gru.w)
      for (auto& unit : gate)
        std::fill(unit, unit + 2 * earshot::dsp::kVadFeatureCount, 0.0);
  f->gru.gate_b = g_gate_init;  // -4: starts as the network alone
  if (frozen) f->net = *frozen;
  const size_t first_param = frozen ? sizeof(Net) / sizeof(double) : 0;
  constexpr size_t kParams = sizeof(Full) / sizeof(double);
  static_assert(sizeof(Full) % sizeof(double) == 0);
  std::vector<double> m(kParams), v(kParams), gbuf(kParams);
  // Chunks: [begin, end) within one stream.
  std::vector<std::pair<size_t, size_t>> chunks;
  for (size_t i = 0; i < s.starts.size(); ++i) {
    const size_t end = i + 1 < s.starts.size() ? s.starts[i + 1] : s.size();
    for (size_t b = s.starts[i]; b < end; b += kChunk)
      chunks.emplace_back(b, std::min(end, b + kChunk));
  }
  long step = 0;
  const double total_steps =
      double(epochs) * double((chunks.size() + kChunksPerBatch - 1) / kChunksPerBatch);
  WeightAverage average(kParams);
  auto kept = std::make_unique<Full>();
  double best_loss = 1e9;
  int best_epoch = epochs;
  std::vector<GruStep> steps(kChunk);
  std::vector<std::array<double, kH>> acts(kChunk);
  std::vector<double> dlogit(kChunk), dgate(kChunk);
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    for (size_t i = chunks.size(); i > 1; --i)
      std::swap(chunks[i - 1], chunks[rng.below(i)]);
    for (size_t start = 0; start < chunks.size(); start += kChunksPerBatch) {
      std::fill(gbuf.begin(), gbuf.end(), 0.0);
      Full& grad = *reinterpret_cast<Full*>(gbuf.data());
      double batch_weight = 0;
      for (size_t c = start; c < std::min(chunks.size(), start + kChunksPerBatch); ++c) {
        const auto [b, e] = chunks[c];
        const size_t T = e - b;
        double h[kG] = {};
        for (size_t t = 0; t < T; ++t) {  // forward
          const float* x = &s.x[(b + t) * kI];
          gru_forward(f->gru, g_gru, x, h, &steps[t]);
          std::copy(steps[t].h, steps[t].h + kG, h);
          double g = f->gru.gate_b;
          for (int j = 0; j < g_gru; ++j)
            g += f->gru.gate[j] * h[j];
          const double z = forward(f->net, hidden, x, acts[t].data()) - softplus_d(g);
          const double w = s.weight[b + t];
          dlogit[t] = w * (sigmoid_d(z) - s.y[b + t]);
          dgate[t] = -dlogit[t] * sigmoid_d(g);
          batch_weight += w;
        }
        double dh_next[kG] = {};
        for (size_t t = T; t-- > 0;) {  // backward
          const float* x = &s.x[(b + t) * kI];
          const double d = dlogit[t];
          const double* a = acts[t].data();
          grad.net.b2 += d;
          for (int i = 0; i < kI; ++i)
            grad.net.lin[i] += d * x[i];
          for (int hh = 0; hh < hidden; ++hh) {
            grad.net.w2[hh] += d * a[hh];
            const double dh = d * f->net.w2[hh] * (1 - a[hh] * a[hh]);
            grad.net.b1[hh] += dh;
            for (int i = 0; i < kI; ++i)
              grad.net.w1[hh][i] += dh * x[i];
          }
          const GruStep& st = steps[t];
          const int n = g_gru;
          double dh[kG];
          grad.gru.gate_b += dgate[t];
          for (int j = 0; j < n; ++j) {
            grad.gru.gate[j] += dgate[t] * st.h[j];
            dh[j] = dh_next[j] + dgate[t] * f->gru.gate[j];
          }
          double dprev[kG], dac[kG], drh[kG] = {}, daz[kG], dar[kG];
          for (int j = 0; j < n; ++j) {
            const double dc = dh[j] * (1 - st.z[j]);
            const double dz = dh[j] * (st.hprev[j] - st.c[j]);
            dprev[j] = dh[j] * st.z[j];
            dac[j] = dc * (1 - st.c[j] * st.c[j]);
            daz[j] = dz * st.z[j] * (1 - st.z[j]);
          }
          for (int j = 0; j < n; ++j) {
            grad.gru.b[2][j] += dac[j];
            for (int i = 0; i < kI; ++i)
              grad.gru.w[2][j][i] += dac[j] * x[i];
            for (int k = 0; k < n; ++k) {
              grad.gru.u[2][j][k] += dac[j] * st.r[k] * st.hprev[k];
              drh[k] += f->gru.u[2][j][k] * dac[j];
            }
          }
          for (int k = 0; k < n; ++k) {
            const double dr = drh[k] * st.hprev[k];
            dprev[k] += drh[k] * st.r[k];
            dar[k] = dr * st.r[k] * (1 - st.r[k]);
          }
          for (int j = 0; j < n; ++j) {
            grad.gru.b[0][j] += daz[j];
            grad.gru.b[1][j] += dar[j];
            for (int i = 0; i < kI; ++i) {
              grad.gru.w[0][j][i] += daz[j] * x[i];
              grad.gru.w[1][j][i] += dar[j] * x[i];
            }
            for (int k = 0; k < n; ++k) {
              grad.gru.u[0][j][k] += daz[j] * st.hprev[k];
              grad.gru.u[1][j][k] += dar[j] * st.hprev[k];
              dprev[k] += f->gru.u[0][j][k] * daz[j] + f->gru.u[1][j][k] * dar[j];
            }
          }
          std::copy(dprev, dprev + kG, dh_next);
        }
      }
      if (batch_weight <= 0) continue;
      ++step;
      double* p = reinterpret_cast<double*>(f.get());
      adam_step(p, gbuf.data(), m.data(), v.data(), first_param, kParams, batch_weight, step,
                double(step) / total_steps);
      for (int hh = hidden; hh < kH; ++hh) {  // unused units stay zero
        std::fill(std::begin(f->net.w1[hh]), std::end(f->net.w1[hh]), 0.0);
        f->net.b1[hh] = f->net.w2[hh] = 0;
      }
      if (g_gate_slow)  // only the leaky averages (the last third of x) reach the gate
        for (auto& gate : f->gru.w)
          for (auto& unit : gate)
            std::fill(unit, unit + 2 * earshot::dsp::kVadFeatureCount, 0.0);
      if (epoch > epochs - g_average_last) average.add(p);
    }
    *kept = *f;
    if (!average.empty()) average.copy_to(reinterpret_cast<double*>(kept.get()));
    if (validation) {
      const double vl = gru_loss(*kept, hidden, *validation);
      printf("  epoch %2d: validation loss %.4f\n", epoch, vl);
      fflush(stdout);
      if (vl < best_loss) best_loss = vl, best_epoch = epoch;
      if (vl <= best_loss || !early_stop) *best = *kept;
    } else {
      *best = *kept;
    }
  }
  return best_epoch;
}

VadModel to_model(const Net& n);
VadModel to_model(const Full& f) {
  VadModel m = to_model(f.net);
  m.gru_units = g_gru;
  for (int g = 0; g < 3; ++g)
    for (int j = 0; j < kG; ++j) {
      for (int i = 0; i < kI; ++i)
        m.gru_w[g][j][i] = float(f.gru.w[g][j][i]);
      for (int k = 0; k < kG; ++k)
        m.gru_u[g][j][k] = float(f.gru.u[g][j][k]);
      m.gru_b[g][j] = float(f.gru.b[g][j]);
    }
  for (int j = 0; j < kG; ++j)
    m.gate[j] = float(f.gru.gate[j]);
  m.gate_bias = float(f.gru.gate_b);
  return m;
}

// --- Validation metrics, as vad_bench computes them ---

double f1(const std::vector<bool>& label, const std::vector<bool>& d) {
  double tp = 0, fp = 0, fn = 0;
  for (size_t k = 0; k < label.size(); ++k) {
    tp += d[k] && label[k];
    fp += d[k] && !label[k];
    fn += !d[k] && label[k];
  }
  return 2 * tp / (2 * tp + fp + fn);
}

double recall(const std::vector<bool>& label, const std::vector<bool>& d) {
  double tp = 0, t = 0;
  for (size_t k = 0; k < label.size(); ++k)
    tp += d[k] && label[k], t += label[k];
  return t ? tp / t : 0;
}

double precision(const std::vector<bool>& label, const std::vector<bool>& d) {
  double tp = 0, p = 0;
  for (size_t k = 0; k < label.size(); ++k)
    tp += d[k] && label[k], p += d[k];
  return p ? tp / p : 0;
}

// The share of non-speech frames called speech.
double false_alarm(const std::vector<bool>& label, const std::vector<bool>& d) {
  double fp = 0, n = 0;
  for (size_t k = 0; k < label.size(); ++k)
    fp += d[k] && !label[k], n += !label[k];
  return n ? fp / n : 0;
}

// The lowest false-alarm rate of any threshold whose recall is at least 0.90.
double fa90(const std::vector<bool>& label, const std::vector<float>& sc) {
  std::vector<size_t> idx(label.size());
  for (size_t i = 0; i < idx.size(); ++i)
    idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return sc[a] > sc[b]; });
  double pos = 0, neg = 0, tp = 0, fp = 0;
  for (size_t i : idx)
    (label[i] ? pos : neg) += 1;
  for (size_t j = 0; j < idx.size(); ++j) {
    (label[idx[j]] ? tp : fp) += 1;
    if (j + 1 < idx.size() && sc[idx[j + 1]] == sc[idx[j]]) continue;
    if (tp / pos >= 0.90) return fp / neg;
  }
  return 1;
}

double called_speech(const std::vector<bool>& decision) {
  return decision.empty()
             ? 0.0
             : double(std::count(decision.begin(), decision.end(), true)) / double(decision.size());
}

struct Run {
  std::vector<float> raw, held;
  std::vector<bool> raw_decision, decision;
  std::vector<bool> word, utterance;
  void append(const Run& o) {
    raw.insert(raw.end(), o.raw.begin(), o.raw.end());
    held.insert(held.end(), o.held.begin(), o.held.end());
    raw_decision.insert(raw_decision.end(), o.raw_decision.begin(), o.raw_decision.end());
    decision.insert(decision.end(), o.decision.begin(), o.decision.end());
    word.insert(word.end(), o.word.begin(), o.word.end());
    utterance.insert(utterance.end(), o.utterance.begin(), o.utterance.end());
  }
};

// The held score's mean and hold in validation (VadConfig's unless --hold-sweep varies them).
int g_mean = VadConfig{}.mean_frames, g_hold = VadConfig{}.hold_frames;
float g_hold_harmonicity = VadConfig{}.hold_min_harmonicity;
int g_aperiodic_hold = VadConfig{}.aperiodic_hold_frames;

// The detector as validation runs it: `model`, with the held score's settings above.
VadConfig validation_config(const VadModel& model) {
  VadConfig config;
  config.model = &model;
  config.mean_frames = g_mean;
  config.hold_frames = g_hold;
  config.hold_min_harmonicity = g_hold_harmonicity;
  config.aperiodic_hold_frames = g_aperiodic_hold;
  return config;
}

Run run(const VadModel& model, const Corpus& c, const std::vector<float>& audio) {
  VoiceActivityDetector vad(validation_config(model));
  Run r;
  for (size_t k = 0; k < c.label.size(); ++k) {
    r.held.push_back(vad.process(&audio[k * kFrame]));
    r.decision.push_back(vad.is_speech());
    r.raw.push_back(vad.raw_score());
    r.raw_decision.push_back(vad.raw_score() >= kRawThreshold);
  }
  r.word = c.label;
  r.utterance = c.utterance;
  return r;
}

// What the node's segmenter makes of `audio` (through_segmenter, vad_corpus.h), with the node's
// 80 Hz high-pass in front of the detector as run() sets it up.
SegmentCount segments(const VadModel& model, const Corpus& c, const std::vector<float>& audio) {
  std::vector<float> x(audio.begin(), audio.begin() + long(c.label.size() * kFrame));
  earshot::dsp::HighPassFilter(kRate, 80.0).process(x.data(), x.size());
  VoiceActivityDetector vad(validation_config(model));
  std::vector<bool> decision;
  for (size_t k = 0; (k + 1) * kFrame <= x.size(); ++k) {
    vad.process(&x[k * kFrame]);
    decision.push_back(vad.is_speech());
  }
  return through_segmenter(c.utterance.empty() ? c.label : c.utterance, decision);
}

struct Validation {
  const Corpus* corpus;
  // Its clips labelled as the held-out splits are, by pocketsphinx's word spans (ARCTIC axb and
  // the last "cards" clip): the Debian voices' energy labels are tighter and LibriVox's mark
  // whole utterances, so clean F1 on all of validation does not predict the held-out figure.
  const Corpus* aligned;
  std::vector<std::vector<float>> noise;  // the validation section of each training noise
  // The aligned clips low-passed at 4 and 5.5 kHz (telephone and 11 kHz speech; the fourth
  // held-out split's speech is both), or empty.
  std::vector<std::pair<int, Corpus>> aligned_band_limited;
};

// What Vad.RawScoreFallsInThePausesTheHeldScoreBridges checks: two 300 ms harmonic "syllables"
// 150 ms apart over faint noise; the lowest raw and held score inside the pause (the raw score
// must fall below 0.5, the held one stay above 0.7). The noise here is this file's generator's,
// so the figures are close to the test's, not identical.
void pause_check(const char* name, const VadModel& model) {
  std::vector<float> x(kRate * 2);
  Rng rng;
  rng.gen.seed(20261130);  // the same faint noise whatever --seed
  for (float& v : x)
    v = float(0.001 * rng.normal());
  for (auto [from, to] : {std::pair{1.0, 1.3}, std::pair{1.45, 1.75}})
    for (size_t i = size_t(from * kRate); i < size_t(to * kRate); ++i) {
      double v = 0;
      for (int h = 1; h <= 10; ++h)
        v += std::sin(2 * M_PI * 150 * h * double(i) / kRate) / h;
      x[i] += float(0.1 * v);
    }
  VadConfig config;
  config.model = &model;
  VoiceActivityDetector vad(config);
  float raw = 1, held = 1;
  for (size_t i = 0; i + kFrame <= x.size(); i += kFrame) {
    vad.process(&x[i]);
    const double t = double(i + kFrame) / kRate;
    if (t > 1.36 && t < 1.44)
      raw = std::min(raw, vad.raw_score()), held = std::min(held, vad.score());
  }
  printf("%-9s pause check: raw %.2f (< 0.5 wanted), held %.2f (> 0.7 wanted)\n", name, double(raw),
         double(held));
}

// One line of --hold-sweep: the held score as VadConfig is set now.
void hold_sweep_line(const VadModel& model, const Validation& val) {
  const Corpus& c = *val.corpus;
  const Run clean = run(model, c, c.clean);
  const Run aligned = run(model, *val.aligned, val.aligned->clean);
  printf("mean %d hold %2d periodic %.1f aperiodic %2d: clean held F1 %.3f, aligned %.3f (R %.3f)",
         g_mean, g_hold, double(g_hold_harmonicity), g_aperiodic_hold,
         f1(c.utterance, clean.decision), f1(val.aligned->utterance, aligned.decision),
         recall(val.aligned->utterance, aligned.decision));
  for (double snr : {10.0, 0.0}) {
    Run pooled;
    for (const auto& noise : val.noise)
      pooled.append(run(model, c, mix(c, noise, snr)));
    printf("; %d dB FA@0.90 %.3f, at 0.7 R %.3f FA %.3f", int(snr),
           fa90(pooled.utterance, pooled.held), recall(pooled.utterance, pooled.decision),
           false_alarm(pooled.utterance, pooled.decision));
  }
  Run alone;  // each noise by itself, as report() plays it
  int alone_segments = 0;
  for (const auto& noise : val.noise) {
    const std::vector<float> audio = noise_alone(c, noise, 10.0);
    alone.append(run(model, without_speech(audio), audio));
    alone_segments += segments(model, without_speech(audio), audio).segments;
  }
  printf("; noise alone %.3f (%d segments)", called_speech(alone.decision), alone_segments);
  const SegmentCount quiet = segments(model, c, c.clean);
  int cut = 0, lost = 0, utterances = 0;
  for (const auto& noise : val.noise) {
    const SegmentCount n = segments(model, c, mix(c, noise, 10.0));
    cut += n.cut, lost += n.lost, utterances += n.utterances;
  }
  printf("; utterances cut clean %d of %d, 10 dB %d (lost %d) of %d\n", quiet.cut, quiet.utterances,
         cut, lost, utterances);
  fflush(stdout);
}

// The held score's mean and hold (VadConfig) over a grid (--hold-sweep): clean held F1 against
// utterance labels (all of validation, and the aligned clips), the pooled held false alarms at
// recall 0.90 and at the node's threshold (0.7, with hysteresis) at 10 and 0 dB, the share of
// each noise alone called speech and the segments the node would send for it, and the utterances
// the node's segmenter cuts (clean, and at 10 dB over every noise). First the mean and the hold
// (every frame held: what chose the 20 ms mean and 200 ms hold), then how periodic a frame must
// be to be held, at those (hold_min_harmonicity, off as shipped; 1.01 holds none), then a shorter
// hold for the others (aperiodic_hold_frames). docs/benchmarks.md.
void hold_sweep(const VadModel& model, const Validation& val) {
  const int mean0 = g_mean, hold0 = g_hold;
  const float periodic0 = g_hold_harmonicity;
  g_hold_harmonicity = 0;
  for (int mean : {1, 2, 3, 5})
    for (int hold : {10, 15, 20, 30}) {
      g_mean = mean, g_hold = hold;
      hold_sweep_line(model, val);
    }
  g_mean = mean0, g_hold = hold0;
  for (float periodic : {0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.01f}) {
    g_hold_harmonicity = periodic;
    hold_sweep_line(model, val);
  }
  for (float periodic : {0.5f, 0.6f, 0.7f})  // a shorter hold, not none, for the others
    for (int aperiodic : {5, 10, 15}) {
      g_hold_harmonicity = periodic, g_aperiodic_hold = aperiodic;
      hold_sweep_line(model, val);
    }
  g_hold_harmonicity = periodic0, g_aperiodic_hold = VadConfig{}.aperiodic_hold_frames;
}

void report(const char* name, const VadModel& model, const Validation& val) {
  pause_check(name, model);
  const Corpus& c = *val.corpus;
  const Run clean = run(model, c, c.clean);
  const std::vector<bool> ends = word_ends(c.label);
  double end_raw = 0, end_held = 0, n_end = 0;
  for (size_t k = 0; k < ends.size(); ++k)
    if (ends[k]) {
      n_end += 1;
      end_raw += clean.raw_decision[k];
      end_held += clean.decision[k];
    }
  printf("%-9s clean F1 raw/word %.3f, held/utterance %.3f; word-end recall raw %.3f, held %.3f\n",
         name, f1(c.label, clean.raw_decision), f1(c.utterance, clean.decision), end_raw / n_end,
         end_held / n_end);
  const Corpus& a = *val.aligned;
  const Run ar = run(model, a, a.clean);
  printf(
      "%-9s aligned clips clean: raw/word F1 %.3f (P %.3f, R %.3f), held/utterance F1 %.3f "
      "(P %.3f, R %.3f)\n",
      name, f1(a.label, ar.raw_decision), precision(a.label, ar.raw_decision),
      recall(a.label, ar.raw_decision), f1(a.utterance, ar.decision),
      precision(a.utterance, ar.decision), recall(a.utterance, ar.decision));
  for (const auto& [cutoff, b] : val.aligned_band_limited) {
    const Run br = run(model, b, b.clean);
    printf(
        "%-9s aligned clips low-passed at %d Hz: raw/word F1 %.3f (P %.3f, R %.3f), held/utterance "
        "F1 %.3f (R %.3f); 10 dB FA@0.90 raw, pooled",
        name, cutoff, f1(b.label, br.raw_decision), precision(b.label, br.raw_decision),
        recall(b.label, br.raw_decision), f1(b.utterance, br.decision),
        recall(b.utterance, br.decision));
    Run pooled;
    for (const auto& noise : val.noise)
      pooled.append(run(model, b, mix(b, noise, 10.0)));
    printf(" %.3f\n", fa90(pooled.word, pooled.raw));
  }
  {  // Each noise by itself at its 10 dB level: validation's clips, like the held-out splits, lie
     // 1-2.5 s apart, so every noise frame above is within seconds of a voice; a room is mostly
     // nobody speaking. A detector that leans on the last voice it heard shows it here.
    Run pooled;
    printf("%-9s noise alone, frames called speech raw/held:", name);
    for (size_t i = 0; i < val.noise.size(); ++i) {
      const std::vector<float> audio = noise_alone(c, val.noise[i], 10.0);
      const Run r = run(model, without_speech(audio), audio);
      printf(" %s %.3f/%.3f", training_noises()[i].first.c_str(), called_speech(r.raw_decision),
             called_speech(r.decision));
      pooled.append(r);
    }
    printf("; pooled %.3f/%.3f\n", called_speech(pooled.raw_decision),
           called_speech(pooled.decision));
  }
  for (double snr : {10.0, 0.0}) {
    Run pooled;
    printf("%-9s %2d dB FA@0.90", name, int(snr));
    for (size_t i = 0; i < val.noise.size(); ++i) {
      const Run r = run(model, c, mix(c, val.noise[i], snr));
      printf(" %s %.3f/%.3f", training_noises()[i].first.c_str(), fa90(r.word, r.raw),
             fa90(r.utterance, r.held));
      pooled.append(r);
    }
    printf("; pooled raw/word %.3f, held/utterance %.3f\n", fa90(pooled.word, pooled.raw),
           fa90(pooled.utterance, pooled.held));
  }
}

// The JFK clip (what the node and bridge integration tests send) through main's model and
// `model`: frames whose held decision (at the node's 0.7 and at earshot-vad's default 0.5)
// changes, and where speech was lost. Losing word ends here is what stopped the last refit.
void jfk_changes(const VadModel& model, bool trace) {
  const std::vector<float> x = load(data("whisper.cpp/jfk.wav"));
  const VadModel before = logistic_model();
  if (trace) {  // time, main's raw and held score, the candidate's, per 10 ms
    VadConfig a, b;
    a.model = &before;
    b.model = &model;
    VoiceActivityDetector old_vad(a), new_vad(b);
    for (size_t i = 0; i + kFrame <= x.size(); i += kFrame) {
      const float old_held = old_vad.process(&x[i]), new_held = new_vad.process(&x[i]);
      printf("trace %.2f main %.2f %.2f candidate %.2f %.2f\n", double(i + kFrame) / kRate,
             double(old_vad.raw_score()), double(old_held), double(new_vad.raw_score()),
             double(new_held));
    }
  }
  for (float threshold : {0.7f, 0.5f}) {
    VadConfig a, b;
    a.model = &before;
    b.model = &model;
    a.threshold = b.threshold = threshold;
    VoiceActivityDetector old_vad(a), new_vad(b);
    int lost = 0, gained = 0, frames = 0;
    std::string where;  // the spans lost, "start-end" in seconds
    bool losing = false;
    for (size_t i = 0; i + kFrame <= x.size(); i += kFrame, ++frames) {
      old_vad.process(&x[i]);
      new_vad.process(&x[i]);
      const bool lose = old_vad.is_speech() && !new_vad.is_speech();
      if (lose != losing) {
        char t[16];
        snprintf(t, sizeof t, lose ? " %.2f" : "-%.2f", double(i) / kRate);
        where += t;
        losing = lose;
      }
      lost += lose;
      gained += !old_vad.is_speech() && new_vad.is_speech();
    }
    if (losing) where += "-end";
    printf("JFK at %.1f: %d frames; speech -> non-speech %d%s%s, non-speech -> speech %d\n",
           double(threshold), frames, lost, lost ? " at" : "", where.c_str(), gained);
  }
  // What Node.AlsaCaptureAt48kStereoReachesTheHostAsTheSameSpeech checks, approximately (no
  // high-pass or resampling): the node's segmenter on 20 ms blocks (speech if either 10 ms frame
  // is), and every block of the words above -40 dBFS sent, give or take one block.
  const std::vector<bool> words =
      word_labels(data("vad/train/whisper.cpp_jfk.words"), x.size() / kFrame);
  for (const VadModel* m : {&before, &model}) {
    VadConfig config;
    config.model = m;
    VoiceActivityDetector vad(config);
    earshot::dsp::SpeechSegmenter seg;
    std::vector<bool> sent(x.size() / 320 + 1);
    for (size_t k = 0; (k + 1) * 320 <= x.size(); ++k) {
      vad.process(&x[k * 320]);
      bool speech = vad.is_speech();
      vad.process(&x[k * 320 + 160]);
      speech = speech || vad.is_speech();
      seg.push(&x[k * 320], k * 320, speech,
               [&](const earshot::dsp::SegmentFrame& f) { sent[f.timestamp / 320] = true; });
    }
    int loud = 0, missed = 0;
    std::string where;
    for (size_t k = 0; (k + 1) * 320 <= x.size(); ++k) {
      double e = 0;
      for (size_t i = 0; i < 320; ++i)
        e += double(x[k * 320 + i]) * x[k * 320 + i];
      if (std::sqrt(e / 320) < 0.01 || !words[2 * k]) continue;
      ++loud;
      if (!(sent[k] || sent[k + 1] || (k && sent[k - 1]))) {
        ++missed;
        char t[16];
        snprintf(t, sizeof t, " %.2f", double(k) * 0.02);
        where += t;
      }
    }
    printf("JFK through the segmenter (%s): %d of %d blocks of words above -40 dBFS not sent%s\n",
           m == &before ? "logistic" : "candidate", missed, loud, where.c_str());
  }
}

void write_model(const VadModel& m, const char* path, const char* how) {
  FILE* f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "vad_fit: cannot write %s\n", path);
    exit(1);
  }
  fprintf(f,
          "// The shipped VAD model's weights, written by bench/vad_fit (%s); see docs/vad.md.\n"
          "// Do not edit by hand: refit.\n#include \"dsp/vad/voice_activity_detector.h\"\n\n"
          "namespace earshot::dsp {\n\nconst VadModel kVadModel = {\n  {\n",
          how);
  auto row = [&](const float* v, int n) {
    fprintf(f, "{");
    for (int i = 0; i < n; ++i)
      fprintf(f, "%s%.6ff", i ? ", " : "", double(v[i]));
    fprintf(f, "}");
  };
  for (int h = 0; h < kH; ++h) {
    row(m.hidden[h], kI);
    fprintf(f, ",\n");
  }
  fprintf(f, "},\n");
  row(m.hidden_bias, kH);
  fprintf(f, ",\n");
  row(m.out, kH);
  fprintf(f, ",\n");
  row(m.linear, kI);
  fprintf(f, ",\n%.6ff,\n%d,\n%.6ff,\n%d,\n", double(m.out_bias), m.delta_frames, double(m.leak),
          m.gru_units);
  if (m.gru_units == 0) {
    fprintf(f, "{}, {}, {}, {}, 0.0f,\n");  // no recurrent gate
  } else {
    for (int part = 0; part < 2; ++part) {  // gru_w, then gru_u
      fprintf(f, "{");
      for (int g = 0; g < 3; ++g) {
        fprintf(f, "{");
        for (int j = 0; j < kG; ++j) {
          if (part == 0)
            row(m.gru_w[g][j], kI);
          else
            row(m.gru_u[g][j], kG);
          fprintf(f, ",\n");
        }
        fprintf(f, "},\n");
      }
      fprintf(f, "},\n");
    }
    fprintf(f, "{");
    for (int g = 0; g < 3; ++g) {
      row(m.gru_b[g], kG);
      fprintf(f, ",\n");
    }
    fprintf(f, "},\n");
    row(m.gate, kG);
    fprintf(f, ",\n%.6ff,\n", double(m.gate_bias));
  }
  fprintf(f, "};\n\n}  // namespace earshot::dsp\n");
  fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  int hidden = kH, epochs = 30, tail = 0;
  float end_weight = 1;
  bool final_fit = false, early_stop = true, jfk_trace = false, hiss = false, sweep_hold = false;
  bool band_limit = false, band_limit_clean = false, tts = false, hedgewars = false;
  // --tts-weight W: each frame of Festival's voices (--tts) weighs W in fitting (the real voices
  // 1), so that 7 minutes of sentences do not outweigh the real voices' few.
  float tts_weight = 1;
  std::vector<double> speeds;  // --speed: the fitting clips also played this many times as fast
  const char* write = nullptr;
  std::string leave_out;  // training noises kept out of fitting entirely (validation only)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--hidden" && i + 1 < argc)
      hidden = std::clamp(atoi(argv[++i]), 0, kH);
    else if (a == "--epochs" && i + 1 < argc)
      epochs = std::max(1, atoi(argv[++i]));
    else if (a == "--end-weight" && i + 1 < argc)
      end_weight = float(atof(argv[++i]));
    else if (a == "--leave-out" && i + 1 < argc)
      leave_out = argv[++i];
    else if (a == "--tail" && i + 1 < argc)
      tail = std::max(0, atoi(argv[++i]));
    else if (a == "--delta" && i + 1 < argc)
      g_layout.delta_frames = std::clamp(atoi(argv[++i]), 0, earshot::dsp::kVadMaxDeltaFrames);
    else if (a == "--leak" && i + 1 < argc)
      g_layout.leak = std::clamp(float(atof(argv[++i])), 0.0f, 0.99f);
    else if (a == "--gate-slow")
      g_gate_slow = true;
    else if (a == "--lr" && i + 1 < argc)
      g_lr = atof(argv[++i]);
    else if (a == "--noise-alone" && i + 1 < argc)
      g_noise_alone = std::clamp(atoi(argv[++i]), 0, 3);
    else if (a == "--teacher-dump" && i + 1 < argc)
      g_teacher_dump = argv[++i];
    else if (a == "--teacher" && i + 1 < argc)
      g_teacher_dir = argv[++i];
    else if (a == "--teacher-clean-for" && i + 1 < argc)
      g_teacher_clean_for = argv[++i];
    else if (a == "--teacher-mix" && i + 1 < argc)
      g_teacher_mix = std::clamp(float(atof(argv[++i])), 0.0f, 1.0f);
    else if (a == "--utterance-target")
      g_utterance_target = true;
    else if (a == "--cosine")
      g_cosine = true;
    else if (a == "--average-last" && i + 1 < argc)
      g_average_last = std::max(0, atoi(argv[++i]));
    else if (a == "--gate-init" && i + 1 < argc)
      g_gate_init = atof(argv[++i]);
    else if (a == "--gru-frozen")
      g_gru_frozen = true;
    else if (a == "--gru" && i + 1 < argc)
      g_gru = std::clamp(atoi(argv[++i]), 0, kG);
    else if (a == "--seed" && i + 1 < argc)
      g_seed = uint32_t(strtoul(argv[++i], nullptr, 10));
    else if (a == "--hiss")
      hiss = true;
    else if (a == "--tts")
      tts = true;
    else if (a == "--hedgewars")
      hedgewars = true;
    else if (a == "--speed" && i + 1 < argc) {
      g_speed_list = argv[++i];
      for (const std::string& f : comma_separated(g_speed_list))
        speeds.push_back(atof(f.c_str()));
    } else if (a == "--tts-weight" && i + 1 < argc)
      tts_weight = float(atof(argv[++i]));
    else if (a == "--drop-features" && i + 1 < argc) {
      g_drop_list = argv[++i];
      for (const std::string& item : comma_separated(g_drop_list)) {
        const int f = atoi(item.c_str());
        if (f < 0 || f >= earshot::dsp::kVadFeatureCount) {
          fprintf(stderr, "vad_fit: no feature %d\n", f);
          return 2;
        }
        g_dropped[size_t(f)] = true;
      }
    } else if (a == "--hold-sweep")
      sweep_hold = true;
    else if (a == "--band-limit")
      band_limit = true;
    else if (a == "--band-limit-clean")
      band_limit = band_limit_clean = true;
    else if (a == "--jfk-trace")
      jfk_trace = true;
    else if (a == "--no-early-stop")
      early_stop = false;
    else if (a == "--final")
      final_fit = true;
    else if (a == "--write" && i + 1 < argc)
      write = argv[++i];
    else {
      fprintf(stderr,
              "usage: vad_fit [--hidden H] [--end-weight W] [--epochs N] [--leave-out NOISE] "
              "[--tail FRAMES] [--delta FRAMES] [--leak A] [--seed N] [--hiss] [--no-early-stop] "
              "[--hold-sweep] [--band-limit | --band-limit-clean] [--gru UNITS [--gru-frozen] "
              "[--gate-init B] [--gate-slow]] [--lr R] [--cosine] [--average-last K] "
              "[--utterance-target] [--noise-alone LEVELS] [--drop-features I,J] [--tts] "
              "[--tts-weight W] [--hedgewars] [--speed F,G] [--teacher-dump DIR | --teacher "
              "DIR [--teacher-mix A] [--teacher-clean-for NOISES]] [--final] "
              "[--write F]\n");
      return 2;
    }
  }
  std::vector<std::string> fit_clips, val_clips;
  for (const std::string& clip : training_clips())
    (!final_fit && is_validation_clip(clip) ? val_clips : fit_clips).push_back(clip);
  // Hedgewars' voices are real speech and weigh as the other real voices, in fitting only, so
  // validation is the same with and without them. They are not committed (11 MB for an option
  // that is off): bench/vad_data.sh makes them, the same bytes each time.
  if (hedgewars) {
    if (access(data(hedgewars_clips()[0] + ".flac").c_str(), R_OK) != 0) {
      fprintf(stderr,
              "vad_fit: --hedgewars needs tests/data/vad/hedgewars: run bash bench/vad_data.sh\n");
      return 2;
    }
    for (const std::string& clip : hedgewars_clips())
      fit_clips.push_back(clip);
  }
  // Festival's voices only fit: validation stays the real voices it always was, so a fit with
  // and without them is scored on the same frames.
  size_t tts_from = SIZE_MAX;  // the fitting corpus's first frame of Festival's voices
  if (tts) {
    // build_training lays clips out in order, so the real clips' frames are the same with and
    // without Festival's after them: all but the last 2 s of silence.
    tts_from = build_training(fit_clips).label.size() - size_t(kRate) * 2 / kFrame;
    for (const std::string& clip : tts_clips())
      fit_clips.push_back(clip);
  }
  Corpus fit = build_training(fit_clips);
  if (tts && tts_weight != 1) {  // every copy of them (in noise, sped up, band-limited) weighs so
    fit.weight.assign(fit.label.size(), 1.0f);
    std::fill(fit.weight.begin() + long(tts_from), fit.weight.end(), tts_weight);
  }
  Corpus val_corpus, aligned_corpus;
  Validation val{&val_corpus, &aligned_corpus, {}};
  if (!final_fit) {
    val_corpus = build_training(val_clips);
    std::vector<std::string> aligned;
    for (const std::string& clip : val_clips)
      if (clip.find("axb_") != std::string::npos || clip.find("cards/") != std::string::npos)
        aligned.push_back(clip);
    aligned_corpus = build_training(aligned);
    for (int cutoff : {4000, 5500})
      val.aligned_band_limited.emplace_back(cutoff, band_limited(aligned_corpus, cutoff));
  }

  Samples train_set, val_set;
  collect(fit, fit.clean, end_weight, tail, &train_set, true);
  if (!final_fit) collect(val_corpus, val_corpus.clean, end_weight, 0, &val_set);
  std::vector<std::vector<float>> fitting_noises;  // the parts of the noises fitting hears
  for (const auto& [name, file] : training_noises()) {
    std::vector<float> noise = load(data(file));
    // The last 30 % of every noise is validation's; the final fit uses all of it.
    const size_t cut = final_fit ? noise.size() : noise.size() * 7 / 10;
    std::vector<float> head(noise.begin(), noise.begin() + long(cut));
    if (!listed(leave_out, name)) {
      g_teacher_clean = listed(g_teacher_clean_for, name);
      for (double snr : {20.0, 10.0, 5.0, 0.0})
        collect(fit, mix(fit, head, snr), end_weight, tail, &train_set, true);
      g_teacher_clean = false;
      for (int level = 0; level < g_noise_alone; ++level) {
        const std::vector<float> alone = noise_alone(fit, head,
                                                     level == 0   ? 10.0
                                                     : level == 1 ? 0.0
                                                                  : 20.0);
        collect(without_speech(alone), alone, end_weight, tail, &train_set, true);
      }
      fitting_noises.push_back(std::move(head));
    }
    if (final_fit) continue;
    std::vector<float> rest(noise.begin() + long(cut), noise.end());
    for (double snr : {10.0, 0.0})
      collect(val_corpus, mix(val_corpus, rest, snr), end_weight, 0, &val_set);
    val.noise.push_back(std::move(rest));
  }
  for (double factor : speeds) {  // the same noises, over the clips played faster or slower
    const Corpus sped = speed_perturbed(fit, factor);
    collect(sped, sped.clean, end_weight, tail, &train_set, true);
    for (const std::vector<float>& noise : fitting_noises)
      for (double snr : {20.0, 10.0, 5.0, 0.0})
        collect(sped, mix(sped, noise, snr), end_weight, tail, &train_set, true);
  }
  if (band_limit) {  // the fitting clips as a telephone and an 11 kHz recording carry them
    for (int cutoff : {4000, 5500}) {
      const Corpus b = band_limited(fit, cutoff);
      collect(b, b.clean, end_weight, tail, &train_set, true);
      if (band_limit_clean) continue;  // in noise, full band only
      for (const std::vector<float>& noise : fitting_noises)
        collect(b, mix(b, noise, 10.0), end_weight, tail, &train_set, true);
    }
  }
  if (hiss) {  // steady white noise (fitting only): a floor the detector must learn to ignore
    Rng rng;
    std::vector<float> white(size_t(kRate) * 20);
    for (float& v : white)
      v = float(0.1 * rng.normal());
    g_teacher_clean = listed(g_teacher_clean_for, "hiss");
    for (double snr : {30.0, 20.0, 10.0, 0.0})
      collect(fit, mix(fit, white, snr), end_weight, tail, &train_set, true);
    g_teacher_clean = false;
  }
  printf(
      "%zu training frames, %zu validation frames; %d hidden units, word ends weigh %.1f, "
      "%d frames after words labelled speech in fitting; delta over %d frames, leak %.2f\n",
      train_set.size(), val_set.size(), hidden, double(end_weight), tail, g_layout.delta_frames,
      double(g_layout.leak));

  VadModel model{};
  int best_epoch = 0;
  if (g_gru > 0) {
    auto full = std::make_unique<Full>();
    Net net{};
    if (g_gru_frozen) {
      train(&net, hidden, epochs, train_set, final_fit ? nullptr : &val_set, early_stop);
      printf("the gate over the fitted network:\n");
    }
    best_epoch = train_gru(full.get(), hidden, epochs, train_set, final_fit ? nullptr : &val_set,
                           early_stop, g_gru_frozen ? &net : nullptr);
    model = to_model(*full);
  } else {
    Net net{};
    best_epoch = train(&net, hidden, epochs, train_set, final_fit ? nullptr : &val_set, early_stop);
    model = to_model(net);
  }
  if (!final_fit) {
    printf("best validation loss at epoch %d\n", best_epoch);
    report("logistic", logistic_model(), val);
    report("candidate", model, val);
    if (sweep_hold) hold_sweep(model, val);
  }
  if (final_fit) pause_check("final", model);
  jfk_changes(model, jfk_trace);
  if (write) {
    std::string fit_options;  // the recurrent gate, the step size and its schedule, noise alone
    if (g_gru > 0) {
      char gate_init[32];
      snprintf(gate_init, sizeof gate_init, "%g", g_gate_init);
      fit_options = " --gru " + std::to_string(g_gru) + (g_gru_frozen ? " --gru-frozen" : "") +
                    " --gate-init " + gate_init + (g_gate_slow ? " --gate-slow" : "");
    }
    if (g_lr != 0.003) {
      char lr[32];
      snprintf(lr, sizeof lr, " --lr %g", g_lr);
      fit_options += lr;
    }
    if (g_cosine) fit_options += " --cosine";
    if (g_average_last > 0) fit_options += " --average-last " + std::to_string(g_average_last);
    if (g_noise_alone) fit_options += " --noise-alone " + std::to_string(g_noise_alone);
    if (!g_drop_list.empty()) fit_options += " --drop-features " + g_drop_list;
    if (!g_speed_list.empty()) fit_options += " --speed " + g_speed_list;
    if (hedgewars) fit_options += " --hedgewars";
    if (!g_teacher_dir.empty()) {
      char mix[64];
      snprintf(mix, sizeof mix, " --teacher-mix %g", double(g_teacher_mix));
      fit_options += " --teacher " + g_teacher_dir + mix;
      if (!g_teacher_clean_for.empty())
        fit_options += " --teacher-clean-for " + g_teacher_clean_for;
    }
    if (tts && tts_weight != 1) {
      char w[32];
      snprintf(w, sizeof w, " --tts-weight %g", double(tts_weight));
      fit_options += w;
    }
    char how[512];
    snprintf(how, sizeof how,
             "--final --hidden %d --end-weight %.1f --tail %d --delta %d --leak %.2f%s%s%s%s%s "
             "--epochs %d",
             hidden, double(end_weight), tail, g_layout.delta_frames, double(g_layout.leak),
             fit_options.c_str(),
             hiss ? (tts ? " --hiss --tts" : " --hiss") : (tts ? " --tts" : ""),
             band_limit_clean ? " --band-limit-clean"
             : band_limit     ? " --band-limit"
                              : "",
             leave_out.empty() ? "" : " --leave-out ", leave_out.c_str(), epochs);
    write_model(model, write, how);
    printf("wrote %s\n", write);
  }
  return 0;
}
