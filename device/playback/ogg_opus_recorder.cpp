#include "device/playback/ogg_opus_recorder.h"

#include "device/audio/optional_libs.h"

namespace earshot::device {

std::unique_ptr<OggOpusRecorder> OggOpusRecorder::create(const std::string& path, int sample_rate,
                                                         std::string* error) {
  const OpusencApi* ope = opusenc_api(error);
  if (!ope) return nullptr;
  std::unique_ptr<OggOpusRecorder> r(new OggOpusRecorder);
  r->ope_ = ope;
  r->path_ = path;
  OggOpusComments* comments = ope->comments_create();
  ope->comments_add(comments, "ENCODER", "earshot-node");
  int err = OPE_OK;
  r->encoder_ = ope->encoder_create_file(path.c_str(), comments, sample_rate, 1, 0, &err);
  ope->comments_destroy(comments);
  if (!r->encoder_ || err != OPE_OK) {
    *error = "cannot record to '" + path + "': " + ope->strerror(err);
    return nullptr;
  }
  ope->encoder_ctl(r->encoder_, OPUS_SET_BITRATE(24000));
  ope->encoder_ctl(r->encoder_, OPUS_SET_APPLICATION(OPUS_APPLICATION_VOIP));
  return r;
}

OggOpusRecorder::~OggOpusRecorder() {
  std::string ignored;
  close(&ignored);
}

bool OggOpusRecorder::write(const float* pcm, size_t frames) {
  return encoder_ && ope_->encoder_write_float(encoder_, pcm, int(frames)) == OPE_OK;
}

bool OggOpusRecorder::close(std::string* error) {
  if (!encoder_) return true;
  const int err = ope_->encoder_drain(encoder_);
  ope_->encoder_destroy(encoder_);
  encoder_ = nullptr;
  if (err != OPE_OK) {
    *error = "finishing '" + path_ + "': " + ope_->strerror(err);
    return false;
  }
  return true;
}

}  // namespace earshot::device
