// Fuzzes the OpenAI Realtime event parser (protocol/realtime/events.h) in both directions. Checks
// beyond "no crash": a refusal says why (code and message); an event that parses serializes to
// JSON that parses back to the same JSON, and names its own type.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "protocol/realtime/events.h"

using namespace earshot::protocol::realtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ClientParse c = parse_client_event(text);
  if (c.ok()) {
    const std::string json = to_json(*c.event);
    ClientParse again = parse_client_event(json);
    if (!again.ok() || to_json(*again.event) != json) abort();
    if (json.find(std::string("\"type\":\"") + type_name(c.event->body) + "\"") ==
        std::string::npos)
      abort();
  } else if (c.error.code.empty() || c.error.message.empty()) {
    abort();
  }
  ServerParse s = parse_server_event(text);
  if (s.ok()) {
    const std::string json = to_json(*s.event);
    ServerParse again = parse_server_event(json);
    if (!again.ok() || to_json(*again.event) != json) abort();
  } else if (s.error.code.empty() || s.error.message.empty()) {
    abort();
  }
  return 0;
}
