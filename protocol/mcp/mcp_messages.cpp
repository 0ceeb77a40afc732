#include "protocol/mcp/mcp_messages.h"

#include <nlohmann/json.hpp>

namespace earshot::protocol::mcp {
namespace {

using nlohmann::json;

constexpr size_t kMaxTools = 1000;             // per server, over all pages
constexpr size_t kMaxResultText = 256 * 1024;  // what goes back to the model from one call
constexpr size_t kMaxBatch = 1000;             // messages in one JSON-RPC batch

std::string request(int64_t id, const char* method, json params) {
  json m = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) m["params"] = std::move(params);
  return m.dump(-1, ' ', false, json::error_handler_t::replace);
}

// One JSON-RPC object into a Message; false with `error` if it is none.
bool read_one(const json& j, Message* m, std::string* error) {
  if (!j.is_object()) return *error = "a JSON-RPC message must be an object", false;
  auto version = j.find("jsonrpc");
  if (version == j.end() || *version != "2.0") return *error = "not JSON-RPC 2.0", false;
  auto method = j.find("method");
  auto id = j.find("id");
  if (method != j.end()) {
    if (!method->is_string()) return *error = "method is not a string", false;
    m->method = method->get<std::string>();
    if (id == j.end()) {
      m->kind = Message::Kind::kNotification;
      return true;
    }
    if (!id->is_string() && !id->is_number_integer())
      return *error = "a request id must be a string or an integer", false;
    m->kind = Message::Kind::kRequest;
    m->request_id = id->dump();
    return true;
  }
  if (id == j.end()) return *error = "neither a request, a notification nor a response", false;
  if (!id->is_number_integer()) return *error = "a response to no request of ours", false;
  m->kind = Message::Kind::kResponse;
  m->id = id->get<int64_t>();
  auto result = j.find("result");
  auto err = j.find("error");
  if (result != j.end() && err == j.end()) {
    m->result = result->dump(-1, ' ', false, json::error_handler_t::replace);
    return true;
  }
  if (err != j.end() && result == j.end() && err->is_object()) {
    m->is_error = true;
    auto code = err->find("code");
    if (code != err->end() && code->is_number_integer()) m->error_code = code->get<int64_t>();
    auto message = err->find("message");
    m->error_message = message != err->end() && message->is_string()
                           ? message->get<std::string>().substr(0, 1000)
                           : "(no message)";
    return true;
  }
  return *error = "a response needs exactly one of result and error (an object)", false;
}

}  // namespace

bool is_supported_version(std::string_view v) {
  return v == "2024-11-05" || v == "2025-03-26" || v == "2025-06-18" || v == "2025-11-25";
}

std::string initialize_request(int64_t id, const std::string& client_name,
                               const std::string& client_version) {
  // The client offers no capabilities of its own (no roots, sampling or elicitation).
  return request(id, "initialize",
                 {{"protocolVersion", kProtocolVersion},
                  {"capabilities", json::object()},
                  {"clientInfo", {{"name", client_name}, {"version", client_version}}}});
}

std::string initialized_notification() {
  return R"({"jsonrpc":"2.0","method":"notifications/initialized"})";
}

std::string tools_list_request(int64_t id, const std::string& cursor) {
  return request(id, "tools/list", cursor.empty() ? json(nullptr) : json{{"cursor", cursor}});
}

bool tools_call_request(int64_t id, const std::string& name, const std::string& arguments,
                        std::string* out) {
  json args = json::parse(arguments.empty() ? "{}" : arguments, nullptr, false);
  if (!args.is_object()) return false;
  *out = request(id, "tools/call", {{"name", name}, {"arguments", std::move(args)}});
  return true;
}

std::string cancelled_notification(int64_t request_id, const std::string& reason) {
  json m = {{"jsonrpc", "2.0"},
            {"method", "notifications/cancelled"},
            {"params", {{"requestId", request_id}, {"reason", reason}}}};
  return m.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool parse_messages(std::string_view text, std::vector<Message>* out, std::string* error) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return *error = "not JSON", false;
  if (j.is_array()) {
    if (j.empty() || j.size() > kMaxBatch) return *error = "an empty or oversized batch", false;
    for (const json& item : j) {
      Message m;
      if (!read_one(item, &m, error)) return false;
      out->push_back(std::move(m));
    }
    return true;
  }
  Message m;
  if (!read_one(j, &m, error)) return false;
  out->push_back(std::move(m));
  return true;
}

std::string answer_request(const Message& request) {
  if (request.method == "ping")
    return R"({"jsonrpc":"2.0","id":)" + request.request_id + R"(,"result":{}})";
  json m = {{"jsonrpc", "2.0"},
            {"id", json::parse(request.request_id, nullptr, false)},
            {"error", {{"code", -32601}, {"message", "Method not found"}}}};
  return m.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool parse_initialize_result(const std::string& result, std::string* protocol_version,
                             std::string* error) {
  json j = json::parse(result, nullptr, false);
  if (!j.is_object()) return *error = "an initialize result must be an object", false;
  auto version = j.find("protocolVersion");
  if (version == j.end() || !version->is_string())
    return *error = "the initialize result has no protocolVersion", false;
  *protocol_version = version->get<std::string>();
  return true;
}

bool parse_tools_list(const std::string& result, std::vector<Tool>* tools, std::string* next_cursor,
                      std::string* error) {
  json j = json::parse(result, nullptr, false);
  if (!j.is_object()) return *error = "a tools/list result must be an object", false;
  auto list = j.find("tools");
  if (list == j.end() || !list->is_array()) return *error = "tools/list without tools", false;
  for (const json& t : *list) {
    if (tools->size() >= kMaxTools) return *error = "more than 1000 tools", false;
    if (!t.is_object()) return *error = "a tool must be an object", false;
    auto name = t.find("name");
    if (name == t.end() || !name->is_string() || name->get<std::string>().empty())
      return *error = "a tool without a name", false;
    Tool tool;
    tool.name = name->get<std::string>();
    auto description = t.find("description");
    if (description != t.end() && description->is_string())
      tool.description = description->get<std::string>();
    auto schema = t.find("inputSchema");
    if (schema == t.end() || !schema->is_object())
      return *error = "tool '" + tool.name + "' has no inputSchema object", false;
    tool.input_schema = schema->dump(-1, ' ', false, json::error_handler_t::replace);
    tools->push_back(std::move(tool));
  }
  next_cursor->clear();
  auto cursor = j.find("nextCursor");
  if (cursor != j.end() && !cursor->is_null()) {
    if (!cursor->is_string()) return *error = "nextCursor is not a string", false;
    *next_cursor = cursor->get<std::string>();
  }
  return true;
}

bool parse_call_result(const std::string& result, CallResult* out, std::string* error) {
  json j = json::parse(result, nullptr, false);
  if (!j.is_object()) return *error = "a tools/call result must be an object", false;
  auto is_error = j.find("isError");
  out->is_error = is_error != j.end() && is_error->is_boolean() && is_error->get<bool>();
  out->text.clear();
  auto add = [&](const std::string& part) {
    if (!out->text.empty()) out->text += "\n";
    out->text += part;
  };
  auto content = j.find("content");
  if (content != j.end() && content->is_array()) {
    for (const json& part : *content) {
      if (!part.is_object()) continue;
      auto type = part.find("type");
      if (type == part.end() || !type->is_string()) continue;
      if (*type == "text") {
        auto text = part.find("text");
        if (text != part.end() && text->is_string()) add(text->get<std::string>());
      } else if (*type == "resource") {  // an embedded text resource is text too
        auto resource = part.find("resource");
        if (resource != part.end() && resource->is_object()) {
          auto text = resource->find("text");
          if (text != resource->end() && text->is_string()) add(text->get<std::string>());
        }
      } else {  // image, audio, resource_link: the model is told what it cannot see
        add("[" + type->get<std::string>() + " omitted]");
      }
    }
  } else if (content != j.end()) {
    return *error = "content is not an array", false;
  }
  // Structured output only (no text parts): the model reads the JSON itself.
  auto structured = j.find("structuredContent");
  if (out->text.empty() && structured != j.end() && !structured->is_null())
    out->text = structured->dump(-1, ' ', false, json::error_handler_t::replace);
  if (out->text.size() > kMaxResultText) {
    out->text.resize(kMaxResultText);
    out->text += " [truncated]";
  }
  return true;
}

}  // namespace earshot::protocol::mcp
