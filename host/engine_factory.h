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

}  // namespace earshot::host
