#include "dsp/resampler.h"

#include <speex/speex_resampler.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace earshot::dsp {
namespace {

// speexdsp's quality levels for Resampler::Quality (a Kaiser-windowed sinc of 256 or 96 taps per
// zero crossing, scaled by the decimation ratio). For 48 -> 16 kHz quality 10 costs 31 M
// instructions per second of input, 6 costs 7.8 M, soxr's medium quality cost 2.3 M; 5 (6.7 M) is
// already -0.2 dB at 7 kHz, and the Realtime door's round trip (24 -> 16 kHz twice) lost words to
// it (word error rate 0.46 on its reply, 0.28 at 6 and 10).
int speex_quality(Resampler::Quality q) {
  return q == Resampler::Quality::kSpeech ? 6 : 10;
}

}  // namespace

std::unique_ptr<Resampler> Resampler::create(double input_rate, double output_rate,
                                             size_t max_input_frames, std::string* error,
                                             Quality quality, Start start) {
  for (double rate : {input_rate, output_rate}) {
    if (!is_supported_rate(rate)) {
      *error =
          "unsupported sample rate " + std::to_string(long(rate)) + " Hz (supported: 8000-192000)";
      return nullptr;
    }
    if (rate != std::floor(rate)) {
      *error = "unsupported sample rate " + std::to_string(rate) + " Hz (a whole number of Hz)";
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
  int e = RESAMPLER_ERR_SUCCESS;
  r->speex_ = speex_resampler_init(1, spx_uint32_t(input_rate), spx_uint32_t(output_rate),
                                   speex_quality(quality), &e);
  if (e != RESAMPLER_ERR_SUCCESS || !r->speex_) {
    *error = std::string("resampler: ") + speex_resampler_strerror(e);
    return nullptr;
  }
  r->delay_ = size_t(speex_resampler_get_output_latency(r->speex_));
  // kAligned starts with the filter centred on the first sample, as soxr did: output frame 0 is
  // input time 0, and the delay line's half a filter of input comes out at flush(). kPaced starts
  // with the delay line full of zeros, which come out first.
  if (start == Start::kAligned) speex_resampler_skip_zeros(r->speex_);
  r->flush_left_ = size_t(speex_resampler_get_input_latency(r->speex_));
  return r;
}

Resampler::~Resampler() {
  if (speex_) speex_resampler_destroy(speex_);
}

size_t Resampler::process(const float* in, size_t in_frames, float* out, size_t out_capacity) {
  if (passthrough_) {
    const size_t n = std::min(in_frames, out_capacity);
    std::memcpy(out, in, n * sizeof(float));
    return n;
  }
  spx_uint32_t in_len = spx_uint32_t(in_frames), out_len = spx_uint32_t(out_capacity);
  speex_resampler_process_float(speex_, 0, in, &in_len, out, &out_len);
  return out_len;
}

size_t Resampler::flush(float* out, size_t out_capacity) {
  if (passthrough_) return 0;
  // End of input: feed zeros through the delay line, no more at a time than `out` has room for.
  static constexpr float kZeros[256] = {};
  size_t total = 0;
  while (flush_left_ > 0 && total < out_capacity) {
    const size_t room = size_t(double(out_capacity - total) / ratio_);
    if (room < 2) break;
    spx_uint32_t in_len =
        spx_uint32_t(std::min({flush_left_, room - 1, sizeof kZeros / sizeof(float)}));
    spx_uint32_t out_len = spx_uint32_t(out_capacity - total);
    speex_resampler_process_float(speex_, 0, kZeros, &in_len, out + total, &out_len);
    flush_left_ -= in_len;
    total += out_len;
    if (in_len == 0 && out_len == 0) break;
  }
  return total;
}

}  // namespace earshot::dsp
