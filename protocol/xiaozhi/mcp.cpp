#include "protocol/xiaozhi/mcp.h"

#include <nlohmann/json.hpp>

namespace earshot::protocol::xiaozhi::mcp {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<int64_t> integer(const json& j) {
  if (j.is_number_integer() || j.is_number_unsigned()) return j.get<int64_t>();
  return std::nullopt;
}

std::string string_field(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string initialize_request(int64_t id) {
  return dump({{"jsonrpc", "2.0"},
               {"id", id},
               {"method", "initialize"},
               {"params",
                {{"protocolVersion", "2024-11-05"},
                 {"capabilities", json::object()},
                 {"clientInfo", {{"name", "earshot-bridge"}, {"version", "1"}}}}}});
}

std::string tools_list_request(int64_t id, const std::string& cursor) {
  return dump(
      {{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/list"}, {"params", {{"cursor", cursor}}}});
}

std::string tools_call_request(int64_t id, const std::string& name,
                               const std::string& arguments_json) {
  json arguments =
      arguments_json.empty() ? json::object() : json::parse(arguments_json, nullptr, false);
  if (!arguments.is_object()) arguments = json::object();
  return dump({{"jsonrpc", "2.0"},
               {"id", id},
               {"method", "tools/call"},
               {"params", {{"name", name}, {"arguments", arguments}}}});
}

std::optional<Incoming> parse_incoming(std::string_view payload, std::string* error) {
  const json j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "the MCP payload is not a JSON object";
    return std::nullopt;
  }
  if (string_field(j, "jsonrpc") != "2.0") {
    *error = "the MCP payload is not JSON-RPC 2.0 (\"jsonrpc\": \"2.0\")";
    return std::nullopt;
  }
  Incoming in;
  if (const auto id = j.find("id"); id != j.end()) in.id = integer(*id);
  in.method = string_field(j, "method");
  const auto result = j.find("result");
  const auto err = j.find("error");
  if (in.method.empty() && (result != j.end() || err != j.end())) {
    in.is_response = true;
    if (err != j.end()) {
      in.is_error = true;
      if (err->is_object()) {
        in.error_message = string_field(*err, "message");
        if (const auto code = err->find("code"); code != err->end()) in.error_code = integer(*code);
      }
      if (in.error_message.empty()) in.error_message = "the device reported an error";
    } else {
      in.result = dump(*result);
    }
  } else if (in.method.empty()) {
    *error = "the MCP payload is neither a response nor a request";
    return std::nullopt;
  }
  return in;
}

bool parse_tools_page(std::string_view result_json, ToolsPage* page, std::string* error) {
  *page = ToolsPage{};
  const json j = json::parse(result_json, nullptr, false);
  const auto tools = j.is_object() ? j.find("tools") : j.end();
  if (!j.is_object() || tools == j.end() || !tools->is_array()) {
    *error = "the tools/list result has no \"tools\" array";
    return false;
  }
  for (const json& t : *tools) {
    if (!t.is_object() || page->tools.size() >= kMaxTools) continue;
    Tool tool;
    tool.name = string_field(t, "name");
    if (tool.name.empty() || tool.name.size() > kMaxToolNameBytes) continue;
    tool.description = string_field(t, "description").substr(0, kMaxToolDescriptionBytes);
    const auto schema = t.find("inputSchema");
    tool.input_schema = schema != t.end() && schema->is_object() ? dump(*schema) : "{}";
    if (tool.input_schema.size() > kMaxSchemaBytes) continue;
    page->tools.push_back(std::move(tool));
  }
  page->next_cursor = string_field(j, "nextCursor").substr(0, kMaxToolNameBytes);
  return true;
}

CallResult parse_call_result(std::string_view result_json) {
  CallResult r;
  const json j = json::parse(result_json, nullptr, false);
  if (!j.is_object()) {
    r.text = std::string(result_json);
    return r;
  }
  if (const auto e = j.find("isError"); e != j.end() && e->is_boolean())
    r.is_error = e->get<bool>();
  if (const auto c = j.find("content"); c != j.end() && c->is_array()) {
    for (const json& part : *c) {
      if (!part.is_object() || string_field(part, "type") != "text") continue;
      if (!r.text.empty()) r.text += "\n";
      r.text += string_field(part, "text");
    }
  }
  return r;
}

}  // namespace earshot::protocol::xiaozhi::mcp
