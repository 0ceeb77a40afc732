// HighPassFilter: a 2nd-order Butterworth high-pass (one biquad) that removes DC offset and
// low-frequency rumble (fans, footsteps, handling) before resampling and the VAD, whose energy
// features would otherwise count them as signal. Runs at the capture rate; in place; no allocation.
#pragma once

#include <cstddef>

namespace earshot::dsp {

class HighPassFilter {
 public:
  explicit HighPassFilter(double sample_rate, double cutoff_hz = 80.0);
  void process(float* samples, size_t n);
  void reset();

 private:
  float b0_, b1_, b2_, a1_, a2_;
  float z1_ = 0, z2_ = 0;  // transposed direct form II state
};

}  // namespace earshot::dsp
