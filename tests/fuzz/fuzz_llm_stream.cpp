// Fuzzes what an LLM server streams back (SSE framing + OpenAI chat chunks): the bridge must never
// crash on a misbehaving server, and must never speak what is inside <think>…</think>.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/engines/openai_engines.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  earshot::host::ChatStreamParser parser(false);
  std::string spoken;
  auto on_text = [&](std::string_view t) {
    spoken.append(t);
    return true;
  };
  // Feed in uneven pieces, as a network would.
  size_t at = 0, piece = 1;
  while (at < bytes.size()) {
    const size_t n = std::min(piece, bytes.size() - at);
    parser.push(bytes.substr(at, n), on_text);
    at += n;
    piece = piece * 3 % 17 + 1;
  }
  parser.finish(on_text);
  if (spoken != parser.result().spoken) abort();
  if (spoken.find("<think>") != std::string::npos) abort();
  return 0;
}
