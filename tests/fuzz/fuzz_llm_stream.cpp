// Fuzzes what an LLM server streams back (SSE framing + OpenAI chat chunks, with delta.tool_calls
// and reasoning): the bridge must never crash on a misbehaving server, must never speak what is
// inside <think>…</think>, must keep thinking out of the history unless told to keep it, and must
// hold no more tool calls, nor longer arguments, than its bounds — every call with an id.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "host/engines/openai_engines.h"

namespace {

void run(std::string_view bytes, bool keep_think) {
  earshot::host::ChatStreamParser parser(keep_think);
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
  const earshot::host::LlmResult& r = parser.result();
  if (spoken != r.spoken) abort();
  if (spoken.find("<think>") != std::string::npos) abort();
  if (!keep_think &&
      (r.history_content.find("<think>") != std::string::npos || !r.thinking.empty()))
    abort();
  if (r.tool_calls.size() > 32) abort();
  for (const earshot::host::ToolCall& c : r.tool_calls)
    if (c.id.empty() || c.arguments.size() > 256 * 1024) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  run(bytes, false);
  run(bytes, true);
  return 0;
}
