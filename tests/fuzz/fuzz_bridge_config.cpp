// Fuzzes the bridge's TOML configuration parser: errors, never a crash or a hang.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "host/bridge_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  earshot::host::BridgeConfig config;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::string error = earshot::host::parse_bridge_config(text, "fuzz.toml", &config);
  if (error.empty()) (void)earshot::host::validate(config);
  return 0;
}
