// Fuzzes what an MCP server sends the bridge's client (protocol/mcp/mcp_messages.h): a JSON-RPC
// message or batch, and inside a response the results the client reads (initialize, tools/list,
// tools/call). Checks beyond "no crash": a refusal says why; a server's request gets an answer
// that is itself a JSON-RPC response to the same id; a tool list is bounded and every tool named.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include "protocol/mcp/mcp_messages.h"

using namespace earshot::protocol::mcp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<Message> messages;
  std::string error;
  if (!parse_messages(text, &messages, &error)) {
    if (error.empty()) abort();
    return 0;
  }
  for (const Message& m : messages) {
    if (m.kind == Message::Kind::kRequest) {
      // The answer is a JSON-RPC response to the same id, with a result or an error.
      const nlohmann::json answer = nlohmann::json::parse(answer_request(m), nullptr, false);
      if (!answer.is_object() || answer.value("jsonrpc", "") != "2.0" || !answer.contains("id") ||
          answer["id"].dump() != m.request_id ||
          answer.contains("result") == answer.contains("error"))
        abort();
      continue;
    }
    if (m.kind != Message::Kind::kResponse || m.is_error) continue;
    std::string version;
    if (!parse_initialize_result(m.result, &version, &error) && error.empty()) abort();
    std::vector<Tool> tools;
    std::string cursor;
    if (parse_tools_list(m.result, &tools, &cursor, &error)) {
      if (tools.size() > 1000) abort();
      for (const Tool& t : tools)
        if (t.name.empty() || t.input_schema.empty()) abort();
    } else if (error.empty()) {
      abort();
    }
    CallResult result;
    if (parse_call_result(m.result, &result, &error)) {
      if (result.text.size() > 256 * 1024 + 16) abort();
    } else if (error.empty()) {
      abort();
    }
  }
  return 0;
}
