#include "dsp/real_fft.h"

#include <kiss_fftr.h>

#include <cstdlib>
#include <new>

namespace earshot::dsp {

// kissfft writes kiss_fft_cpx {r, i}; std::complex<float> has the same layout (two floats, real
// first: [complex.numbers.general]), so it writes into spectrum_ directly.
static_assert(sizeof(kiss_fft_cpx) == sizeof(std::complex<float>));

RealFft::RealFft(int size) : size_(size), spectrum_(size_t(size / 2 + 1)) {
  cfg_ = kiss_fftr_alloc(size, 0, nullptr, nullptr);
  if (!cfg_) throw std::bad_alloc();  // an odd size is our own bug; out of memory the only other
}

RealFft::~RealFft() {
  kiss_fftr_free(cfg_);
}

void RealFft::transform(const float* in) {
  kiss_fftr(cfg_, in, reinterpret_cast<kiss_fft_cpx*>(spectrum_.data()));
}

void RealFft::forward(const float* in, std::complex<float>* out) {
  transform(in);
  for (int k = 0; k < bins(); ++k)
    out[k] = spectrum_[size_t(k)];
}

void RealFft::power(const float* in, float* out) {
  transform(in);
  for (int k = 0; k < bins(); ++k) {
    const float re = spectrum_[size_t(k)].real(), im = spectrum_[size_t(k)].imag();
    out[k] = re * re + im * im;
  }
}

}  // namespace earshot::dsp
