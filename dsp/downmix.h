// Downmix: interleaved int16 of any channel count to mono float (the mean of the channels).
#pragma once

#include <cstddef>
#include <cstdint>

namespace earshot::dsp {

void downmix_to_mono(const int16_t* interleaved, size_t frames, int channels, float* mono_out);

}  // namespace earshot::dsp
