// The Model Context Protocol's messages, as the bridge's MCP client writes and reads them
// (JSON-RPC 2.0; modelcontextprotocol.io/specification, "basic/lifecycle", "server/tools",
// "basic/utilities/cancellation"). Pure: text in, text or values out, for any transport.
//
// What comes from a server is outside input: every reader here returns false with a reason for
// anything malformed, never throws, and bounds what it keeps (a tool list, a result's text).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::protocol::mcp {

// The revision the client asks for, and the ones it accepts back (a server answers with its own
// choice; the client speaks the common subset these all share: tools, list_changed, cancelled).
constexpr const char* kProtocolVersion = "2025-11-25";
bool is_supported_version(std::string_view version);

// --- what the client sends ---------------------------------------------------------------------

std::string initialize_request(int64_t id, const std::string& client_name,
                               const std::string& client_version);
std::string initialized_notification();
std::string tools_list_request(int64_t id, const std::string& cursor);  // "" = first page
// `arguments` is a JSON object's text (the model's arguments, checked by the tool runner); false
// if it is not one.
bool tools_call_request(int64_t id, const std::string& name, const std::string& arguments,
                        std::string* out);
std::string cancelled_notification(int64_t request_id, const std::string& reason);

// --- what a server sends -----------------------------------------------------------------------

struct Message {
  enum class Kind { kResponse, kNotification, kRequest };
  Kind kind = Kind::kNotification;
  // kResponse: the id of the client's request it answers (the client only issues integers; any
  // other id answers nothing of ours and makes the message invalid).
  int64_t id = 0;
  std::string request_id;  // kRequest: its id as JSON text, to answer with
  std::string method;      // kNotification, kRequest
  // kResponse: the result as JSON text, or the JSON-RPC error.
  bool is_error = false;
  int64_t error_code = 0;
  std::string error_message;
  std::string result;
};

// One line (stdio), one body (HTTP application/json) or one SSE event's data: a message or a
// JSON-RPC batch of them. Appends to `out`; false with `error` if it is not valid JSON-RPC.
bool parse_messages(std::string_view text, std::vector<Message>* out, std::string* error);

// The answer to a request from the server: `ping` gets an empty result; every other method (the
// client offers no sampling, roots or elicitation) gets "method not found".
std::string answer_request(const Message& request);

// An initialize result: the protocol version the server chose.
bool parse_initialize_result(const std::string& result, std::string* protocol_version,
                             std::string* error);

struct Tool {
  std::string name;
  std::string description;
  std::string input_schema;  // JSON Schema as JSON text
};
// A tools/list result: appends its tools to `tools` and sets `next_cursor` ("" on the last page).
bool parse_tools_list(const std::string& result, std::vector<Tool>* tools, std::string* next_cursor,
                      std::string* error);

struct CallResult {
  bool is_error = false;  // the tool failed (isError): still an answer for the model
  std::string text;       // its text content parts joined with "\n"
};
bool parse_call_result(const std::string& result, CallResult* out, std::string* error);

}  // namespace earshot::protocol::mcp
