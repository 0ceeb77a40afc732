// Downmix, sample conversion and the high-pass filter.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "dsp/audio_format.h"
#include "dsp/downmix.h"
#include "dsp/high_pass_filter.h"
#include "tests/support/test_audio.h"

namespace earshot::dsp {
namespace {

TEST(Downmix, AveragesChannels) {
  const int16_t stereo[] = {1000, 3000, -32768, -32768, 32767, -32767};
  float mono[3];
  downmix_to_mono(stereo, 3, 2, mono);
  EXPECT_NEAR(mono[0], 2000.0f / 32768, 1e-6);
  EXPECT_NEAR(mono[1], -1.0f, 1e-6);
  EXPECT_NEAR(mono[2], 0.0f, 1e-4);
}

TEST(SampleFormat, ConversionClampsAndRounds) {
  EXPECT_EQ(float_to_s16(2.0f), 32767);
  EXPECT_EQ(float_to_s16(-2.0f), -32768);
  EXPECT_EQ(float_to_s16(s16_to_float(1234)), 1234);
  EXPECT_EQ(float_to_s16(s16_to_float(-1234)), -1234);
}

TEST(HighPass, RemovesDcAndRumbleKeepsSpeechBand) {
  for (double rate : {16000.0, 44100.0, 48000.0}) {
    HighPassFilter hp(rate, 80);
    std::vector<float> dc(static_cast<size_t>(rate), 0.3f);
    hp.process(dc.data(), dc.size());
    std::vector<float> tail(dc.end() - long(rate / 10), dc.end());
    EXPECT_LT(test::rms(tail), 1e-3) << rate;

    auto tone_gain = [&](double hz) {
      HighPassFilter f(rate, 80);
      std::vector<float> x(static_cast<size_t>(rate));
      for (size_t i = 0; i < x.size(); ++i)
        x[i] = float(std::sin(2 * M_PI * hz * double(i) / rate));
      f.process(x.data(), x.size());
      std::vector<float> steady(x.begin() + long(rate / 2), x.end());
      return test::rms(steady) / (1 / std::sqrt(2.0));
    };
    EXPECT_LT(tone_gain(20), 0.1) << rate;    // rumble: below -20 dB
    EXPECT_GT(tone_gain(300), 0.95) << rate;  // speech: untouched
  }
}

}  // namespace
}  // namespace earshot::dsp
