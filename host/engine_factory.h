// Builds the engines a BridgeConfig names. The only place that knows every engine class.
#pragma once

#include <memory>
#include <string>

#include "host/bridge_config.h"
#include "host/engines/engines.h"

namespace earshot::host {

struct Engines {
  std::unique_ptr<SttEngine> stt;
  std::unique_ptr<LlmEngine> llm;
  std::unique_ptr<TtsEngine> tts;
};

// False with a message naming the engine that could not start (e.g. a missing model).
bool make_engines(const BridgeConfig& config, Engines* engines, std::string* error);

// One engine each (earshot-bridge --check reports them one by one): nullptr and `*error` saying
// why, e.g. a missing model.
std::unique_ptr<SttEngine> make_stt(const EngineConfig& config, std::string* error);
std::unique_ptr<LlmEngine> make_llm(const EngineConfig& config, std::string* error);
std::unique_ptr<TtsEngine> make_tts(const EngineConfig& config, std::string* error);

// Whether the engine runs inside the bridge (pocketsphinx, echo, flite, espeak-ng) rather than
// calling a server.
bool is_embedded(const EngineConfig& config);

}  // namespace earshot::host
