// Our VAD and the speech segmenter.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "dsp/vad/speech_segmenter.h"
#include "dsp/vad/voice_activity_detector.h"
#include "tests/support/test_audio.h"

namespace earshot::dsp {
namespace {

// Fraction of 10 ms frames in [from_s, to_s) called speech.
double speech_share(const std::vector<float>& x, double from_s, double to_s, float gain = 1) {
  VoiceActivityDetector vad;
  int in = 0, speech = 0;
  std::vector<float> frame(160);
  for (size_t i = 0; i + 160 <= x.size(); i += 160) {
    for (int k = 0; k < 160; ++k)
      frame[size_t(k)] = x[i + size_t(k)] * gain;
    vad.process(frame.data());
    const double t = double(i) / 16000;
    if (t >= from_s && t < to_s) {
      ++in;
      speech += vad.is_speech();
    }
  }
  return in ? double(speech) / in : 0;
}

TEST(Vad, FindsLabelledSpeechAndNotTheSilenceAroundIt) {
  // LibriVox clip 0870: speech from 0.236 s to 6.762 s (its .lab file).
  test::Audio clip = test::read_audio(
      test::data_path("pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"));
  EXPECT_GT(speech_share(clip.samples, 0.5, 6.5), 0.75);
}

TEST(Vad, IsLevelIndependent) {
  test::Audio jfk = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));
  const double loud = speech_share(jfk.samples, 0.5, 10.5, 1.0f);
  const double quiet = speech_share(jfk.samples, 0.5, 10.5, 0.05f);  // -26 dB
  EXPECT_NEAR(loud, quiet, 0.15);
  EXPECT_GT(quiet, 0.4);
}

TEST(Vad, StaysQuietOnSilenceAndMostlyOnKitchenNoise) {
  std::vector<float> silence(16000 * 3, 0.0f);
  EXPECT_EQ(speech_share(silence, 0, 3), 0.0);
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0, 0.01f);
  std::vector<float> hiss(16000 * 5);
  for (float& v : hiss)
    v = n(rng);
  EXPECT_LT(speech_share(hiss, 1, 5), 0.05);
  test::Audio dishes = test::read_audio(test::data_path("noise/doing_the_dishes.wav"));
  std::vector<float> d(dishes.samples.begin(), dishes.samples.begin() + 30 * 16000);
  EXPECT_LT(speech_share(d, 2, 30), 0.35);
}

TEST(Vad, RawScoreFallsInThePausesTheHeldScoreBridges) {
  // Two 300 ms harmonic "syllables" 150 ms apart: the held score (200 ms hold) stays up through
  // the pause, the raw score does not.
  std::vector<float> x(16000 * 2, 0.0f);
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 0.001f);
  for (float& v : x)
    v = n(rng);
  auto voice = [&](double from_s, double to_s) {
    for (size_t i = size_t(from_s * 16000); i < size_t(to_s * 16000); ++i) {
      const double t = double(i) / 16000;
      double v = 0;
      for (int h = 1; h <= 10; ++h)
        v += std::sin(2 * M_PI * 150 * h * t) / h;
      x[i] += float(0.1 * v);
    }
  };
  voice(1.0, 1.3);
  voice(1.45, 1.75);
  VoiceActivityDetector vad;
  float raw_in_pause = 1, held_in_pause = 1;
  for (size_t i = 0; i + 160 <= x.size(); i += 160) {
    vad.process(&x[i]);
    const double t = double(i + 160) / 16000;
    if (t > 1.36 && t < 1.44) {
      raw_in_pause = std::min(raw_in_pause, vad.raw_score());
      held_in_pause = std::min(held_in_pause, vad.score());
    }
  }
  EXPECT_LT(raw_in_pause, 0.5f);
  EXPECT_GT(held_in_pause, 0.7f);
}

// The hold can be limited to periodic frames (VadConfig::hold_min_harmonicity; off as shipped):
// frame by frame the held score is then never above what holding every frame gives, the raw
// score is untouched, and on running water and clinking dishes (not periodic) the held score is
// lower on many frames and calls fewer of them speech. Holding the others as long as the periodic
// ones (aperiodic_hold_frames) is holding every frame.
TEST(Vad, AHoldOfPeriodicFramesOnlyNeverRaisesTheScore) {
  test::Audio dishes = test::read_audio(test::data_path("noise/doing_the_dishes.wav"));
  VadConfig periodic_only;
  periodic_only.hold_min_harmonicity = 0.6f;
  VadConfig others_held_as_long = periodic_only;
  others_held_as_long.aperiodic_hold_frames = others_held_as_long.hold_frames;
  VoiceActivityDetector periodic(periodic_only), held_all, as_long(others_held_as_long);
  int lower = 0, speech_periodic = 0, speech_all = 0, frames = 0;
  for (size_t i = 0; i + 160 <= size_t(30 * 16000); i += 160, ++frames) {
    const float a = periodic.process(&dishes.samples[i]);
    const float b = held_all.process(&dishes.samples[i]);
    ASSERT_LE(a, b) << "at " << double(i) / 16000 << " s";
    ASSERT_EQ(periodic.raw_score(), held_all.raw_score());
    ASSERT_EQ(as_long.process(&dishes.samples[i]), b);
    lower += a < b;
    speech_periodic += periodic.is_speech();
    speech_all += held_all.is_speech();
  }
  EXPECT_GT(lower, frames / 20);
  EXPECT_LT(speech_periodic, speech_all);
  printf("held lower on %d of %d frames; called speech %d, holding every frame %d\n", lower, frames,
         speech_periodic, speech_all);
}

TEST(Vad, TheRecurrentGateOnlyEverLowersTheNetworksScore) {
  // VadModel's recurrent gate (bench/vad_fit --gru; the shipped model has none): raw =
  // sigmoid(z - softplus(gate)), so whatever its weights and state, the score is at most the
  // network's own, and without units it is exactly that.
  auto model = std::make_unique<VadModel>(kVadModel);
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0, 1);
  float x[kVadInputCount], h[kVadGruCount] = {};
  for (float& v : x)
    v = n(rng);
  EXPECT_EQ(vad_model_step(*model, x, h), vad_model_score(*model, x));
  model->gru_units = kVadGruCount;
  for (auto& gate : model->gru_w)
    for (auto& unit : gate)
      for (float& w : unit)
        w = 0.3f * n(rng);
  for (auto& gate : model->gru_u)
    for (auto& unit : gate)
      for (float& w : unit)
        w = 0.3f * n(rng);
  for (float& w : model->gate)
    w = n(rng);
  model->gate_bias = 0;
  int lowered = 0;
  for (int frame = 0; frame < 200; ++frame) {
    for (float& v : x)
      v = n(rng);
    const float gated = vad_model_step(*model, x, h);
    const float plain = vad_model_score(*model, x);
    EXPECT_LE(gated, plain);
    lowered += gated < plain - 1e-3f;
  }
  EXPECT_GT(lowered, 100);  // and the gate does act
  for (float v : h)
    EXPECT_LE(std::fabs(v), 1.0f);  // the state stays bounded
}

TEST(Segmenter, SendsPreRollFirstThenSpeechThenEndsAfterHangover) {
  SegmenterConfig cfg;
  cfg.pre_roll_ms = 100;   // 5 frames
  cfg.hangover_ms = 60;    // 3 frames
  cfg.min_speech_ms = 40;  // 2 frames
  SpeechSegmenter seg(cfg);
  std::vector<SegmentFrame> out;
  float pcm[320] = {};
  auto emit = [&](const SegmentFrame& f) { out.push_back(f); };
  uint64_t ts = 0;
  auto push = [&](bool speech) {
    bool started = seg.push(pcm, ts, speech, emit);
    ts += 320;
    return started;
  };
  for (int i = 0; i < 10; ++i)
    EXPECT_FALSE(push(false));
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(push(true));   // one frame is not enough
  EXPECT_TRUE(push(true));    // second consecutive: start
  ASSERT_EQ(out.size(), 7u);  // 5 pre-roll (capacity) + ... the ring holds pre-roll + run
  EXPECT_EQ(out.front().flags & kSegmentStart, kSegmentStart);
  EXPECT_TRUE(out.front().flags & kPreRoll);
  EXPECT_FALSE(out.back().flags & kPreRoll);
  for (size_t i = 1; i < out.size(); ++i)
    EXPECT_EQ(out[i].timestamp, out[i - 1].timestamp + 320);
  EXPECT_EQ(out.back().timestamp, 11u * 320);
  out.clear();
  push(true);
  push(false);
  push(true);  // a short pause does not end the segment
  push(false);
  push(false);
  EXPECT_TRUE(seg.in_segment());
  push(false);  // the third silent frame: hangover over
  EXPECT_FALSE(seg.in_segment());
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out.back().flags, kSegmentEnd);
  for (size_t i = 0; i + 1 < out.size(); ++i)
    EXPECT_EQ(out[i].flags, 0);
}

TEST(Segmenter, ASingleClickNeverOpensASegment) {
  SpeechSegmenter seg;  // min_speech 40 ms = 2 frames
  float pcm[320] = {};
  int emitted = 0;
  for (int i = 0; i < 50; ++i)
    seg.push(pcm, uint64_t(i) * 320, i % 5 == 0, [&](const SegmentFrame&) { ++emitted; });
  EXPECT_EQ(emitted, 0);
}

}  // namespace
}  // namespace earshot::dsp
