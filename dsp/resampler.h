// Resampler: mono float sample-rate conversion with libsoxr (streaming, medium quality: flat to
// 0.913 of Nyquist, 100 dB of rejection — far beyond what 16 kHz speech needs, at a fraction of
// the HQ cost). Any rate from 8 kHz to 192 kHz in; created once, then process() never allocates.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct soxr;

namespace earshot::dsp {

class Resampler {
 public:
  static std::unique_ptr<Resampler> create(double input_rate, double output_rate,
                                           size_t max_input_frames, std::string* error);
  ~Resampler();
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  // Converts up to max_input_frames; returns the frames written (at most out_capacity).
  size_t process(const float* in, size_t in_frames, float* out, size_t out_capacity);
  // End of stream: drains the filter's delay line into `out`. Call until it returns 0 (the delay
  // line can be longer than one buffer).
  size_t flush(float* out, size_t out_capacity);
  // Output capacity that always suffices for one process() of max_input_frames.
  size_t max_output_frames() const { return max_output_; }
  static bool is_supported_rate(double rate) { return rate >= 8000 && rate <= 192000; }

 private:
  Resampler() = default;
  ::soxr* soxr_ = nullptr;
  double ratio_ = 1;
  bool passthrough_ = false;
  size_t max_output_ = 0;
};

}  // namespace earshot::dsp
