#include "host/conversation/memory.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "host/bridge_config.h"
#include "host/store/store.h"

namespace earshot::host {
namespace {

// Tool calls as they are kept: a JSON array of {id, name, arguments}, each string as it was.
std::string calls_to_json(const std::vector<ToolCall>& calls) {
  if (calls.empty()) return "";
  nlohmann::json out = nlohmann::json::array();
  for (const ToolCall& c : calls)
    out.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  return out.dump();
}

bool calls_from_json(const std::string& text, std::vector<ToolCall>* calls) {
  calls->clear();
  if (text.empty()) return true;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return false;
  for (const nlohmann::json& c : j) {
    if (!c.is_object() || !c.value("id", nlohmann::json()).is_string() ||
        !c.value("name", nlohmann::json()).is_string() ||
        !c.value("arguments", nlohmann::json()).is_string())
      return false;
    calls->push_back({c["id"].get<std::string>(), c["name"].get<std::string>(),
                      c["arguments"].get<std::string>()});
  }
  return true;
}

}  // namespace

bool valid_memory_scope(const std::string& scope) {
  return scope == "node" || scope == "room" || scope == "session";
}

std::string memory_key(const std::string& scope, const std::string& client_id,
                       const std::string& room) {
  // A Realtime client's id is new for every connection: nothing could ever continue its memory.
  if (scope == "session" || client_id.empty() || client_id.rfind("realtime-", 0) == 0) return "";
  if (scope == "room" && !room.empty()) return "room:" + room;
  return "node:" + client_id;
}

ConversationMemory::ConversationMemory(Store* store, std::string key, int64_t idle_ms)
    : store_(store), key_(std::move(key)), idle_ms_(idle_ms) {}

bool ConversationMemory::recall(int64_t now_ms, std::vector<ChatMessage>* history) {
  if (!enabled()) return false;
  StoredMemory stored;
  std::string error;
  if (!store_->load_memory(key_, &stored, &error)) return false;
  std::vector<ChatMessage> out;
  if (stored.updated_at_ms > 0 && now_ms - stored.updated_at_ms <= idle_ms_) {
    for (const MemoryMessage& m : stored.messages) {
      ChatMessage message{m.role, m.content, {}, m.tool_call_id};
      if (!calls_from_json(m.tool_calls_json, &message.tool_calls)) return false;
      out.push_back(std::move(message));
    }
  }
  *history = std::move(out);
  return true;
}

bool ConversationMemory::remember(const std::vector<ChatMessage>& history, int64_t now_ms,
                                  std::string* error) {
  if (!enabled()) return true;
  std::vector<MemoryMessage> messages;
  messages.reserve(history.size());
  for (const ChatMessage& m : history)
    messages.push_back({m.role, m.content, calls_to_json(m.tool_calls), m.tool_call_id});
  return store_->save_memory(key_, messages, now_ms, error);
}

int run_forget_command(const BridgeConfig& config, const std::vector<std::string>& args) {
  std::string key;
  if (args.size() == 2 && args[0] == "node") key = "node:" + args[1];
  if (args.size() == 2 && args[0] == "room") key = "room:" + args[1];
  if (args.size() == 1 && args[0] == "all") key = "*";
  if (key.empty() || (args.size() == 2 && args[1].empty())) {
    fprintf(stderr, "earshot-bridge forget: expected node NAME, room NAME or all\n");
    return 2;
  }
  if (config.store_path.empty()) {
    fprintf(stderr, "earshot-bridge forget: there is no store (store.path is empty)\n");
    return 2;
  }
  std::string error;
  auto store = Store::open(config.store_path, {}, &error);
  if (!store) {
    fprintf(stderr, "earshot-bridge forget: %s\n", error.c_str());
    return 1;
  }
  const int removed = store->forget_memory(key, &error);
  if (removed < 0) {
    fprintf(stderr, "earshot-bridge forget: %s\n", error.c_str());
    return 1;
  }
  printf("forgot %d conversation%s\n", removed, removed == 1 ? "" : "s");
  return 0;
}

}  // namespace earshot::host
