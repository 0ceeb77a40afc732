#include "dsp/audio_processor.h"

// The library's headers trip -Wshadow; they are not ours to fix.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#pragma GCC diagnostic pop

#include <algorithm>

#include "dsp/audio_format.h"

namespace earshot::dsp {

struct AudioProcessor::Impl {
  std::unique_ptr<webrtc::AudioProcessing> apm;
  float out[kVadFrameSamples];
  int delay_ms = 40;
};

AudioProcessor::AudioProcessor() : impl_(std::make_unique<Impl>()) {}
AudioProcessor::~AudioProcessor() = default;

std::unique_ptr<AudioProcessor> AudioProcessor::create(const AudioProcessorConfig& c,
                                                       std::string* error) {
  std::unique_ptr<AudioProcessor> p(new AudioProcessor);
  webrtc::Config config;
  config.Set<webrtc::ExtendedFilter>(new webrtc::ExtendedFilter(true));
  config.Set<webrtc::DelayAgnostic>(new webrtc::DelayAgnostic(true));
  p->impl_->apm.reset(webrtc::AudioProcessing::Create(config));
  if (!p->impl_->apm) {
    *error = "webrtc-audio-processing could not be created";
    return nullptr;
  }
  webrtc::AudioProcessing& apm = *p->impl_->apm;
  bool ok = apm.high_pass_filter()->Enable(true) == 0;
  if (c.echo_cancellation) {
    ok = ok && apm.echo_cancellation()->Enable(true) == 0;
    ok = ok && apm.echo_cancellation()->set_suppression_level(
                   webrtc::EchoCancellation::kHighSuppression) == 0;
    ok = ok && apm.echo_cancellation()->enable_drift_compensation(false) == 0;
  }
  if (c.noise_suppression) {
    ok = ok && apm.noise_suppression()->Enable(true) == 0;
    ok = ok && apm.noise_suppression()->set_level(webrtc::NoiseSuppression::Level(
                   std::clamp(c.noise_suppression_level, 0, 3))) == 0;
  }
  if (c.gain_control) {
    ok = ok && apm.gain_control()->set_mode(webrtc::GainControl::kAdaptiveDigital) == 0;
    ok = ok && apm.gain_control()->Enable(true) == 0;
  }
  if (!ok) {
    *error = "webrtc-audio-processing rejected the configuration";
    return nullptr;
  }
  p->impl_->delay_ms = c.stream_delay_ms;
  return p;
}

void AudioProcessor::analyze_playback(const float* frame) {
  const float* channels[] = {frame};
  impl_->apm->AnalyzeReverseStream(channels, kVadFrameSamples, kSampleRate,
                                   webrtc::AudioProcessing::kMono);
}

void AudioProcessor::process_capture(float* frame) {
  const float* in[] = {frame};
  float* out[] = {impl_->out};
  impl_->apm->set_stream_delay_ms(impl_->delay_ms);
  if (impl_->apm->ProcessStream(in, kVadFrameSamples, kSampleRate, webrtc::AudioProcessing::kMono,
                                kSampleRate, webrtc::AudioProcessing::kMono, out) != 0)
    return;  // leave the frame as it was
  std::copy(impl_->out, impl_->out + kVadFrameSamples, frame);
}

}  // namespace earshot::dsp
