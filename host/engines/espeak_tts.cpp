// EspeakTts: espeak-ng in synchronous mode. espeak-ng is one global synthesizer: one sentence at a
// time. Its callback hands audio over as it is produced, so long sentences start playing early.
#include <espeak-ng/speak_lib.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "host/engines/embedded_engines.h"

namespace earshot::host {
namespace {

std::mutex g_espeak;
int g_rate = 0;

struct CallbackState {
  const std::function<bool(const float*, size_t, int)>* on_audio;
  const CancelToken* cancel;
  uint64_t samples = 0;
  bool stopped = false;
  std::vector<float> buf;
};

int on_synth(short* wav, int count, espeak_EVENT* events) {
  auto* s = static_cast<CallbackState*>(events ? events->user_data : nullptr);
  if (!s) return 0;
  if (s->cancel->cancelled()) {
    s->stopped = true;
    return 1;  // abort synthesis
  }
  if (wav && count > 0) {
    s->buf.resize(size_t(count));
    for (int i = 0; i < count; ++i)
      s->buf[size_t(i)] = float(wav[i]) / 32768.0f;
    s->samples += uint64_t(count);
    if (!(*s->on_audio)(s->buf.data(), size_t(count), g_rate)) {
      s->stopped = true;
      return 1;
    }
  }
  return 0;
}

class EspeakTts : public TtsEngine {
 public:
  explicit EspeakTts(std::string voice) : default_voice_(std::move(voice)) {}
  std::string name() const override { return "espeak-ng(" + default_voice_ + ")"; }
  TtsResult synthesize(const std::string& text, const std::string& voice,
                       const std::function<bool(const float*, size_t, int)>& on_audio,
                       const CancelToken& cancel) override {
    TtsResult r;
    std::lock_guard<std::mutex> lock(g_espeak);
    const std::string v = voice.empty() ? default_voice_ : voice;
    if (espeak_SetVoiceByName(v.c_str()) != EE_OK) {
      r.error = "espeak-ng has no voice '" + v + "'";
      return r;
    }
    CallbackState state{&on_audio, &cancel};
    espeak_SetSynthCallback(on_synth);
    const espeak_ERROR e = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0,
                                        espeakCHARS_UTF8, nullptr, &state);
    r.samples = state.samples;
    r.cancelled = state.stopped;
    if (e != EE_OK && !state.stopped) {
      r.error = "espeak-ng could not synthesize the sentence";
      return r;
    }
    r.ok = !r.cancelled;
    return r;
  }

 private:
  std::string default_voice_;
};

}  // namespace

std::unique_ptr<TtsEngine> make_espeak_tts(const EngineConfig& config, std::string* error) {
  std::lock_guard<std::mutex> lock(g_espeak);
  if (g_rate == 0) {
    g_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
    if (g_rate <= 0) {
      g_rate = 0;
      *error = "espeak-ng could not start (is espeak-ng-data installed?)";
      return nullptr;
    }
  }
  const std::string voice = config.voice.empty() ? "en" : config.voice;
  if (espeak_SetVoiceByName(voice.c_str()) != EE_OK) {
    *error = "espeak-ng has no voice '" + voice + "'";
    return nullptr;
  }
  return std::make_unique<EspeakTts>(voice);
}

}  // namespace earshot::host
