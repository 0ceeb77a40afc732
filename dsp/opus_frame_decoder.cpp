#include "dsp/opus_frame_decoder.h"

#include <opus/opus.h>

namespace earshot::dsp {

std::unique_ptr<OpusFrameDecoder> OpusFrameDecoder::create(int sample_rate, int channels,
                                                           std::string* error) {
  int err = OPUS_OK;
  std::unique_ptr<OpusFrameDecoder> d(new OpusFrameDecoder);
  d->decoder_ = opus_decoder_create(sample_rate, channels, &err);
  if (err != OPUS_OK || !d->decoder_) {
    *error = std::string("opus decoder: ") + opus_strerror(err);
    return nullptr;
  }
  return d;
}

OpusFrameDecoder::~OpusFrameDecoder() {
  if (decoder_) opus_decoder_destroy(decoder_);
}

int OpusFrameDecoder::decode(const uint8_t* packet, size_t size, float* out, size_t max_frames) {
  if (!packet || size == 0) return OPUS_BAD_ARG;
  return opus_decode_float(decoder_, packet, opus_int32(size), out, int(max_frames), 0);
}

int OpusFrameDecoder::conceal(float* out, size_t frames) {
  return opus_decode_float(decoder_, nullptr, 0, out, int(frames), 0);
}

int OpusFrameDecoder::decode_fec(const uint8_t* next_packet, size_t size, float* out,
                                 size_t frames) {
  return opus_decode_float(decoder_, next_packet, opus_int32(size), out, int(frames), 1);
}

void OpusFrameDecoder::reset() {
  opus_decoder_ctl(decoder_, OPUS_RESET_STATE);
}

int opus_packet_samples(const uint8_t* packet, size_t size, int sample_rate) {
  if (!packet || size == 0) return OPUS_BAD_ARG;
  return opus_packet_get_nb_samples(packet, opus_int32(size), opus_int32(sample_rate));
}

}  // namespace earshot::dsp
