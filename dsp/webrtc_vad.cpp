#include "dsp/webrtc_vad.h"

// The library's headers trip -Wshadow; they are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#pragma GCC diagnostic pop

#include "dsp/audio_format.h"

namespace earshot::dsp {

struct WebRtcVad::Impl {
  std::unique_ptr<webrtc::AudioProcessing> apm;
  float out[kVadFrameSamples];
};

WebRtcVad::WebRtcVad() : impl_(std::make_unique<Impl>()) {}
WebRtcVad::~WebRtcVad() = default;

std::unique_ptr<WebRtcVad> WebRtcVad::create(Likelihood likelihood, std::string* error) {
  std::unique_ptr<WebRtcVad> v(new WebRtcVad);
  v->impl_->apm.reset(webrtc::AudioProcessing::Create());
  webrtc::VoiceDetection* vd = v->impl_->apm ? v->impl_->apm->voice_detection() : nullptr;
  if (!vd || vd->Enable(true) != 0 ||
      vd->set_likelihood(webrtc::VoiceDetection::Likelihood(int(likelihood))) != 0 ||
      vd->set_frame_size_ms(10) != 0) {
    *error = "webrtc voice detection could not be set up";
    return nullptr;
  }
  return v;
}

bool WebRtcVad::is_speech(const float* frame) {
  const float* in[] = {frame};
  float* out[] = {impl_->out};
  impl_->apm->ProcessStream(in, kVadFrameSamples, kSampleRate, webrtc::AudioProcessing::kMono,
                            kSampleRate, webrtc::AudioProcessing::kMono, out);
  return impl_->apm->voice_detection()->stream_has_voice();
}

}  // namespace earshot::dsp
