// Resampler: mono float sample-rate conversion with speexdsp's resampler. Replaces libsoxr, whose
// Debian build pulls in libgomp: together 0.45 MB of a node's resident memory, where speexdsp's
// static resampler is a few kilobytes. Any integer rate from 8 kHz to 192 kHz in; created once,
// then process() never allocates. Two ways to start (Start below): output aligned with the input
// (the default), or keeping pace with it. Two qualities (figures in docs/benchmarks.md):
//   kTransparent (the default; speexdsp quality 10): flat to 0.975 of the lower rate's Nyquist,
//     aliases below -140 dB. Audio that is converted several times and then recognised (a reply
//     read back, the Realtime door's round trip) needs it: at quality 6 pocketsphinx heard flite's
//     replies through the node 0.02 worse than through soxr.
//   kSpeech (quality 6): flat to 7 kHz for 16 kHz output, aliases below -105 dB, at a quarter of
//     the cost: the node's capture path, whose cost has a budget (1.1x libopus alone), and whose
//     one conversion the recogniser did not hear.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct SpeexResamplerState_;

namespace earshot::dsp {

class Resampler {
 public:
  enum class Quality { kTransparent, kSpeech };
  // Where the output starts. The filter needs delay_frames() of output time past a sample (half
  // its length) before it can give that sample out.
  //   kAligned: output frame 0 is input time 0 (the filter's delay is skipped at the start and
  //     drained by flush()); after each process() the output is delay_frames() short of the input.
  //   kPaced: the filter's delay comes out first, as silence, so the output keeps pace with the
  //     input (N input frames in, N * ratio out, whatever the chunking) and lags it by
  //     delay_frames(). For a live stream cut into fixed frames: the frame the input completes
  //     comes out with that input, not with the next chunk.
  enum class Start { kAligned, kPaced };
  static std::unique_ptr<Resampler> create(double input_rate, double output_rate,
                                           size_t max_input_frames, std::string* error,
                                           Quality quality = Quality::kTransparent,
                                           Start start = Start::kAligned);
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
  // The filter's delay, in output frames (0 when the rates are equal): 128 at quality 10 for
  // 24 -> 16 kHz (8 ms).
  size_t delay_frames() const { return delay_; }
  static bool is_supported_rate(double rate) { return rate >= 8000 && rate <= 192000; }

 private:
  Resampler() = default;
  ::SpeexResamplerState_* speex_ = nullptr;
  double ratio_ = 1;
  bool passthrough_ = false;
  size_t max_output_ = 0;
  size_t delay_ = 0;
  size_t flush_left_ = 0;  // input frames of zeros flush() still feeds to drain the delay line
};

}  // namespace earshot::dsp
