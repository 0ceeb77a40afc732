// The bridge's configuration (TOML, default /etc/earshot/bridge.toml). Every key is documented in
// docs/configuration.md; unknown keys are errors so a typo never silently does nothing.
#pragma once

#include <map>
#include <string>

#include "host/server.h"
#include "host/services.h"
#include "host/wyoming/wyoming_config.h"

namespace earshot::host {

struct EngineConfig {
  std::string
      engine;  // stt: pocketsphinx | openai;  llm: echo | openai;  tts: flite | espeak-ng | openai
  std::string base_url;  // openai engines, e.g. http://127.0.0.1:8000/v1
  std::string api_key;
  std::string model;
  std::string voice;            // tts voice / flite voice / espeak-ng language
  std::string language;         // stt language hint
  std::string model_dir;        // pocketsphinx model directory
  std::string response_format;  // tts openai: "pcm" | "wav"
  int sample_rate = 24000;      // tts openai pcm rate
  double temperature = 0.7;
  int max_tokens = 512;
  bool keep_think_in_history = false;
  int connect_timeout_ms = 2000;
  int timeout_ms = 30000;              // whole request (stt, tts)
  int first_token_timeout_ms = 15000;  // llm
  int idle_timeout_ms = 15000;         // llm: longest gap between tokens
  // stt pocketsphinx: utterances decoded at once, bridge-wide. Each holds a whole decoder (~65 MB
  // of model); past this a new one waits up to 10 s for one to end, then fails as overloaded.
  int max_streams = 8;
};

struct BridgeConfig {
  ServerConfig server;
  TurnConfig turn;
  ReplySettings reply;
  ToolSettings tools;
  EngineConfig stt{"pocketsphinx"};
  EngineConfig llm{"echo"};
  EngineConfig tts{"flite"};
  std::string store_path = "earshot.db";  // "" = no store
  std::string store_synchronous = "normal";
  std::string log_level = "info";
  int drain_timeout_ms = 5000;
  WyomingConfig wyoming;  // [wyoming], [[wyoming.satellites]]
};

// Parses TOML text over the defaults in `config`. Returns "" or an error naming file:line and key.
std::string parse_bridge_config(const std::string& text, const std::string& origin,
                                BridgeConfig* config);
std::string load_bridge_config(const std::string& path, BridgeConfig* config);
std::string validate(const BridgeConfig& config);

}  // namespace earshot::host
