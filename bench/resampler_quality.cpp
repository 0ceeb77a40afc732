// Resampler quality, as docs/benchmarks.md reports it: dsp::Resampler converting 2 s sines from
// the common capture rates to 16 kHz, at each of its qualities. For each input rate, one line:
//   thd+n_1k   residual after fitting a 1 kHz sine to the middle second, relative to the sine (dB)
//   level_Xk   level of a sine at X kHz after conversion, relative to its input level (dB): the
//              passband's flatness up to the VAD's top band and wideband Opus's 8 kHz
//   alias      the loudest output of a sine at 8.5, 9, 10, 12, 15 or 20 kHz (above the new
//              Nyquist, below the input's) relative to a full-level sine (dB): aliasing let through
//   build/release/bench/resampler_quality
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "dsp/resampler.h"

namespace {

using Samples = std::vector<float>;

earshot::dsp::Resampler::Quality g_quality = earshot::dsp::Resampler::Quality::kTransparent;

Samples convert(const Samples& in, int rate) {
  std::string error;
  auto r = earshot::dsp::Resampler::create(rate, 16000, size_t(rate / 100), &error, g_quality);
  if (!r) {
    std::fprintf(stderr, "%s\n", error.c_str());
    std::exit(1);
  }
  Samples out, buf(r->max_output_frames());
  for (size_t i = 0; i < in.size(); i += size_t(rate / 100)) {
    const size_t n = std::min(size_t(rate / 100), in.size() - i);
    const size_t got = r->process(in.data() + i, n, buf.data(), buf.size());
    out.insert(out.end(), buf.begin(), buf.begin() + long(got));
  }
  while (const size_t got = r->flush(buf.data(), buf.size()))
    out.insert(out.end(), buf.begin(), buf.begin() + long(got));
  return out;
}

Samples sine(double hz, int rate) {
  Samples x(size_t(rate) * 2);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.5f * float(std::sin(2 * M_PI * hz * double(i) / rate));
  return x;
}

// Least-squares fit of a sine at `hz` to the middle second of `y` (16 kHz): the fitted sine's level
// relative to the input's 0.5 amplitude, and the residual relative to the fitted sine, in dB.
void fit(const Samples& y, double hz, double* level_db, double* residual_db) {
  const size_t a = y.size() / 4, b = y.size() * 3 / 4;
  double ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
  for (size_t i = a; i < b; ++i) {
    const double s = std::sin(2 * M_PI * hz * double(i) / 16000);
    const double c = std::cos(2 * M_PI * hz * double(i) / 16000);
    ss += s * s, cc += c * c, sc += s * c, ys += y[i] * s, yc += y[i] * c;
  }
  const double det = ss * cc - sc * sc;
  const double p = (ys * cc - yc * sc) / det, q = (yc * ss - ys * sc) / det;
  double residual = 0, signal = 0;
  for (size_t i = a; i < b; ++i) {
    const double m = p * std::sin(2 * M_PI * hz * double(i) / 16000) +
                     q * std::cos(2 * M_PI * hz * double(i) / 16000);
    residual += (y[i] - m) * (y[i] - m);
    signal += m * m;
  }
  *level_db = 10 * std::log10(signal / double(b - a) / 0.125);
  *residual_db = 10 * std::log10(residual / signal);
}

double level_db(const Samples& y) {
  const size_t a = y.size() / 4, b = y.size() * 3 / 4;
  double e = 0;
  for (size_t i = a; i < b; ++i)
    e += double(y[i]) * y[i];
  return 10 * std::log10(e / double(b - a) / 0.125 + 1e-30);
}

}  // namespace

int main() {
  using Quality = earshot::dsp::Resampler::Quality;
  for (Quality quality : {Quality::kTransparent, Quality::kSpeech}) {
    g_quality = quality;
    std::printf("%s\n", quality == Quality::kSpeech ? "kSpeech (the node's capture)"
                                                    : "kTransparent (the default)");
    std::printf(
        "| input rate | thd+n_1k | level_3.4k | level_6k | level_7k | level_7.5k | alias |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    for (int rate : {48000, 44100, 32000, 22050}) {
      double level = 0, thd = 0, unused = 0;
      fit(convert(sine(1000, rate), rate), 1000, &level, &thd);
      std::printf("| %d | %.1f dB |", rate, thd);
      for (double hz : {3400.0, 6000.0, 7000.0, 7500.0}) {
        fit(convert(sine(hz, rate), rate), hz, &level, &unused);
        std::printf(" %.2f dB |", level);
      }
      double alias = -300;
      for (double hz : {8500.0, 9000.0, 10000.0, 12000.0, 15000.0, 20000.0})
        if (hz < rate / 2.0) alias = std::max(alias, level_db(convert(sine(hz, rate), rate)));
      std::printf(" %.1f dB |\n", alias);
    }
  }
}
