// Fuzzes the xiaozhi-esp32 JSON messages (protocol/xiaozhi/messages.h) in both directions, and
// the JSON-RPC of its MCP channel (mcp.h) on the same bytes. Checks beyond "no crash": a refusal
// says why (code and message); a message that parses serializes to JSON that parses back to the
// same JSON; an MCP response's tools page holds named tools only, within the limits.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/xiaozhi/mcp.h"
#include "protocol/xiaozhi/messages.h"

using namespace earshot::protocol::xiaozhi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ClientParse c = parse_client_message(text);
  if (c.ok()) {
    const std::string json = to_json(*c.message);
    ClientParse again = parse_client_message(json);
    if (!again.ok() || to_json(*again.message) != json) abort();
  } else if (c.error.code.empty() || c.error.message.empty()) {
    abort();
  }
  ServerParse s = parse_server_message(text);
  if (s.ok()) {
    const std::string json = to_json(*s.message);
    ServerParse again = parse_server_message(json);
    if (!again.ok() || to_json(*again.message) != json) abort();
  } else if (s.error.code.empty() || s.error.message.empty()) {
    abort();
  }
  std::string error;
  if (auto in = mcp::parse_incoming(text, &error)) {
    if (in->is_response && !in->is_error) {
      mcp::ToolsPage page;
      if (mcp::parse_tools_page(in->result, &page, &error)) {
        if (page.tools.size() > mcp::kMaxTools) abort();
        for (const mcp::Tool& t : page.tools)
          if (t.name.empty() || t.name.size() > mcp::kMaxToolNameBytes) abort();
      }
      mcp::parse_call_result(in->result);
    }
  } else if (error.empty()) {
    abort();
  }
  return 0;
}
