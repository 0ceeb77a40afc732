// The JSON-RPC 2.0 inside the xiaozhi-esp32 firmware's MCP channel (messages of type "mcp"). The
// device is the MCP server: it offers tools (set the volume, the screen's brightness, ...); the
// bridge is the client and asks. Source: the firmware's docs/mcp-protocol.md and
// main/mcp_server.cc (McpServer::ParseMessage, GetToolsList):
//
//   initialize  {"capabilities": {...}}          → {"protocolVersion", "capabilities",
//   "serverInfo"} tools/list  {"cursor": "" | next}            → {"tools": [{name, description,
//   inputSchema}],
//                                                    "nextCursor": "<name of the next tool>"}?
//   tools/call  {"name", "arguments": {...}}     → {"content": [{"type":"text","text"}], "isError"}
//   errors: {"error": {"message", "code"?}}. The firmware needs a numeric "id"; a page of tools is
//   at most ~8000 bytes, and without nextCursor the list is complete.
//
// Pure functions on JSON text; nothing throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::protocol::xiaozhi::mcp {

inline constexpr size_t kMaxTools = 256;  // per device, over all pages
inline constexpr size_t kMaxToolNameBytes = 128;
inline constexpr size_t kMaxToolDescriptionBytes = 4096;
inline constexpr size_t kMaxSchemaBytes = 16384;

std::string initialize_request(int64_t id);
std::string tools_list_request(int64_t id, const std::string& cursor);
// `arguments_json`: a JSON object as text ("" for none). An argument that is not an object is
// sent as {}.
std::string tools_call_request(int64_t id, const std::string& name,
                               const std::string& arguments_json);

// What came from the device: a response to one of our requests, or something else (a
// notification or a request of its own, which the bridge does not answer).
struct Incoming {
  std::optional<int64_t> id;  // a response's id
  bool is_response = false;
  bool is_error = false;
  std::string result;  // the result as JSON text (responses)
  std::string error_message;
  std::optional<int64_t> error_code;
  std::string method;  // notifications / requests
};
// nullopt with `*error` when it is not a JSON-RPC 2.0 object.
std::optional<Incoming> parse_incoming(std::string_view payload, std::string* error);

struct Tool {
  std::string name;
  std::string description;
  std::string input_schema;  // JSON text of the object, "{}" when absent
};
struct ToolsPage {
  std::vector<Tool> tools;
  std::string next_cursor;  // empty: the last page
};
// Reads a tools/list result. Tools with no or an over-long name are skipped; false with `*error`
// when the result is not a tools list.
bool parse_tools_page(std::string_view result_json, ToolsPage* page, std::string* error);

// A tools/call result's text: its content's text parts joined by newlines, and whether the
// device flagged it an error.
struct CallResult {
  std::string text;
  bool is_error = false;
};
CallResult parse_call_result(std::string_view result_json);

}  // namespace earshot::protocol::xiaozhi::mcp
