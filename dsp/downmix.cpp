#include "dsp/downmix.h"

#include "dsp/audio_format.h"

namespace earshot::dsp {

void s16_to_float(const int16_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i)
    out[i] = s16_to_float(in[i]);
}

void float_to_s16(const float* in, int16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i)
    out[i] = float_to_s16(in[i]);
}

void downmix_to_mono(const int16_t* interleaved, size_t frames, int channels, float* mono_out) {
  if (channels == 1) return s16_to_float(interleaved, mono_out, frames);
  const float scale = 1.0f / (32768.0f * float(channels));
  if (channels == 2) {  // what most cards deliver: the same sums, without the loop over channels
    for (size_t i = 0; i < frames; ++i)
      mono_out[i] = float(int32_t(interleaved[2 * i]) + int32_t(interleaved[2 * i + 1])) * scale;
    return;
  }
  for (size_t i = 0; i < frames; ++i) {
    int32_t sum = 0;
    for (int c = 0; c < channels; ++c)
      sum += interleaved[i * size_t(channels) + size_t(c)];
    mono_out[i] = float(sum) * scale;
  }
}

}  // namespace earshot::dsp
