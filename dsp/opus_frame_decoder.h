// OpusFrameDecoder: Opus packets back to float PCM, with packet-loss concealment for a missing
// packet and FEC recovery of a missing packet from the one after it. A corrupt packet returns a
// negative value; it never crashes. Created once; decode() never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct OpusDecoder;

namespace earshot::dsp {

class OpusFrameDecoder {
 public:
  static std::unique_ptr<OpusFrameDecoder> create(int sample_rate, int channels,
                                                  std::string* error);
  ~OpusFrameDecoder();
  OpusFrameDecoder(const OpusFrameDecoder&) = delete;
  OpusFrameDecoder& operator=(const OpusFrameDecoder&) = delete;

  // Returns frames decoded per channel (interleaved into out), or a negative Opus error.
  int decode(const uint8_t* packet, size_t size, float* out, size_t max_frames);
  // A packet is missing: synthesizes `frames` of concealment.
  int conceal(float* out, size_t frames);
  // A packet is missing but the next one arrived: rebuilds it from the next packet's FEC data.
  int decode_fec(const uint8_t* next_packet, size_t size, float* out, size_t frames);
  void reset();

 private:
  OpusFrameDecoder() = default;
  OpusDecoder* decoder_ = nullptr;
};

// Samples per channel `packet` holds when decoded at `sample_rate` (from its TOC byte; no
// decoding), or a negative Opus error for a packet that is not valid.
int opus_packet_samples(const uint8_t* packet, size_t size, int sample_rate);

}  // namespace earshot::dsp
