// Fuzzes the node's TOML configuration parser: a config file is outside input (hand-edited, or
// written by a provisioning tool). It must report errors, never crash or hang.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "device/node_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  earshot::device::NodeConfig config;
  std::string text(reinterpret_cast<const char*>(data), size);
  earshot::device::ConfigResult result =
      earshot::device::parse_config_toml(text, "fuzz.toml", &config);
  if (!result.ok && result.error.empty()) abort();  // a refusal must say why
  if (result.ok) (void)earshot::device::validate(config);
  return 0;
}
