#include "host/engine_factory.h"

#include "host/engines/embedded_engines.h"
#include "host/engines/openai_engines.h"

namespace earshot::host {

std::unique_ptr<SttEngine> make_stt(const EngineConfig& config, std::string* error) {
  if (config.engine == "pocketsphinx") return make_pocketsphinx_stt(config, error);
  if (config.engine == "openai") return make_openai_stt(config);
  *error = "unknown engine '" + config.engine + "' (pocketsphinx, openai)";
  return nullptr;
}

std::unique_ptr<LlmEngine> make_llm(const EngineConfig& config, std::string* error) {
  if (config.engine == "echo") return make_echo_llm();
  if (config.engine == "openai") return make_openai_llm(config);
  *error = "unknown engine '" + config.engine + "' (echo, openai)";
  return nullptr;
}

std::unique_ptr<TtsEngine> make_tts(const EngineConfig& config, std::string* error) {
  if (config.engine == "flite") return make_flite_tts(config, error);
  if (config.engine == "espeak-ng") return make_espeak_tts(config, error);
  if (config.engine == "openai") return make_openai_tts(config);
  *error = "unknown engine '" + config.engine + "' (flite, espeak-ng, openai)";
  return nullptr;
}

bool is_embedded(const EngineConfig& config) {
  return config.engine != "openai";
}

bool make_engines(const BridgeConfig& config, Engines* engines, std::string* error) {
  std::string why;
  if (!(engines->stt = make_stt(config.stt, &why))) return *error = "stt: " + why, false;
  if (!(engines->llm = make_llm(config.llm, &why))) return *error = "llm: " + why, false;
  if (!(engines->tts = make_tts(config.tts, &why))) return *error = "tts: " + why, false;
  return true;
}

}  // namespace earshot::host
