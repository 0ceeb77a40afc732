#include "host/bridge_config.h"

#include <toml++/toml.h>

#include "host/conversation/memory.h"
#include "host/engines/http_client.h"

#include <fstream>
#include <functional>
#include <set>
#include <sstream>

namespace earshot::host {
namespace {

std::string where(const toml::node& n, const std::string& origin) {
  return origin + ":" + std::to_string(n.source().begin.line);
}

// Binds section.key to a setter; a setter returns false when the value has the wrong type.
using Setter = std::function<bool(const toml::node&)>;

template <typename T>
Setter bind(T* field) {
  return [field](const toml::node& n) {
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = n.value_exact<std::string>()) return *field = *v, true;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = n.value_exact<bool>()) return *field = *v, true;
    } else if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) {
      if (auto v = n.value<double>()) return *field = T(*v), true;
    } else {
      if (auto v = n.value_exact<int64_t>()) {
        if (*v < 0 || *v > INT32_MAX) return false;
        return *field = T(*v), true;
      }
    }
    return false;
  };
}

void bind_engine(std::map<std::string, Setter>& keys, const std::string& section, EngineConfig* e) {
  keys[section + ".engine"] = bind(&e->engine);
  keys[section + ".base_url"] = bind(&e->base_url);
  keys[section + ".api_key"] = bind(&e->api_key);
  keys[section + ".model"] = bind(&e->model);
  keys[section + ".voice"] = bind(&e->voice);
  keys[section + ".language"] = bind(&e->language);
  keys[section + ".model_dir"] = bind(&e->model_dir);
  keys[section + ".response_format"] = bind(&e->response_format);
  keys[section + ".sample_rate"] = bind(&e->sample_rate);
  keys[section + ".temperature"] = bind(&e->temperature);
  keys[section + ".max_tokens"] = bind(&e->max_tokens);
  keys[section + ".keep_think_in_history"] = bind(&e->keep_think_in_history);
  keys[section + ".connect_timeout_ms"] = bind(&e->connect_timeout_ms);
  keys[section + ".timeout_ms"] = bind(&e->timeout_ms);
  keys[section + ".first_token_timeout_ms"] = bind(&e->first_token_timeout_ms);
  keys[section + ".idle_timeout_ms"] = bind(&e->idle_timeout_ms);
  keys[section + ".max_streams"] = bind(&e->max_streams);
}

// [[wyoming.satellites]] name, host, port, room, listen_without_wake_word.
std::string parse_satellites(const toml::node& node, const std::string& origin,
                             std::vector<WyomingSatelliteConfig>* out) {
  const toml::array* list = node.as_array();
  if (!list) return where(node, origin) + ": wyoming.satellites must be [[wyoming.satellites]]";
  for (const toml::node& item : *list) {
    const toml::table* table = item.as_table();
    if (!table) return where(item, origin) + ": each wyoming.satellites entry must be a table";
    WyomingSatelliteConfig sat;
    std::map<std::string, Setter> keys = {
        {"name", bind(&sat.name)},
        {"host", bind(&sat.host)},
        {"port", bind(&sat.port)},
        {"room", bind(&sat.room)},
        {"listen_without_wake_word", bind(&sat.listen_without_wake_word)}};
    for (auto&& [key, value] : *table) {
      const std::string name = "wyoming.satellites." + std::string(key.str());
      auto it = keys.find(std::string(key.str()));
      if (it == keys.end()) return where(value, origin) + ": unknown setting " + name;
      if (!it->second(value)) return where(value, origin) + ": " + name + ": wrong type or range";
    }
    if (sat.name.empty() || sat.host.empty())
      return where(item, origin) + ": a wyoming satellite needs a name and a host";
    out->push_back(std::move(sat));
  }
  return "";
}

// A TOML array of strings into `out`.
Setter bind_strings(std::vector<std::string>* out) {
  return [out](const toml::node& n) {
    const toml::array* list = n.as_array();
    if (!list) return false;
    out->clear();
    for (const toml::node& item : *list) {
      auto v = item.value_exact<std::string>();
      if (!v) return false;
      out->push_back(*v);
    }
    return true;
  };
}

// An inline TOML table of strings ({ KEY = "value" }) into `out`.
Setter bind_string_map(std::map<std::string, std::string>* out) {
  return [out](const toml::node& n) {
    const toml::table* table = n.as_table();
    if (!table) return false;
    out->clear();
    for (auto&& [key, value] : *table) {
      auto v = value.value_exact<std::string>();
      if (!v) return false;
      (*out)[std::string(key.str())] = *v;
    }
    return true;
  };
}

// [[mcp.servers]] name, command, args, env, url, headers, rooms, nodes, and timeouts.
std::string parse_mcp_servers(const toml::node& node, const std::string& origin,
                              std::vector<McpServerConfig>* out) {
  const toml::array* list = node.as_array();
  if (!list) return where(node, origin) + ": mcp.servers must be [[mcp.servers]]";
  for (const toml::node& item : *list) {
    const toml::table* table = item.as_table();
    if (!table) return where(item, origin) + ": each mcp.servers entry must be a table";
    McpServerConfig server;
    std::map<std::string, Setter> keys = {{"name", bind(&server.name)},
                                          {"command", bind(&server.command)},
                                          {"args", bind_strings(&server.args)},
                                          {"env", bind_string_map(&server.env)},
                                          {"url", bind(&server.url)},
                                          {"headers", bind_string_map(&server.headers)},
                                          {"rooms", bind_strings(&server.rooms)},
                                          {"nodes", bind_strings(&server.nodes)},
                                          {"call_timeout_ms", bind(&server.call_timeout_ms)},
                                          {"start_timeout_ms", bind(&server.start_timeout_ms)},
                                          {"restart_max_ms", bind(&server.restart_max_ms)}};
    for (auto&& [key, value] : *table) {
      const std::string name = "mcp.servers." + std::string(key.str());
      auto it = keys.find(std::string(key.str()));
      if (it == keys.end()) return where(value, origin) + ": unknown setting " + name;
      if (!it->second(value)) return where(value, origin) + ": " + name + ": wrong type or range";
    }
    out->push_back(std::move(server));
  }
  return "";
}

}  // namespace

std::string parse_bridge_config(const std::string& text, const std::string& origin,
                                BridgeConfig* c) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return origin + ":" + std::to_string(e.source().begin.line) + ": " +
           std::string(e.description());
  }
  std::map<std::string, Setter> keys;
  ServerConfig& s = c->server;
  keys["server.listen"] = bind(&s.listen);
  keys["server.port"] = bind(&s.port);
  keys["server.tls_cert"] = bind(&s.tls_cert);
  keys["server.tls_key"] = bind(&s.tls_key);
  keys["server.shared_token"] = bind(&s.shared_token);
  keys["server.allow_anonymous"] = bind(&s.allow_anonymous);
  keys["server.handshake_timeout_ms"] = bind(&s.handshake_timeout_ms);
  keys["server.max_sessions"] = bind(&s.max_sessions);
  keys["server.reply_lead_ms"] = bind(&s.reply_lead_ms);
  keys["server.web_root"] = bind(&s.web_root);
  keys["server.status_token"] = bind(&s.status_token);
  keys["server.advertise"] = bind(&s.advertise);
  keys["server.service_name"] = bind(&s.service_name);
  keys["server.drain_timeout_ms"] = bind(&c->drain_timeout_ms);
  keys["server.audio_burst_s"] = bind(&s.audio_burst_s);
  keys["server.stalled_client_ms"] = bind(&s.stalled_client_ms);
  keys["xiaozhi.enabled"] = bind(&s.xiaozhi.enabled);
  keys["xiaozhi.websocket_url"] = bind(&s.xiaozhi.websocket_url);
  keys["xiaozhi.output_sample_rate"] = bind(&s.xiaozhi.output_sample_rate);
  keys["xiaozhi.offer_device_tools"] = bind(&s.xiaozhi.offer_device_tools);
  keys["turn.end_of_turn_ms"] = bind(&c->turn.end_of_turn_ms);
  keys["turn.max_turn_ms"] = bind(&c->turn.max_turn_ms);
  keys["turn.early_final_ms"] = bind(&c->turn.early_final_ms);
  keys["turn.vad_threshold"] = bind(&c->turn.vad_threshold);
  keys["reply.system_prompt"] = bind(&c->reply.system_prompt);
  keys["reply.history_turns"] = bind(&c->reply.history_turns);
  keys["reply.speak_errors"] = bind(&c->reply.speak_errors);
  keys["reply.error_speech"] = bind(&c->reply.error_speech);
  keys["reply.first_clause_min_chars"] = bind(&c->reply.first_clause_min_chars);
  keys["reply.played_report_timeout_ms"] = bind(&c->reply.played_report_timeout_ms);
  keys["reply.memory"] = bind(&c->reply.memory);
  keys["reply.memory_idle_minutes"] = bind(&c->reply.memory_idle_minutes);
  keys["tools.clock"] = bind(&c->tools.clock);
  keys["tools.household"] = bind(&c->tools.household);
  keys["tools.timer_grace_s"] = bind(&c->tools.timer_grace_s);
  keys["tools.max_steps"] = bind(&c->tools.max_steps);
  keys["tools.call_timeout_ms"] = bind(&c->tools.call_timeout_ms);
  keys["tools.filler_after_ms"] = bind(&c->tools.filler_after_ms);
  keys["tools.filler"] = bind(&c->tools.filler);
  bind_engine(keys, "stt", &c->stt);
  bind_engine(keys, "llm", &c->llm);
  bind_engine(keys, "tts", &c->tts);
  keys["store.path"] = bind(&c->store_path);
  keys["store.synchronous"] = bind(&c->store_synchronous);
  keys["log.level"] = bind(&c->log_level);
  WyomingConfig& w = c->wyoming;
  keys["wyoming.serve"] = bind(&w.serve);
  keys["wyoming.listen"] = bind(&w.listen);
  keys["wyoming.port"] = bind(&w.port);
  keys["wyoming.advertise"] = bind(&w.advertise);
  keys["wyoming.service_name"] = bind(&w.service_name);
  keys["wyoming.max_connections"] = bind(&w.max_connections);
  keys["wyoming.max_audio_s"] = bind(&w.max_audio_s);
  keys["wyoming.max_text_chars"] = bind(&w.max_text_chars);
  keys["wyoming.reconnect_max_ms"] = bind(&w.reconnect_max_ms);

  for (auto&& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const toml::table* table = section_node.as_table();
    if (!table) return where(section_node, origin) + ": '" + section + "' must be a [section]";
    for (auto&& [key, value] : *table) {
      const std::string name = section + "." + std::string(key.str());
      if (section == "nodes") {  // [nodes] node_id = "token"
        auto token = value.value_exact<std::string>();
        if (!token || token->empty())
          return where(value, origin) + ": " + name + ": expected a token string";
        s.node_tokens[std::string(key.str())] = *token;
        continue;
      }
      if (section == "rooms") {  // [rooms] node_id = "room", for clients that name none
        auto room = value.value_exact<std::string>();
        if (!room || room->empty())
          return where(value, origin) + ": " + name + ": expected a room name";
        s.rooms[std::string(key.str())] = *room;
        continue;
      }
      if (name == "mcp.servers") {  // [[mcp.servers]]: one table per MCP server
        if (std::string e = parse_mcp_servers(value, origin, &c->mcp_servers); !e.empty()) return e;
        continue;
      }
      if (name == "wyoming.satellites") {  // [[wyoming.satellites]]: one table per satellite
        if (std::string e = parse_satellites(value, origin, &w.satellites); !e.empty()) return e;
        continue;
      }
      auto it = keys.find(name);
      if (it == keys.end()) return where(value, origin) + ": unknown setting " + name;
      if (!it->second(value)) return where(value, origin) + ": " + name + ": wrong type or range";
    }
  }
  if (c->reply.voice.empty()) c->reply.voice = c->tts.voice;
  return "";
}

std::string load_bridge_config(const std::string& path, BridgeConfig* config) {
  std::ifstream in(path);
  if (!in) return "cannot read config file " + path;
  std::stringstream text;
  text << in.rdbuf();
  return parse_bridge_config(text.str(), path, config);
}

std::string validate(const BridgeConfig& c) {
  if (c.server.port < 0 || c.server.port > 65535) return "server.port: must be 0-65535";
  if (c.server.tls_cert.empty() != c.server.tls_key.empty())
    return "server.tls_cert and server.tls_key go together";
  if (c.stt.engine != "pocketsphinx" && c.stt.engine != "openai")
    return "stt.engine: must be pocketsphinx or openai, got '" + c.stt.engine + "'";
  if (c.llm.engine != "echo" && c.llm.engine != "openai")
    return "llm.engine: must be echo or openai, got '" + c.llm.engine + "'";
  if (c.tts.engine != "flite" && c.tts.engine != "espeak-ng" && c.tts.engine != "openai")
    return "tts.engine: must be flite, espeak-ng or openai, got '" + c.tts.engine + "'";
  for (const auto& [section, e] : {std::pair{"stt", &c.stt}, {"llm", &c.llm}, {"tts", &c.tts}}) {
    if (e->engine != "openai") continue;
    const std::string key = std::string(section) + ".base_url";
    if (e->base_url.empty())
      return key + ": an openai engine needs one (e.g. http://127.0.0.1:8000/v1)";
    if (std::string problem = http_url_problem(e->base_url); !problem.empty())
      return key + ": " + problem;
  }
  if (c.turn.end_of_turn_ms < 100 || c.turn.end_of_turn_ms > 5000)
    return "turn.end_of_turn_ms: must be 100-5000";
  if (c.turn.early_final_ms < 0 || c.turn.early_final_ms >= c.turn.end_of_turn_ms)
    return "turn.early_final_ms: must be 0 (off) or less than turn.end_of_turn_ms";
  // Browser clients' tokens live in the store (earshot-bridge tokens add NAME).
  if (c.server.node_tokens.empty() && c.server.shared_token.empty() && !c.server.allow_anonymous &&
      c.store_path.empty())
    return "no node can connect: set [nodes] tokens, server.shared_token, or "
           "server.allow_anonymous = true (or keep a store for browser client tokens)";
  if (c.tools.timer_grace_s < 0 || c.tools.timer_grace_s > 7 * 24 * 3600)
    return "tools.timer_grace_s: must be 0-604800";
  if (c.store_synchronous != "normal" && c.store_synchronous != "full")
    return "store.synchronous: must be normal or full";
  if (c.stt.max_streams < 1 || c.stt.max_streams > 1024) return "stt.max_streams: must be 1-1024";
  if (c.server.audio_burst_s < 1 || c.server.audio_burst_s > 3600)
    return "server.audio_burst_s: must be 1-3600";
  if (c.server.stalled_client_ms < 1000 || c.server.stalled_client_ms > 600000)
    return "server.stalled_client_ms: must be 1000-600000";
  if (!valid_memory_scope(c.reply.memory))
    return "reply.memory: must be node, room or session, got '" + c.reply.memory + "'";
  if (!(c.reply.memory_idle_minutes > 0 && c.reply.memory_idle_minutes <= 525600))
    return "reply.memory_idle_minutes: must be more than 0 and at most 525600 (a year)";
  if (c.tools.max_steps < 1 || c.tools.max_steps > 32) return "tools.max_steps: must be 1-32";
  if (c.tools.call_timeout_ms < 100 || c.tools.call_timeout_ms > 600000)
    return "tools.call_timeout_ms: must be 100-600000";
  if (c.server.xiaozhi.output_sample_rate != 16000 && c.server.xiaozhi.output_sample_rate != 24000)
    return "xiaozhi.output_sample_rate: must be 16000 or 24000";
  if (c.drain_timeout_ms < 0 || c.drain_timeout_ms > 600000)
    return "server.drain_timeout_ms: must be 0-600000";
  const WyomingConfig& w = c.wyoming;
  if (w.port < 0 || w.port > 65535) return "wyoming.port: must be 0-65535";
  if (w.max_connections < 1 || w.max_connections > 1024)
    return "wyoming.max_connections: must be 1-1024";
  if (w.max_audio_s < 1 || w.max_audio_s > 3600) return "wyoming.max_audio_s: must be 1-3600";
  if (w.max_text_chars < 1 || w.max_text_chars > 100000)
    return "wyoming.max_text_chars: must be 1-100000";
  if (w.reconnect_max_ms < 1000 || w.reconnect_max_ms > 3600000)
    return "wyoming.reconnect_max_ms: must be 1000-3600000";
  std::set<std::string> mcp_names;
  for (const McpServerConfig& m : c.mcp_servers) {
    const std::string what = "mcp.servers '" + m.name + "'";
    if (m.name.empty()) return "mcp.servers: every server needs a name";
    if (!mcp_names.insert(m.name).second)
      return "mcp.servers: the name '" + m.name + "' is used twice";
    if (m.command.empty() == m.url.empty())
      return what + ": needs either a command (stdio) or a url (Streamable HTTP)";
    if (!m.url.empty()) {
      if (std::string problem = http_url_problem(m.url); !problem.empty())
        return what + ": url: " + problem;
    } else if (!m.headers.empty()) {
      return what + ": headers go with a url, not a command";
    }
    if (m.call_timeout_ms < 100 || m.call_timeout_ms > 600000)
      return what + ": call_timeout_ms must be 100-600000";
    if (m.start_timeout_ms < 100 || m.start_timeout_ms > 600000)
      return what + ": start_timeout_ms must be 100-600000";
    if (m.restart_max_ms < 250 || m.restart_max_ms > 3600000)
      return what + ": restart_max_ms must be 250-3600000";
  }
  std::set<std::string> names;
  for (const WyomingSatelliteConfig& sat : w.satellites) {
    if (!names.insert(sat.name).second)
      return "wyoming.satellites: the name '" + sat.name + "' is used twice";
    if (sat.port < 1 || sat.port > 65535)
      return "wyoming.satellites '" + sat.name + "': port must be 1-65535";
  }
  return "";
}

}  // namespace earshot::host
