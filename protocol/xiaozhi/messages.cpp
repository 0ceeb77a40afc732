#include "protocol/xiaozhi/messages.h"

#include <nlohmann/json.hpp>

#include <type_traits>

namespace earshot::protocol::xiaozhi {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A field the message needs is missing or has the wrong type: parse_* turns it into a ParseError.
struct FieldError {
  std::string message;
};

std::string field_string(const json& j, const char* key, bool required, size_t limit,
                         std::optional<std::string>* out) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) throw FieldError{std::string("'") + key + "' is missing"};
    return "";
  }
  if (!it->is_string()) throw FieldError{std::string("'") + key + "' must be a string"};
  std::string s = it->get<std::string>();
  if (s.size() > limit)
    throw FieldError{std::string("'") + key + "' is longer than " + std::to_string(limit) +
                     " bytes"};
  if (out) *out = s;
  return s;
}

std::string required_string(const json& j, const char* key, size_t limit = kMaxTextFieldBytes) {
  return field_string(j, key, true, limit, nullptr);
}

std::optional<std::string> optional_string(const json& j, const char* key,
                                           size_t limit = kMaxTextFieldBytes) {
  std::optional<std::string> out;
  field_string(j, key, false, limit, &out);
  return out;
}

int field_int(const json& j, const char* key, int fallback, int lo, int hi) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() && !it->is_number_unsigned())
    throw FieldError{std::string("'") + key + "' must be an integer"};
  const int64_t v = it->get<int64_t>();
  if (v < lo || v > hi)
    throw FieldError{std::string("'") + key + "' must be " + std::to_string(lo) + "-" +
                     std::to_string(hi)};
  return int(v);
}

AudioParams read_audio_params(const json& j) {
  if (!j.is_object()) throw FieldError{"'audio_params' must be an object"};
  AudioParams a;
  a.format = optional_string(j, "format", 32).value_or("opus");
  a.sample_rate = field_int(j, "sample_rate", 16000, 1, 384000);
  a.channels = field_int(j, "channels", 1, 1, 8);
  a.frame_duration = field_int(j, "frame_duration", 60, 1, 1000);
  return a;
}

json write_audio_params(const AudioParams& a) {
  return {{"format", a.format},
          {"sample_rate", a.sample_rate},
          {"channels", a.channels},
          {"frame_duration", a.frame_duration}};
}

bool field_bool(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_boolean()) throw FieldError{std::string("'features.") + key + "' must be a boolean"};
  return it->get<bool>();
}

std::string read_mcp_payload(const json& j) {
  const auto it = j.find("payload");
  if (it == j.end() || !it->is_object()) throw FieldError{"'payload' must be a JSON-RPC object"};
  return dump(*it);
}

ListenState read_state(const std::string& s) {
  if (s == "start") return ListenState::kStart;
  if (s == "stop") return ListenState::kStop;
  if (s == "detect") return ListenState::kDetect;
  throw FieldError{"'state' must be start, stop or detect, not '" + s + "'"};
}

ListenMode read_mode(const std::string& s) {
  if (s == "auto") return ListenMode::kAuto;
  if (s == "manual") return ListenMode::kManual;
  if (s == "realtime") return ListenMode::kRealtime;
  throw FieldError{"'mode' must be auto, manual or realtime, not '" + s + "'"};
}

TtsState read_tts_state(const std::string& s) {
  if (s == "start") return TtsState::kStart;
  if (s == "sentence_start") return TtsState::kSentenceStart;
  if (s == "sentence_end") return TtsState::kSentenceEnd;
  if (s == "stop") return TtsState::kStop;
  throw FieldError{"'state' must be start, sentence_start, sentence_end or stop, not '" + s + "'"};
}

// Parses `text` as a JSON object with a string "type"; fills `*error` otherwise.
std::optional<json> read_object(std::string_view text, std::string* type, ParseError* error) {
  if (text.size() > kMaxTextBytes) {
    *error = {"too_large",
              "the message is larger than " + std::to_string(kMaxTextBytes) + " bytes"};
    return std::nullopt;
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = {"bad_json", "the message is not a JSON object"};
    return std::nullopt;
  }
  const auto t = j.find("type");
  if (t == j.end() || !t->is_string()) {
    *error = {"missing_type", "the message has no string 'type'"};
    return std::nullopt;
  }
  *type = t->get<std::string>();
  return j;
}

template <typename Parse, typename Build>
Parse parse_with(std::string_view text, const Build& build) {
  Parse out;
  std::string type;
  std::optional<json> j = read_object(text, &type, &out.error);
  if (!j) return out;
  try {
    build(*j, type, &out);
  } catch (const FieldError& e) {
    out.message.reset();
    out.error = {"bad_field", type + ": " + e.message};
  } catch (const json::exception& e) {  // not expected: every access above checks its type
    out.message.reset();
    out.error = {"bad_field", type + ": " + e.what()};
  }
  return out;
}

}  // namespace

const char* to_string(ListenState s) {
  switch (s) {
    case ListenState::kStart:
      return "start";
    case ListenState::kStop:
      return "stop";
    case ListenState::kDetect:
      return "detect";
  }
  return "?";
}

const char* to_string(ListenMode m) {
  switch (m) {
    case ListenMode::kAuto:
      return "auto";
    case ListenMode::kManual:
      return "manual";
    case ListenMode::kRealtime:
      return "realtime";
  }
  return "?";
}

const char* to_string(TtsState s) {
  switch (s) {
    case TtsState::kStart:
      return "start";
    case TtsState::kSentenceStart:
      return "sentence_start";
    case TtsState::kSentenceEnd:
      return "sentence_end";
    case TtsState::kStop:
      return "stop";
  }
  return "?";
}

const char* type_name(const ClientBody& b) {
  return std::visit(
      [](const auto& m) -> const char* {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, ClientHello>) return "hello";
        if constexpr (std::is_same_v<T, Listen>) return "listen";
        if constexpr (std::is_same_v<T, Abort>) return "abort";
        if constexpr (std::is_same_v<T, Mcp>) return "mcp";
        if constexpr (std::is_same_v<T, Notice>) return "notice";
      },
      b);
}

const char* type_name(const ServerBody& b) {
  return std::visit(
      [](const auto& m) -> const char* {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, ServerHello>) return "hello";
        if constexpr (std::is_same_v<T, Stt>) return "stt";
        if constexpr (std::is_same_v<T, Llm>) return "llm";
        if constexpr (std::is_same_v<T, Tts>) return "tts";
        if constexpr (std::is_same_v<T, System>) return "system";
        if constexpr (std::is_same_v<T, Alert>) return "alert";
        if constexpr (std::is_same_v<T, Mcp>) return "mcp";
      },
      b);
}

ClientParse parse_client_message(std::string_view text) {
  return parse_with<ClientParse>(
      text, [](const json& j, const std::string& type, ClientParse* out) {
        ClientMessage m;
        m.session_id = optional_string(j, "session_id", kMaxSessionIdBytes);
        if (type == "hello") {
          ClientHello h;
          h.version = field_int(j, "version", 1, 0, 65535);
          h.transport = optional_string(j, "transport", 32).value_or("websocket");
          if (const auto f = j.find("features"); f != j.end() && !f->is_null()) {
            if (!f->is_object()) throw FieldError{"'features' must be an object"};
            h.features.mcp = field_bool(*f, "mcp");
            h.features.aec = field_bool(*f, "aec");
          }
          if (const auto a = j.find("audio_params"); a != j.end() && !a->is_null())
            h.audio_params = read_audio_params(*a);
          m.body = h;
        } else if (type == "listen") {
          Listen l;
          l.state = read_state(required_string(j, "state", 32));
          if (auto mode = optional_string(j, "mode", 32)) l.mode = read_mode(*mode);
          l.text = optional_string(j, "text");
          m.body = l;
        } else if (type == "abort") {
          m.body = Abort{optional_string(j, "reason", 64)};
        } else if (type == "mcp") {
          m.body = Mcp{read_mcp_payload(j)};
        } else if (type == "iot" || type == "device_status" || type == "goodbye") {
          m.body = Notice{type};
        } else {
          out->error = {"unknown_type", "unknown message type '" + type.substr(0, 64) + "'"};
          return;
        }
        out->message = std::move(m);
      });
}

ServerParse parse_server_message(std::string_view text) {
  return parse_with<ServerParse>(
      text, [](const json& j, const std::string& type, ServerParse* out) {
        ServerMessage m;
        m.session_id = optional_string(j, "session_id", kMaxSessionIdBytes).value_or("");
        if (type == "hello") {
          ServerHello h;
          h.transport = required_string(j, "transport", 32);
          if (const auto a = j.find("audio_params"); a != j.end() && !a->is_null())
            h.audio_params = read_audio_params(*a);
          m.body = h;
        } else if (type == "stt") {
          m.body = Stt{required_string(j, "text")};
        } else if (type == "llm") {
          m.body = Llm{required_string(j, "emotion", 64), optional_string(j, "text").value_or("")};
        } else if (type == "tts") {
          Tts t;
          t.state = read_tts_state(required_string(j, "state", 32));
          t.text = optional_string(j, "text");
          m.body = t;
        } else if (type == "system") {
          m.body = System{required_string(j, "command", 64)};
        } else if (type == "alert") {
          m.body = Alert{required_string(j, "status"), required_string(j, "message"),
                         required_string(j, "emotion", 64)};
        } else if (type == "mcp") {
          m.body = Mcp{read_mcp_payload(j)};
        } else {
          out->error = {"unknown_type", "unknown message type '" + type.substr(0, 64) + "'"};
          return;
        }
        out->message = std::move(m);
      });
}

std::string to_json(const ClientMessage& m) {
  json j = json::object();
  if (m.session_id) j["session_id"] = *m.session_id;
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Notice>) {
          j["type"] = b.type;
        } else {
          j["type"] = type_name(m.body);
        }
        if constexpr (std::is_same_v<T, ClientHello>) {
          j["version"] = b.version;
          j["transport"] = b.transport;
          j["features"] = {{"mcp", b.features.mcp}, {"aec", b.features.aec}};
          if (b.audio_params) j["audio_params"] = write_audio_params(*b.audio_params);
        } else if constexpr (std::is_same_v<T, Listen>) {
          j["state"] = to_string(b.state);
          if (b.mode) j["mode"] = to_string(*b.mode);
          if (b.text) j["text"] = *b.text;
        } else if constexpr (std::is_same_v<T, Abort>) {
          if (b.reason) j["reason"] = *b.reason;
        } else if constexpr (std::is_same_v<T, Mcp>) {
          json payload = json::parse(b.payload, nullptr, false);
          j["payload"] = payload.is_discarded() ? json(nullptr) : payload;
        }
      },
      m.body);
  return dump(j);
}

std::string to_json(const ServerMessage& m) {
  json j = json::object();
  j["type"] = type_name(m.body);
  j["session_id"] = m.session_id;
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, ServerHello>) {
          j["transport"] = b.transport;
          j["audio_params"] = write_audio_params(b.audio_params);
        } else if constexpr (std::is_same_v<T, Stt>) {
          j["text"] = b.text;
        } else if constexpr (std::is_same_v<T, Llm>) {
          j["emotion"] = b.emotion;
          j["text"] = b.text;
        } else if constexpr (std::is_same_v<T, Tts>) {
          j["state"] = to_string(b.state);
          if (b.text) j["text"] = *b.text;
        } else if constexpr (std::is_same_v<T, System>) {
          j["command"] = b.command;
        } else if constexpr (std::is_same_v<T, Alert>) {
          j["status"] = b.status;
          j["message"] = b.message;
          j["emotion"] = b.emotion;
        } else if constexpr (std::is_same_v<T, Mcp>) {
          json payload = json::parse(b.payload, nullptr, false);
          j["payload"] = payload.is_discarded() ? json(nullptr) : payload;
        }
      },
      m.body);
  return dump(j);
}

}  // namespace earshot::protocol::xiaozhi
