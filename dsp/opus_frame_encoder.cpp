#include "dsp/opus_frame_encoder.h"

#include <opus/opus.h>

namespace earshot::dsp {

std::unique_ptr<OpusFrameEncoder> OpusFrameEncoder::create(const OpusEncoderSettings& s,
                                                           std::string* error) {
  int err = OPUS_OK;
  std::unique_ptr<OpusFrameEncoder> e(new OpusFrameEncoder);
  e->encoder_ = opus_encoder_create(s.sample_rate, 1, OPUS_APPLICATION_VOIP, &err);
  if (err != OPUS_OK || !e->encoder_) {
    *error = std::string("opus encoder: ") + opus_strerror(err);
    return nullptr;
  }
  if (s.frame_ms != 10 && s.frame_ms != 20 && s.frame_ms != 40 && s.frame_ms != 60) {
    *error = "opus encoder: frames of 10, 20, 40 or 60 ms, not " + std::to_string(s.frame_ms);
    return nullptr;
  }
  e->frame_samples_ = s.sample_rate * s.frame_ms / 1000;
  opus_encoder_ctl(e->encoder_, OPUS_SET_BITRATE(s.bitrate));
  opus_encoder_ctl(e->encoder_, OPUS_SET_COMPLEXITY(s.complexity));
  opus_encoder_ctl(e->encoder_, OPUS_SET_INBAND_FEC(s.inband_fec ? 1 : 0));
  opus_encoder_ctl(e->encoder_, OPUS_SET_PACKET_LOSS_PERC(s.expected_loss_percent));
  opus_encoder_ctl(e->encoder_, OPUS_SET_DTX(s.dtx ? 1 : 0));
  opus_encoder_ctl(e->encoder_, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  return e;
}

OpusFrameEncoder::~OpusFrameEncoder() {
  if (encoder_) opus_encoder_destroy(encoder_);
}

int OpusFrameEncoder::encode(const float* pcm, uint8_t* out, size_t capacity) {
  return opus_encode_float(encoder_, pcm, frame_samples_, out, opus_int32(capacity));
}

void OpusFrameEncoder::reset() {
  opus_encoder_ctl(encoder_, OPUS_RESET_STATE);
}

}  // namespace earshot::dsp
