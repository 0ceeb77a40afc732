// The xiaozhi-esp32 firmware's JSON messages (WebSocket text messages, one object each with a
// "type"), as its main/protocols/protocol.cc and websocket_protocol.cc write them, its
// main/application.cc reads them, and its docs/websocket.md describes them.
//
//   device → server: hello (version, features, transport, audio_params), listen (state start |
//     stop | detect; mode auto | manual | realtime; text: the wake word), abort (reason), mcp
//     (payload: JSON-RPC 2.0), and a few the bridge takes note of only (iot, the MCP's deprecated
//     predecessor; device_status).
//   server → device: hello (transport, session_id, audio_params of the audio it will send), stt
//     (text), llm (emotion, text), tts (state start | sentence_start | sentence_end | stop; text),
//     system (command), alert (status, message, emotion: shown on the device's screen), mcp.
//
// Every message but the client hello carries "session_id" (the device echoes the server hello's).
// Fields the bridge does not know are ignored (the firmware adds some between versions); a
// missing or mistyped field the message needs is an error naming it. parse_* functions never
// throw; both directions have a parser and a writer, so every message round-trips (tests,
// fuzzing). No JSON library type leaks out of this header: an MCP payload is JSON text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace earshot::protocol::xiaozhi {

// The largest text message accepted. The firmware's MCP tools/list pages are up to 8000 bytes of
// result; the rest are a few hundred bytes.
inline constexpr size_t kMaxTextBytes = 64 * 1024;
inline constexpr size_t kMaxTextFieldBytes = 4096;  // wake word, stt, sentence, alert texts
inline constexpr size_t kMaxSessionIdBytes = 128;

struct AudioParams {
  std::string format = "opus";
  int sample_rate = 16000;
  int channels = 1;
  int frame_duration = 60;  // ms
};

// --- device → server ----------------------------------------------------------------------------

struct Features {
  bool mcp = false;
  bool aec = false;  // the device wants the server to cancel its echo (CONFIG_USE_SERVER_AEC)
};

struct ClientHello {
  int version = 1;  // the binary protocol version
  std::string transport = "websocket";
  Features features;
  std::optional<AudioParams> audio_params;
};

enum class ListenState { kStart, kStop, kDetect };
enum class ListenMode { kAuto, kManual, kRealtime };
const char* to_string(ListenState s);
const char* to_string(ListenMode m);

struct Listen {
  ListenState state = ListenState::kStart;
  std::optional<ListenMode> mode;   // start
  std::optional<std::string> text;  // detect: the wake word
};

struct Abort {
  std::optional<std::string> reason;  // e.g. "wake_word_detected"
};

// A message the firmware may send that the bridge only notes (iot descriptors/states,
// device_status).
struct Notice {
  std::string type;
};

// The MCP channel, either way: a JSON-RPC 2.0 object as JSON text.
struct Mcp {
  std::string payload;
};

using ClientBody = std::variant<ClientHello, Listen, Abort, Mcp, Notice>;

struct ClientMessage {
  std::optional<std::string> session_id;
  ClientBody body;
};

// --- server → device ----------------------------------------------------------------------------

struct ServerHello {
  std::string transport = "websocket";
  AudioParams audio_params;  // of the audio the server sends
};

struct Stt {
  std::string text;
};

struct Llm {
  std::string emotion;  // the firmware's emotion names: "neutral", "happy", "thinking", ...
  std::string text;     // an emoji for it
};

enum class TtsState { kStart, kSentenceStart, kSentenceEnd, kStop };
const char* to_string(TtsState s);

struct Tts {
  TtsState state = TtsState::kStart;
  std::optional<std::string> text;  // sentence_start (and sentence_end)
};

struct System {
  std::string command;  // "reboot"
};

struct Alert {
  std::string status;   // a title
  std::string message;  // the text
  std::string emotion;  // an emotion name for the face
};

using ServerBody = std::variant<ServerHello, Stt, Llm, Tts, System, Alert, Mcp>;

struct ServerMessage {
  std::string session_id;
  ServerBody body;
};

// --- parse and write ----------------------------------------------------------------------------

struct ParseError {
  std::string code;     // bad_json, missing_type, unknown_type, bad_field, too_large
  std::string message;  // for people: names the field
};

struct ClientParse {
  std::optional<ClientMessage> message;
  ParseError error;
  bool ok() const { return message.has_value(); }
};
struct ServerParse {
  std::optional<ServerMessage> message;
  ParseError error;
  bool ok() const { return message.has_value(); }
};

ClientParse parse_client_message(std::string_view text);
ServerParse parse_server_message(std::string_view text);
std::string to_json(const ClientMessage& m);
std::string to_json(const ServerMessage& m);
// The "type" a body is sent as.
const char* type_name(const ClientBody& b);
const char* type_name(const ServerBody& b);

}  // namespace earshot::protocol::xiaozhi
