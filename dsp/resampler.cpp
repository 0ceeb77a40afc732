#include "dsp/resampler.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace earshot::dsp {

std::unique_ptr<Resampler> Resampler::create(double input_rate, double output_rate,
                                             size_t max_input_frames, std::string* error) {
  for (double rate : {input_rate, output_rate}) {
    if (!is_supported_rate(rate)) {
      *error =
          "unsupported sample rate " + std::to_string(long(rate)) + " Hz (supported: 8000-192000)";
      return nullptr;
    }
  }
  std::unique_ptr<Resampler> r(new Resampler);
  r->ratio_ = output_rate / input_rate;
  r->max_output_ = size_t(std::ceil(double(max_input_frames) * r->ratio_)) + 64;
  if (input_rate == output_rate) {
    r->passthrough_ = true;
    return r;
  }
  soxr_error_t e = nullptr;
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_MQ, 0);
  r->soxr_ = soxr_create(input_rate, output_rate, 1, &e, &io, &q, nullptr);
  if (e || !r->soxr_) {
    *error = std::string("resampler: ") + (e ? e : "soxr_create failed");
    return nullptr;
  }
  return r;
}

Resampler::~Resampler() {
  if (soxr_) soxr_delete(soxr_);
}

size_t Resampler::process(const float* in, size_t in_frames, float* out, size_t out_capacity) {
  if (passthrough_) {
    const size_t n = std::min(in_frames, out_capacity);
    std::memcpy(out, in, n * sizeof(float));
    return n;
  }
  size_t done_in = 0, done_out = 0;
  soxr_process(soxr_, in, in_frames, &done_in, out, out_capacity, &done_out);
  return done_out;
}

size_t Resampler::flush(float* out, size_t out_capacity) {
  if (passthrough_) return 0;
  // End of input: soxr may hand out its delay line over several calls.
  size_t total = 0;
  while (total < out_capacity) {
    size_t done_out = 0;
    soxr_process(soxr_, nullptr, 0, nullptr, out + total, out_capacity - total, &done_out);
    if (done_out == 0) break;
    total += done_out;
  }
  return total;
}

}  // namespace earshot::dsp
