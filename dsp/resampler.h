// Resampler: mono float sample-rate conversion with speexdsp's resampler (streaming, quality 6:
// flat to 7 kHz and over 100 dB of alias rejection for 48 -> 16 kHz, measured in docs/benchmarks.md
// — what 16 kHz speech needs). Replaces libsoxr, whose Debian build pulls in libgomp: together 0.45
// MB of a node's resident memory, where speexdsp's static resampler is a few kilobytes. Any integer
// rate from 8 kHz to 192 kHz in; created once, then process() never allocates. Output is aligned
// with the input (the filter's delay is skipped at the start and drained by flush()).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct SpeexResamplerState_;

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
  ::SpeexResamplerState_* speex_ = nullptr;
  double ratio_ = 1;
  bool passthrough_ = false;
  size_t max_output_ = 0;
  size_t flush_left_ = 0;  // input frames of zeros flush() still feeds to drain the delay line
};

}  // namespace earshot::dsp
