// webrtc-audio-processing through our wrapper: the node's own voice, played into the room
// (convolved with a measured room impulse response), is cancelled from the microphone, while the
// person's voice passes; noise suppression lowers kitchen noise.
#include "dsp/audio_processor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "dsp/webrtc_vad.h"
#include "tests/support/test_audio.h"

namespace earshot::dsp {
namespace {

// Scaffolding, one thread: kept out of ThreadSanitizer's instrumentation, under which this loop
// (0.7 G multiply-adds) cost about 23 s of CPU of the test's 75.
__attribute__((no_sanitize("thread"))) std::vector<float> convolve(const std::vector<float>& x,
                                                                   const std::vector<float>& h) {
  std::vector<float> y(x.size(), 0.0f);
  const size_t taps = std::min<size_t>(h.size(), 4000);  // the first 250 ms of the room
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == 0) continue;
    for (size_t k = 0; k < taps && i + k < y.size(); ++k)
      y[i + k] += x[i] * h[k];
  }
  return y;
}

double db(double ratio) {
  return 10 * std::log10(ratio);
}

TEST(AudioProcessor, CancelsThePlaybackEchoAndKeepsTheNearTalker) {
  test::Audio far = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));
  test::Audio near = test::read_audio(test::data_path("cmu-arctic/cmu_arctic_us_aew_a0001.wav"));
  test::Audio rir44 = test::read_audio(test::data_path("rir/rir_clap.wav"));
  test::Audio rir = test::sox_convert(rir44, 16000, 1, test::scratch_dir("aec_rir"));
  std::vector<float> h = rir.samples;
  double peak = 0;
  for (float v : h)
    peak = std::max(peak, double(std::fabs(v)));
  for (float& v : h)
    v = float(v / peak * 0.5);  // the echo is loud: half the played level
  std::vector<float> echo = convolve(far.samples, h);

  std::string err;
  AudioProcessorConfig cfg;
  cfg.echo_cancellation = true;
  auto apm = AudioProcessor::create(cfg, &err);
  ASSERT_TRUE(apm) << err;
  // Echo only for the first 8 s (convergence), then measure 8-11 s.
  std::vector<float> out(echo.size());
  for (size_t i = 0; i + 160 <= echo.size(); i += 160) {
    apm->analyze_playback(&far.samples[i]);
    std::copy(&echo[i], &echo[i] + 160, &out[i]);
    apm->process_capture(&out[i]);
  }
  std::vector<float> echo_tail(echo.begin() + 8 * 16000, echo.end());
  std::vector<float> out_tail(out.begin() + 8 * 16000, out.end());
  const double erle =
      db(std::pow(test::rms(echo_tail), 2) / std::pow(test::rms(out_tail) + 1e-9, 2));
  EXPECT_GT(erle, 10.0) << "echo return loss enhancement " << erle << " dB";

  // The near talker alone (no playback) passes nearly unchanged in level.
  auto apm2 = AudioProcessor::create(cfg, &err);
  std::vector<float> n = near.samples;
  std::vector<float> silence(160, 0.0f);
  for (size_t i = 0; i + 160 <= n.size(); i += 160) {
    apm2->analyze_playback(silence.data());
    apm2->process_capture(&n[i]);
  }
  EXPECT_GT(test::rms(n) / test::rms(near.samples), 0.5);
}

TEST(AudioProcessor, NoiseSuppressionLowersKitchenNoise) {
  test::Audio noise = test::read_audio(test::data_path("noise/doing_the_dishes.wav"));
  std::vector<float> x(noise.samples.begin(), noise.samples.begin() + 10 * 16000);
  std::string err;
  AudioProcessorConfig cfg;
  cfg.noise_suppression = true;
  cfg.noise_suppression_level = 3;
  auto apm = AudioProcessor::create(cfg, &err);
  ASSERT_TRUE(apm) << err;
  std::vector<float> y = x;
  for (size_t i = 0; i + 160 <= y.size(); i += 160)
    apm->process_capture(&y[i]);
  std::vector<float> xt(x.begin() + 3 * 16000, x.end()), yt(y.begin() + 3 * 16000, y.end());
  EXPECT_GT(db(std::pow(test::rms(xt), 2) / std::pow(test::rms(yt), 2)), 3.0);
}

TEST(WebRtcVad, FindsSpeechAndIgnoresDigitalSilence) {
  test::Audio jfk = test::read_audio(test::data_path("whisper.cpp/jfk.wav"));
  std::string err;
  auto vad = WebRtcVad::create(WebRtcVad::Likelihood::kModerate, &err);
  ASSERT_TRUE(vad) << err;
  int speech = 0, frames = 0;
  for (size_t i = 16000; i + 160 <= 3 * 16000; i += 160, ++frames)
    speech += vad->is_speech(&jfk.samples[i]);
  EXPECT_GT(speech, frames / 2);
  std::vector<float> zeros(160, 0.0f);
  int fired = 0;
  for (int i = 0; i < 100; ++i)
    fired += vad->is_speech(zeros.data());
  EXPECT_LT(fired, 5);
}

}  // namespace
}  // namespace earshot::dsp
