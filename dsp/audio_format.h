// The pipeline's audio conventions: 16 kHz mono float in [-1, 1]; 10 ms frames for the VAD and
// webrtc-audio-processing, 20 ms frames for Opus. int16 exists only at the I/O edges.
#pragma once

#include <cstddef>
#include <cstdint>

namespace earshot::dsp {

inline constexpr int kSampleRate = 16000;
inline constexpr int kVadFrameSamples = 160;    // 10 ms
inline constexpr int kCodecFrameSamples = 320;  // 20 ms

inline float s16_to_float(int16_t s) {
  return float(s) * (1.0f / 32768.0f);
}
inline int16_t float_to_s16(float x) {
  const float scaled = x * 32768.0f;
  if (scaled >= 32767.0f) return 32767;
  if (scaled <= -32768.0f) return -32768;
  return int16_t(scaled < 0 ? scaled - 0.5f : scaled + 0.5f);
}
void s16_to_float(const int16_t* in, float* out, size_t n);
void float_to_s16(const float* in, int16_t* out, size_t n);

}  // namespace earshot::dsp
