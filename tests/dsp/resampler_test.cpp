// Resampling every common capture rate to 16 kHz: frequency and level kept, same as sox, and the
// output does not depend on how the input was chunked.
#include "dsp/resampler.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/test_audio.h"

namespace earshot::dsp {
namespace {

std::vector<float> run(Resampler& r, const std::vector<float>& in, size_t chunk) {
  std::vector<float> out, buf(r.max_output_frames());
  for (size_t i = 0; i < in.size(); i += chunk) {
    const size_t n = std::min(chunk, in.size() - i);
    const size_t got = r.process(in.data() + i, n, buf.data(), buf.size());
    out.insert(out.end(), buf.begin(), buf.begin() + long(got));
  }
  while (const size_t got = r.flush(buf.data(), buf.size()))
    out.insert(out.end(), buf.begin(), buf.begin() + long(got));
  return out;
}

// Frequency of a sine from its zero crossings.
double frequency(const std::vector<float>& x, double rate) {
  int crossings = 0;
  for (size_t i = 1; i < x.size(); ++i)
    crossings += (x[i - 1] < 0) != (x[i] < 0);
  return crossings / 2.0 / (double(x.size()) / rate);
}

class ResamplerRates : public ::testing::TestWithParam<int> {};

TEST_P(ResamplerRates, SineKeepsFrequencyLevelAndLength) {
  const int rate = GetParam();
  std::vector<float> sine(static_cast<size_t>(rate));  // 1 s
  for (size_t i = 0; i < sine.size(); ++i)
    sine[i] = 0.5f * std::sin(2 * M_PI * 1000.0 * double(i) / rate);
  std::string err;
  auto r = Resampler::create(rate, 16000, size_t(rate / 100), &err);
  ASSERT_TRUE(r) << err;
  std::vector<float> out = run(*r, sine, size_t(rate / 100));
  EXPECT_NEAR(double(out.size()), 16000.0, 16.0);  // within 1 ms of exactly 1 s
  std::vector<float> middle(out.begin() + 1600, out.end() - 1600);
  EXPECT_NEAR(frequency(middle, 16000), 1000.0, 5.0);
  EXPECT_NEAR(test::rms(middle), 0.5 / std::sqrt(2.0), 0.01);
}

INSTANTIATE_TEST_SUITE_P(CommonRates, ResamplerRates,
                         ::testing::Values(8000, 16000, 22050, 32000, 44100, 48000, 96000));

TEST(Resampler, SpeechMatchesSoxAndChunkingDoesNotMatter) {
  test::Audio jfk = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));
  std::string scratch = test::scratch_dir("resampler_sox");
  test::Audio at44 = test::sox_convert(jfk, 44100, 1, scratch);
  ASSERT_EQ(at44.sample_rate, 44100);
  std::string err;
  auto a = Resampler::create(44100, 16000, 441, &err);
  auto b = Resampler::create(44100, 16000, 4096, &err);
  std::vector<float> ours_small = run(*a, at44.samples, 441);
  std::vector<float> ours_odd = run(*b, at44.samples, 1237);
  ASSERT_EQ(ours_small.size(), ours_odd.size());
  for (size_t i = 0; i < ours_small.size(); i += 997)
    ASSERT_NEAR(ours_small[i], ours_odd[i], 1e-6);
  test::Audio sox16 = test::sox_convert(at44, 16000, 1, scratch);
  test::Alignment al = test::best_alignment(sox16.samples, ours_small, 64);
  EXPECT_GT(al.correlation, 0.99) << "lag " << al.lag;
}

// Level of the middle half of `x`, in dB relative to a full-scale-0.5 sine.
double level_db(const std::vector<float>& x) {
  std::vector<float> middle(x.begin() + long(x.size() / 4), x.end() - long(x.size() / 4));
  return 20 * std::log10(test::rms(middle) / (0.5 / std::sqrt(2.0)));
}

std::vector<float> sine_through(int rate, double hz, Resampler::Quality quality) {
  std::vector<float> sine(static_cast<size_t>(rate));  // 1 s
  for (size_t i = 0; i < sine.size(); ++i)
    sine[i] = 0.5f * float(std::sin(2 * M_PI * hz * double(i) / rate));
  std::string err;
  auto r = Resampler::create(rate, 16000, size_t(rate / 100), &err, quality);
  EXPECT_TRUE(r) << err;
  return r ? run(*r, sine, size_t(rate / 100)) : std::vector<float>{};
}

// The quality each setting promises (dsp/resampler.h; docs/benchmarks.md has the figures against
// soxr, which this replaced): speech up to 7 kHz passes unchanged at both, the transparent one
// keeps 7.5 kHz too, and what lies above the new Nyquist does not fold back into the band.
TEST(Resampler, PassbandIsFlatAndAliasesAreRejected) {
  using Q = Resampler::Quality;
  for (Q q : {Q::kTransparent, Q::kSpeech}) {
    const char* name = q == Q::kSpeech ? "speech" : "transparent";
    for (int rate : {48000, 44100}) {
      for (double hz : {300.0, 1000.0, 3400.0, 6000.0, 7000.0})
        EXPECT_NEAR(level_db(sine_through(rate, hz, q)), 0.0, 0.05)
            << name << ", " << rate << " Hz in, " << hz << " Hz";
      if (q == Q::kTransparent) {
        EXPECT_NEAR(level_db(sine_through(rate, 7500, q)), 0.0, 0.1) << rate << " Hz in, 7.5 kHz";
      }
      for (double hz : {8500.0, 10000.0, 15000.0, 20000.0})
        EXPECT_LT(level_db(sine_through(rate, hz, q)), q == Q::kSpeech ? -100.0 : -130.0)
            << name << ", " << rate << " Hz in, " << hz << " Hz";
    }
  }
}

// Paced, the output keeps up with the input 20 ms at a time (a frame cut from it completes with
// the input that completes it) and is the aligned output, later by delay_frames().
TEST(Resampler, PacedKeepsUpWithTheInputAndLagsByItsDelay) {
  for (int rate : {24000, 48000, 44100, 8000}) {
    const size_t per = size_t(rate / 50);  // 20 ms
    std::vector<float> in(per * 50);
    for (size_t i = 0; i < in.size(); ++i)
      in[i] = 0.5f * float(std::sin(2 * M_PI * 440.0 * double(i) / rate));
    std::string err;
    auto aligned = Resampler::create(rate, 16000, per, &err);
    auto paced = Resampler::create(rate, 16000, per, &err, Resampler::Quality::kTransparent,
                                   Resampler::Start::kPaced);
    ASSERT_TRUE(aligned && paced) << err;
    EXPECT_EQ(paced->delay_frames(), aligned->delay_frames());
    EXPECT_GT(paced->delay_frames(), 0u);
    EXPECT_LT(paced->delay_frames(), 320u);  // under 20 ms
    std::vector<float> a, p, buf(paced->max_output_frames());
    for (size_t f = 0; f * per < in.size(); ++f) {
      size_t n = aligned->process(in.data() + f * per, per, buf.data(), buf.size());
      a.insert(a.end(), buf.begin(), buf.begin() + long(n));
      n = paced->process(in.data() + f * per, per, buf.data(), buf.size());
      p.insert(p.end(), buf.begin(), buf.begin() + long(n));
      ASSERT_EQ(p.size(), (f + 1) * 320) << rate << " Hz, after 20 ms frame " << f;
      EXPECT_EQ(a.size(), p.size() - aligned->delay_frames()) << rate << " Hz, frame " << f;
    }
    // At 44.1 kHz the delay is not a whole number of output frames: the two are a fraction of a
    // sample apart.
    if (rate == 44100) continue;
    const size_t d = paced->delay_frames();
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(p[i + d], a[i], 1e-4) << rate << " Hz, sample " << i;
    for (size_t i = 0; i < d / 2; ++i)
      ASSERT_NEAR(p[i], 0.0f, 1e-3) << rate << " Hz: the delay comes out as silence";
  }
}

TEST(Resampler, UnsupportedRatesAreRefusedWithAClearError) {
  std::string err;
  EXPECT_FALSE(Resampler::create(4000, 16000, 40, &err));
  EXPECT_NE(err.find("unsupported sample rate 4000 Hz"), std::string::npos) << err;
  EXPECT_FALSE(Resampler::create(0, 16000, 40, &err));
  EXPECT_FALSE(Resampler::create(500000, 16000, 40, &err));
  EXPECT_FALSE(Resampler::create(44100.5, 16000, 40, &err));
  EXPECT_NE(err.find("a whole number of Hz"), std::string::npos) << err;
}

}  // namespace
}  // namespace earshot::dsp
