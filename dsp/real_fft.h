// RealFft: the forward discrete Fourier transform of a block of real samples, with kissfft's real
// transform. The node's VAD needs one 256-point transform per 10 ms; kissfft does that in a few
// kilobytes of code, where FFTW's planner registers and touches every one of its codelets (about
// 2 MB of the node's resident memory; docs/benchmarks.md). Set up once (the only allocation);
// forward() and power() then never allocate. One instance per thread.
#pragma once

#include <complex>
#include <vector>

struct kiss_fftr_state;

namespace earshot::dsp {

class RealFft {
 public:
  // size: the transform length, even (kissfft's real transform works on size/2 complex points).
  explicit RealFft(int size);
  ~RealFft();
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  int size() const { return size_; }
  int bins() const { return size_ / 2 + 1; }  // 0 Hz to Nyquist, both included

  // out[k] = sum_n in[n] * exp(-2 pi i k n / size) for k in [0, bins()): unscaled, the same
  // convention as FFTW's r2c transform. `in` holds size() samples, `out` bins() values.
  void forward(const float* in, std::complex<float>* out);
  // |out[k]|^2 of forward(): the power spectrum, bins() values.
  void power(const float* in, float* out);

 private:
  void transform(const float* in);  // into spectrum_

  int size_;
  kiss_fftr_state* cfg_ = nullptr;
  std::vector<std::complex<float>> spectrum_;  // bins() values, kissfft's output
};

}  // namespace earshot::dsp
