// Engines that run inside the bridge with nothing else installed (all from Debian):
//   PocketsphinxStt  pocketsphinx with Debian's en-us model; decodes incrementally as audio is fed,
//                    so the final transcript is ready moments after the turn ends.
//   EchoLlm          answers with what it heard ("You said: ..."), streamed word by word: bring-up,
//                    and the demo on a machine with no LLM.
//   FliteTts         flite (CMU), English voices kal/slt/awb/rms, 16 kHz (8 kHz for kal).
//   EspeakTts        espeak-ng, about 100 languages (Kannada: voice "kn"), 22.05 kHz.
#pragma once

#include <memory>
#include <string>

#include "host/bridge_config.h"
#include "host/engines/engines.h"

namespace earshot::host {

// nullptr and `*error` if the model cannot be loaded.
std::unique_ptr<SttEngine> make_pocketsphinx_stt(const EngineConfig& config, std::string* error);
std::unique_ptr<LlmEngine> make_echo_llm();
std::unique_ptr<TtsEngine> make_flite_tts(const EngineConfig& config, std::string* error);
std::unique_ptr<TtsEngine> make_espeak_tts(const EngineConfig& config, std::string* error);

}  // namespace earshot::host
