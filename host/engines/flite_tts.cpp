// FliteTts: CMU flite. Synthesis of one sentence is a single call (flite does not stream), so the
// audio is handed on in 20 ms pieces, checking for cancellation between them. flite's voices are
// shared state: one synthesis at a time.
extern "C" {
#include <flite/flite.h>
cst_voice* register_cmu_us_slt(const char* voxdir);
cst_voice* register_cmu_us_kal(const char* voxdir);
cst_voice* register_cmu_us_awb(const char* voxdir);
cst_voice* register_cmu_us_rms(const char* voxdir);
}

#include <mutex>

#include "host/engines/embedded_engines.h"

namespace earshot::host {
namespace {

std::mutex g_flite;

cst_voice* voice_named(const std::string& name) {
  static cst_voice* slt = nullptr;
  static cst_voice* kal = nullptr;
  static cst_voice* awb = nullptr;
  static cst_voice* rms = nullptr;
  static bool initialized = false;
  if (!initialized) {
    flite_init();
    initialized = true;
  }
  if (name == "kal") return kal ? kal : (kal = register_cmu_us_kal(nullptr));
  if (name == "awb") return awb ? awb : (awb = register_cmu_us_awb(nullptr));
  if (name == "rms") return rms ? rms : (rms = register_cmu_us_rms(nullptr));
  if (name.empty() || name == "slt") return slt ? slt : (slt = register_cmu_us_slt(nullptr));
  return nullptr;
}

class FliteTts : public TtsEngine {
 public:
  explicit FliteTts(std::string voice) : default_voice_(std::move(voice)) {}
  std::string name() const override { return "flite(" + default_voice_ + ")"; }
  TtsResult synthesize(const std::string& text, const std::string& voice,
                       const std::function<bool(const float*, size_t, int)>& on_audio,
                       const CancelToken& cancel) override {
    TtsResult r;
    cst_wave* wave = nullptr;
    {
      std::lock_guard<std::mutex> lock(g_flite);
      cst_voice* v = voice_named(voice.empty() ? default_voice_ : voice);
      if (!v) {
        r.error = "flite has no voice '" + voice + "' (kal, slt, awb, rms)";
        return r;
      }
      wave = flite_text_to_wave(text.c_str(), v);
    }
    if (!wave) {
      r.error = "flite could not synthesize the sentence";
      return r;
    }
    const int rate = cst_wave_sample_rate(wave);
    const int n = cst_wave_num_samples(wave);
    const short* samples = cst_wave_samples(wave);
    const int chunk = rate / 50;
    std::vector<float> buf(size_t(chunk > 0 ? chunk : 320));
    for (int at = 0; at < n; at += chunk) {
      if (cancel.cancelled()) {
        r.cancelled = true;
        break;
      }
      const int m = std::min(chunk, n - at);
      for (int i = 0; i < m; ++i)
        buf[size_t(i)] = float(samples[at + i]) / 32768.0f;
      r.samples += uint64_t(m);
      if (!on_audio(buf.data(), size_t(m), rate)) {
        r.cancelled = true;
        break;
      }
    }
    delete_wave(wave);
    r.ok = !r.cancelled;
    return r;
  }

 private:
  std::string default_voice_;
};

}  // namespace

std::unique_ptr<TtsEngine> make_flite_tts(const EngineConfig& config, std::string* error) {
  {
    std::lock_guard<std::mutex> lock(g_flite);
    if (!voice_named(config.voice)) {
      *error = "flite has no voice '" + config.voice + "' (kal, slt, awb, rms)";
      return nullptr;
    }
  }
  return std::make_unique<FliteTts>(config.voice.empty() ? "slt" : config.voice);
}

}  // namespace earshot::host
