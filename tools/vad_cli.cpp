// earshot-vad: runs the node's VAD over any audio file and prints one line per 10 ms frame:
//   time_s held_score raw_score decision [webrtc_decision]
//          [band_snr_db harmonicity tonality low_high_db level_dbfs harm_mean snr_mean lh_mean
//           level_spread_db harm_rise level_drop_db pitch_steadiness high_snr_db]
// so the detector can be evaluated on any labelled set (and compared with the WebRTC VAD).
// held_score is what the node decides on (the raw score's 20 ms mean, held for 200 ms: it bridges
// the pauses between words, right for utterances); raw_score is the frame's own logistic score,
// before any smoothing (right for word-level labels, where pauses between words are non-speech).
#include <sndfile.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "dsp/resampler.h"
#include "dsp/vad/voice_activity_detector.h"
#include "dsp/webrtc_vad.h"

int main(int argc, char** argv) {
  using namespace earshot::dsp;
  CLI::App app{"earshot-vad: the node's voice activity detector over an audio file"};
  std::string path;
  float threshold = 0.5f;
  int webrtc = -1;
  bool features = false;
  app.add_option("file", path, "WAV/FLAC/... at any rate and channel count")->required();
  app.add_option("--threshold", threshold, "decision threshold on the held score");
  app.add_option("--webrtc", webrtc, "also print the WebRTC VAD's decision at likelihood 0-3");
  app.add_flag("--features", features, "also print the features behind the score");
  CLI11_PARSE(app, argc, argv);

  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) {
    fprintf(stderr, "earshot-vad: cannot open '%s': %s\n", path.c_str(), sf_strerror(nullptr));
    return 1;
  }
  std::vector<float> interleaved(size_t(info.frames) * size_t(info.channels));
  sf_readf_float(f, interleaved.data(), info.frames);
  sf_close(f);
  std::vector<float> mono(size_t(info.frames));
  for (size_t i = 0; i < mono.size(); ++i) {
    float sum = 0;
    for (int c = 0; c < info.channels; ++c)
      sum += interleaved[i * size_t(info.channels) + size_t(c)];
    mono[i] = sum / float(info.channels);
  }
  std::string error;
  auto resampler = Resampler::create(info.samplerate, 16000, mono.size(), &error);
  if (!resampler) {
    fprintf(stderr, "earshot-vad: %s\n", error.c_str());
    return 1;
  }
  std::vector<float> pcm(resampler->max_output_frames() * 2);
  size_t n = resampler->process(mono.data(), mono.size(), pcm.data(), pcm.size());
  n += resampler->flush(pcm.data() + n, pcm.size() - n);

  VadConfig config;
  config.threshold = threshold;
  VoiceActivityDetector vad(config);
  std::unique_ptr<WebRtcVad> reference;
  if (webrtc >= 0) {
    reference = WebRtcVad::create(WebRtcVad::Likelihood(std::clamp(webrtc, 0, 3)), &error);
    if (!reference) {
      fprintf(stderr, "earshot-vad: %s\n", error.c_str());
      return 1;
    }
  }
  for (size_t i = 0; i + 160 <= n; i += 160) {
    const float held = vad.process(&pcm[i]);
    printf("%.3f %.3f %.3f %d", double(i + 160) / 16000.0, double(held), double(vad.raw_score()),
           vad.is_speech() ? 1 : 0);
    if (reference) printf(" %d", reference->is_speech(&pcm[i]) ? 1 : 0);
    if (features) {
      const VadFeatures& ft = vad.features();
      printf(" %.1f %.2f %.2f %.1f %.1f %.2f %.1f %.1f", double(ft.band_snr_db),
             double(ft.harmonicity), double(ft.tonality), double(ft.low_high_db),
             double(ft.level_db), double(ft.harmonicity_mean), double(ft.band_snr_mean_db),
             double(ft.low_high_mean_db));
      printf(" %.1f %.2f %.1f %.2f %.1f", double(ft.level_spread_db), double(ft.harmonicity_rise),
             double(ft.level_drop_db), double(ft.pitch_steadiness), double(ft.high_snr_db));
    }
    printf("\n");
  }
  return 0;
}
