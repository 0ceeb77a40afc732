// dsp::RealFft (kissfft) against FFTW's r2c transform, which the VAD used before: on real speech
// and kitchen noise, windowed as the VAD windows them, every bin and every power value agree to
// float rounding, so the VAD's features and score are those it had with FFTW.
#include "dsp/real_fft.h"

#include <fftw3.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

#include "tests/support/test_audio.h"

namespace earshot::dsp {
namespace {

constexpr int kSize = 256, kHop = 160;  // the VAD's 16 ms window every 10 ms at 16 kHz

class FftwReference {
 public:
  FftwReference()
      : in_(fftwf_alloc_real(kSize)),
        out_(fftwf_alloc_complex(kSize / 2 + 1)),
        plan_(fftwf_plan_dft_r2c_1d(kSize, in_, out_, FFTW_ESTIMATE)) {}
  ~FftwReference() {
    fftwf_destroy_plan(plan_);
    fftwf_free(in_);
    fftwf_free(out_);
  }
  std::vector<std::complex<float>> forward(const float* x) {
    std::copy(x, x + kSize, in_);
    fftwf_execute(plan_);
    std::vector<std::complex<float>> bins(kSize / 2 + 1);
    for (size_t k = 0; k < bins.size(); ++k)
      bins[k] = {out_[k][0], out_[k][1]};
    return bins;
  }

 private:
  float* in_;
  fftwf_complex* out_;
  fftwf_plan plan_;
};

std::vector<float> mono16k(const char* relative) {
  test::Audio a = test::read_audio(test::data_path(relative));
  if (a.sample_rate != 16000) a = test::sox_convert(a, 16000, 1, test::scratch_dir("real_fft"));
  return test::to_mono(a);
}

// Compares every windowed 256-sample block of `x`; returns the number of blocks compared.
int expect_same_as_fftw(const std::vector<float>& x) {
  RealFft fft(kSize);
  FftwReference ref;
  std::vector<float> window(kSize), block(kSize), power(size_t(fft.bins()));
  std::vector<std::complex<float>> ours(size_t(fft.bins()));
  for (int i = 0; i < kSize; ++i)
    window[size_t(i)] = 0.5f - 0.5f * std::cos(2.0f * float(M_PI) * float(i) / float(kSize));
  int blocks = 0;
  for (size_t start = 0; start + kSize <= x.size(); start += kHop, ++blocks) {
    for (size_t i = 0; i < kSize; ++i)
      block[i] = x[start + i] * window[i];
    const std::vector<std::complex<float>> theirs = ref.forward(block.data());
    fft.forward(block.data(), ours.data());
    fft.power(block.data(), power.data());
    // Rounding scales with the block's largest bin: each output sums 256 products.
    float peak = 0;
    for (const auto& c : theirs)
      peak = std::max(peak, std::abs(c));
    const float tolerance = 1e-5f * peak + 1e-9f;
    for (size_t k = 0; k < theirs.size(); ++k) {
      EXPECT_NEAR(ours[k].real(), theirs[k].real(), tolerance)
          << "block " << blocks << " bin " << k;
      EXPECT_NEAR(ours[k].imag(), theirs[k].imag(), tolerance)
          << "block " << blocks << " bin " << k;
      EXPECT_NEAR(power[k], std::norm(theirs[k]), 2 * tolerance * peak)
          << "block " << blocks << " bin " << k;
      if (::testing::Test::HasFailure()) return blocks;
    }
  }
  return blocks;
}

TEST(RealFft, SpeechSpectrumIsFftwsToFloatRounding) {
  EXPECT_GT(expect_same_as_fftw(mono16k("whisper.cpp/jfk.wav")), 1000);  // 11 s
}

TEST(RealFft, NoiseSpectrumIsFftwsToFloatRounding) {
  EXPECT_GT(expect_same_as_fftw(mono16k("noise/doing_the_dishes.wav")), 1000);
}

TEST(RealFft, BinsAreTheTransformsConvention) {
  // A cosine at bin 8 puts size/2 in bin 8 (unscaled, like FFTW) and nothing elsewhere.
  RealFft fft(kSize);
  ASSERT_EQ(fft.bins(), kSize / 2 + 1);
  std::vector<float> x(kSize);
  for (int i = 0; i < kSize; ++i)
    x[size_t(i)] = std::cos(2.0f * float(M_PI) * 8.0f * float(i) / float(kSize));
  std::vector<std::complex<float>> out(size_t(fft.bins()));
  fft.forward(x.data(), out.data());
  for (int k = 0; k < fft.bins(); ++k)
    EXPECT_NEAR(std::abs(out[size_t(k)]), k == 8 ? kSize / 2.0f : 0.0f, 1e-3f) << "bin " << k;
}

}  // namespace
}  // namespace earshot::dsp
