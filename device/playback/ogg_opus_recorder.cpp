#include "device/playback/ogg_opus_recorder.h"

#include <opus/opusenc.h>

namespace earshot::device {

std::unique_ptr<OggOpusRecorder> OggOpusRecorder::create(const std::string& path, int sample_rate,
                                                         std::string* error) {
  std::unique_ptr<OggOpusRecorder> r(new OggOpusRecorder);
  r->path_ = path;
  OggOpusComments* comments = ope_comments_create();
  ope_comments_add(comments, "ENCODER", "earshot-node");
  int err = OPE_OK;
  r->encoder_ = ope_encoder_create_file(path.c_str(), comments, sample_rate, 1, 0, &err);
  ope_comments_destroy(comments);
  if (!r->encoder_ || err != OPE_OK) {
    *error = "cannot record to '" + path + "': " + ope_strerror(err);
    return nullptr;
  }
  ope_encoder_ctl(r->encoder_, OPUS_SET_BITRATE(24000));
  ope_encoder_ctl(r->encoder_, OPUS_SET_APPLICATION(OPUS_APPLICATION_VOIP));
  return r;
}

OggOpusRecorder::~OggOpusRecorder() {
  std::string ignored;
  close(&ignored);
}

bool OggOpusRecorder::write(const float* pcm, size_t frames) {
  return encoder_ && ope_encoder_write_float(encoder_, pcm, int(frames)) == OPE_OK;
}

bool OggOpusRecorder::close(std::string* error) {
  if (!encoder_) return true;
  const int err = ope_encoder_drain(encoder_);
  ope_encoder_destroy(encoder_);
  encoder_ = nullptr;
  if (err != OPE_OK) {
    *error = "finishing '" + path_ + "': " + ope_strerror(err);
    return false;
  }
  return true;
}

}  // namespace earshot::device
