#include "dsp/high_pass_filter.h"

#include <cmath>

namespace earshot::dsp {

HighPassFilter::HighPassFilter(double sample_rate, double cutoff_hz) {
  // RBJ audio-EQ cookbook high-pass with Q = 1/sqrt(2) (Butterworth).
  const double w0 = 2.0 * M_PI * cutoff_hz / sample_rate;
  const double alpha = std::sin(w0) / (2.0 * M_SQRT1_2);
  const double cosw = std::cos(w0);
  const double a0 = 1.0 + alpha;
  b0_ = float((1.0 + cosw) / 2.0 / a0);
  b1_ = float(-(1.0 + cosw) / a0);
  b2_ = b0_;
  a1_ = float(-2.0 * cosw / a0);
  a2_ = float((1.0 - alpha) / a0);
}

void HighPassFilter::process(float* x, size_t n) {
  float z1 = z1_, z2 = z2_;
  for (size_t i = 0; i < n; ++i) {
    const float in = x[i];
    const float out = b0_ * in + z1;
    z1 = b1_ * in - a1_ * out + z2;
    z2 = b2_ * in - a2_ * out;
    x[i] = out;
  }
  // Flush denormals so a silent input never slows the filter down.
  z1_ = std::fabs(z1) < 1e-20f ? 0.0f : z1;
  z2_ = std::fabs(z2) < 1e-20f ? 0.0f : z2;
}

void HighPassFilter::reset() {
  z1_ = z2_ = 0;
}

}  // namespace earshot::dsp
