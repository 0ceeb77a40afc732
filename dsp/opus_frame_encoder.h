// OpusFrameEncoder: 16 kHz mono speech to one Opus packet per 20 ms frame (or another rate and
// frame length: the xiaozhi door sends 60 ms at 24 kHz, as that firmware plays), VOIP application,
// in-band FEC (the next packet carries a low-rate copy of this one, so one lost packet can be
// rebuilt). Created once; encode() never allocates (libopus does not allocate in encode).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct OpusEncoder;

namespace earshot::dsp {

struct OpusEncoderSettings {
  int sample_rate = 16000;
  // 32 kbit/s at complexity 10: what reaches speech-to-text must recognise as well as the
  // original (24 kbit/s at complexity 5 cost pocketsphinx 6 points of word error rate on our
  // test speech; this setting costs none — tests/integration/bridge_test.cpp).
  int bitrate = 32000;
  int complexity = 10;
  bool inband_fec = true;
  int expected_loss_percent = 10;  // FEC only engages when the encoder expects loss
  bool dtx = false;
  int frame_ms = 20;  // 10, 20, 40 or 60
};

class OpusFrameEncoder {
 public:
  static std::unique_ptr<OpusFrameEncoder> create(const OpusEncoderSettings& settings,
                                                  std::string* error);
  ~OpusFrameEncoder();
  OpusFrameEncoder(const OpusFrameEncoder&) = delete;
  OpusFrameEncoder& operator=(const OpusFrameEncoder&) = delete;

  int frame_samples() const { return frame_samples_; }  // sample_rate * frame_ms / 1000
  // Encodes exactly frame_samples() samples. Returns the packet size, or a negative Opus error.
  int encode(const float* pcm, uint8_t* out, size_t capacity);
  void reset();

 private:
  OpusFrameEncoder() = default;
  OpusEncoder* encoder_ = nullptr;
  int frame_samples_ = 320;
};

}  // namespace earshot::dsp
