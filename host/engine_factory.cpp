#include "host/engine_factory.h"

#include "host/engines/embedded_engines.h"
#include "host/engines/openai_engines.h"

namespace earshot::host {

bool make_engines(const BridgeConfig& config, Engines* engines, std::string* error) {
  std::string why;
  if (config.stt.engine == "pocketsphinx") {
    engines->stt = make_pocketsphinx_stt(config.stt, &why);
  } else if (config.stt.engine == "openai") {
    engines->stt = make_openai_stt(config.stt);
  } else {
    why = "unknown engine '" + config.stt.engine + "' (pocketsphinx, openai)";
  }
  if (!engines->stt) return *error = "stt: " + why, false;

  if (config.llm.engine == "echo") {
    engines->llm = make_echo_llm();
  } else if (config.llm.engine == "openai") {
    engines->llm = make_openai_llm(config.llm);
  } else {
    return *error = "llm: unknown engine '" + config.llm.engine + "' (echo, openai)", false;
  }

  if (config.tts.engine == "flite") {
    engines->tts = make_flite_tts(config.tts, &why);
  } else if (config.tts.engine == "espeak-ng") {
    engines->tts = make_espeak_tts(config.tts, &why);
  } else if (config.tts.engine == "openai") {
    engines->tts = make_openai_tts(config.tts);
  } else {
    why = "unknown engine '" + config.tts.engine + "' (flite, espeak-ng, openai)";
  }
  if (!engines->tts) return *error = "tts: " + why, false;
  return true;
}

}  // namespace earshot::host
