// The OpenAI Realtime API's wire format (the GA interface, as the `openai` npm package 6.x types
// it in resources/realtime/realtime.d.ts): JSON events over a WebSocket, one per text message.
// Wire formats only — no sockets, no conversation state; host/doors/realtime_door.h drives them.
//
// The part of the API Earshot speaks (docs/realtime.md lists every event, and what is not
// supported): client events are parsed and validated by parse_client_event(); server events are
// built as structs and written by to_json(). Both directions also have the other function, so
// every event round-trips (tests, fuzzing). Every event type has one entry in one table
// (events.cpp: its name, direction, reader and writer); the variants below list the structs.
//
// Audio is pcm16: signed 16-bit little-endian mono samples at 24 kHz, base64 in JSON. Structs
// hold it decoded (bytes). No JSON library type leaks out of this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace earshot::protocol::realtime {

// The largest client event accepted (one WebSocket text message). OpenAI allows 15 MiB per
// append; 1 MiB keeps a connection's memory bounded and still carries 16 s of audio per append
// (clients send 20-100 ms at a time).
inline constexpr size_t kMaxEventBytes = 1 << 20;
inline constexpr int kSampleRate = 24000;   // pcm16 in and out; the only rate the API has
inline constexpr size_t kMaxIdLength = 64;  // item, response and client event ids
inline constexpr size_t kMaxEventIdLength = 256;

// "absent" (nullopt), "null" (a nullopt inside), or a value: session fields a client clears with
// null (turn_detection) and ids the API reports as null (previous_item_id).
template <typename T>
using Nullable = std::optional<std::optional<T>>;

enum class Modality { kAudio, kText };

// --- the session --------------------------------------------------------------------------------

struct AudioFormat {
  std::string type = "audio/pcm";  // "audio/pcm", "audio/pcmu", "audio/pcma"
  std::optional<int> rate;         // audio/pcm only: 24000
};

// audio.input.turn_detection. Every field optional: a session.update sets only what it names.
struct TurnDetection {
  std::string type = "server_vad";  // "server_vad" or "semantic_vad"
  std::optional<double> threshold;  // 0..1
  std::optional<int> prefix_padding_ms;
  std::optional<int> silence_duration_ms;
  std::optional<bool> create_response;
  std::optional<bool> interrupt_response;
  Nullable<int> idle_timeout_ms;
  std::optional<std::string> eagerness;  // semantic_vad: low, medium, high, auto
};

struct Transcription {  // audio.input.transcription
  std::optional<std::string> model;
  std::optional<std::string> language;
  std::optional<std::string> prompt;
};

// A realtime session (RealtimeSessionCreateRequest), as a client updates it and as the server
// reports it. Fields are optional because an update names only what changes. Fields the API has
// that Earshot does not act on (tools, tool_choice, tracing, truncation, prompt, include,
// max_output_tokens, audio.input.noise_reduction) are accepted by the parser and dropped; their
// names are listed in `ignored`.
struct Session {
  std::optional<std::string> type;    // "realtime" (required in session.update)
  std::optional<std::string> id;      // server only
  std::optional<std::string> object;  // server only: "realtime.session"
  std::optional<std::string> model;
  std::optional<std::string> instructions;
  std::optional<std::vector<Modality>> output_modalities;  // exactly one
  std::optional<AudioFormat> input_format;                 // audio.input.format
  Nullable<TurnDetection> turn_detection;                  // audio.input.turn_detection
  Nullable<Transcription> transcription;                   // audio.input.transcription
  std::optional<AudioFormat> output_format;                // audio.output.format
  std::optional<std::string> voice;                        // audio.output.voice
  std::optional<double> speed;                             // audio.output.speed
  std::vector<std::string> ignored;                        // parser only: see above
};

// --- conversation items -------------------------------------------------------------------------

enum class ContentType {
  kInputText,    // user message text
  kInputAudio,   // user message audio (+ transcript)
  kOutputText,   // assistant text
  kOutputAudio,  // assistant audio (+ transcript)
  kText,         // content parts of a response (response.content_part.*)
  kAudio,
};

struct Content {
  ContentType type = ContentType::kInputText;
  std::optional<std::string> text;   // input_text, output_text, text
  std::optional<std::string> audio;  // input_audio: pcm16 bytes (base64 on the wire)
  Nullable<std::string> transcript;  // input_audio, output_audio, audio
};

enum class Role { kUser, kAssistant, kSystem };
enum class ItemStatus { kCompleted, kIncomplete, kInProgress };

// A message item. The API's other item types (function calls, MCP) are refused by the parser.
struct Item {
  std::optional<std::string> id;
  std::optional<std::string> object;  // "realtime.item"
  Role role = Role::kUser;
  std::optional<ItemStatus> status;
  std::vector<Content> content;
};

// --- responses ----------------------------------------------------------------------------------

struct TokenDetails {
  std::optional<uint64_t> text_tokens;
  std::optional<uint64_t> audio_tokens;
  std::optional<uint64_t> cached_tokens;  // input only
};

struct Usage {
  uint64_t total_tokens = 0;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  TokenDetails input_token_details;
  TokenDetails output_token_details;
};

struct StatusDetails {
  std::string type;                       // completed, cancelled, incomplete, failed
  std::optional<std::string> reason;      // turn_detected, client_cancelled, ...
  std::optional<std::string> error_type;  // failed: error.type
  std::optional<std::string> error_code;  // failed: error.code
};

// A response object (RealtimeResponse).
struct Response {
  std::string id;
  std::string status = "in_progress";  // in_progress, completed, cancelled, failed, incomplete
  std::optional<StatusDetails> status_details;
  std::vector<Item> output;
  std::optional<std::string> conversation_id;
  std::vector<Modality> output_modalities;
  std::optional<AudioFormat> output_format;  // audio.output.format
  std::optional<std::string> voice;          // audio.output.voice
  std::optional<Usage> usage;                // null until response.done
};

// response.create's optional `response`: overrides for this response only.
struct ResponseParams {
  std::optional<std::string> instructions;
  std::optional<std::vector<Modality>> output_modalities;
  std::optional<std::string> voice;          // audio.output.voice
  std::optional<AudioFormat> output_format;  // audio.output.format
  std::optional<std::string> conversation;   // "auto" (the default) or "none"
  bool has_input = false;                    // `input` given (a context of its own)
  std::vector<std::string> ignored;          // parser only: fields accepted and dropped
};

// The error object of an `error` event.
struct ErrorInfo {
  std::string type = "invalid_request_error";  // or "server_error"
  std::string code;
  std::string message;
  std::optional<std::string> param;     // the field at fault, e.g. "session.audio.input.format"
  std::optional<std::string> event_id;  // the client event at fault
};

// --- client events ------------------------------------------------------------------------------

struct SessionUpdate {
  Session session;
};
struct InputAudioBufferAppend {
  std::string audio;  // pcm16 bytes
};
struct InputAudioBufferCommit {};
struct InputAudioBufferClear {};
struct ConversationItemCreate {
  std::optional<std::string> previous_item_id;
  Item item;
};
struct ConversationItemTruncate {
  std::string item_id;
  uint32_t content_index = 0;
  uint64_t audio_end_ms = 0;
};
struct ResponseCreate {
  std::optional<ResponseParams> response;
};
struct ResponseCancel {
  std::optional<std::string> response_id;
};

using ClientEventBody = std::variant<SessionUpdate, InputAudioBufferAppend, InputAudioBufferCommit,
                                     InputAudioBufferClear, ConversationItemCreate,
                                     ConversationItemTruncate, ResponseCreate, ResponseCancel>;

struct ClientEvent {
  std::optional<std::string> event_id;  // optional, the client's
  ClientEventBody body;
};

// --- server events ------------------------------------------------------------------------------

struct SessionCreated {
  Session session;
};
struct SessionUpdated {
  Session session;
};
struct InputAudioBufferSpeechStarted {
  uint64_t audio_start_ms = 0;
  std::string item_id;
};
struct InputAudioBufferSpeechStopped {
  uint64_t audio_end_ms = 0;
  std::string item_id;
};
struct InputAudioBufferCommitted {
  Nullable<std::string> previous_item_id;
  std::string item_id;
};
struct InputAudioBufferCleared {};
struct ConversationItemAdded {
  Nullable<std::string> previous_item_id;
  Item item;
};
struct ConversationItemDone {
  Nullable<std::string> previous_item_id;
  Item item;
};
struct ConversationItemTruncated {
  std::string item_id;
  uint32_t content_index = 0;
  uint64_t audio_end_ms = 0;
};
struct InputAudioTranscriptionDelta {
  std::string item_id;
  uint32_t content_index = 0;
  std::string delta;
};
struct InputAudioTranscriptionCompleted {
  std::string item_id;
  uint32_t content_index = 0;
  std::string transcript;
  double seconds = 0;  // usage: {"type":"duration","seconds":...}
};
struct ResponseCreated {
  Response response;
};
struct ResponseDone {
  Response response;
};
struct ResponseOutputItemAdded {
  std::string response_id;
  uint32_t output_index = 0;
  Item item;
};
struct ResponseOutputItemDone {
  std::string response_id;
  uint32_t output_index = 0;
  Item item;
};

// Where a content part sits: every response.content_part.* and response.output_* event says so.
struct PartRef {
  std::string response_id;
  std::string item_id;
  uint32_t output_index = 0;
  uint32_t content_index = 0;
};
struct ResponseContentPartAdded {
  PartRef ref;
  Content part;  // type kAudio or kText
};
struct ResponseContentPartDone {
  PartRef ref;
  Content part;
};
struct ResponseOutputAudioDelta {
  PartRef ref;
  std::string delta;  // pcm16 bytes
};
struct ResponseOutputAudioDone {
  PartRef ref;
};
struct ResponseOutputAudioTranscriptDelta {
  PartRef ref;
  std::string delta;
};
struct ResponseOutputAudioTranscriptDone {
  PartRef ref;
  std::string transcript;
};
struct ResponseOutputTextDelta {
  PartRef ref;
  std::string delta;
};
struct ResponseOutputTextDone {
  PartRef ref;
  std::string text;
};
struct Error {
  ErrorInfo error;
};

using ServerEventBody = std::variant<
    SessionCreated, SessionUpdated, InputAudioBufferSpeechStarted, InputAudioBufferSpeechStopped,
    InputAudioBufferCommitted, InputAudioBufferCleared, ConversationItemAdded, ConversationItemDone,
    ConversationItemTruncated, InputAudioTranscriptionDelta, InputAudioTranscriptionCompleted,
    ResponseCreated, ResponseDone, ResponseOutputItemAdded, ResponseOutputItemDone,
    ResponseContentPartAdded, ResponseContentPartDone, ResponseOutputAudioDelta,
    ResponseOutputAudioDone, ResponseOutputAudioTranscriptDelta, ResponseOutputAudioTranscriptDone,
    ResponseOutputTextDelta, ResponseOutputTextDone, Error>;

struct ServerEvent {
  std::string event_id;  // every server event has one
  ServerEventBody body;
};

// --- reading and writing ------------------------------------------------------------------------

// A client event, or why it was refused. `event_id` is the client's, when it could be read (an
// error event names it), even if the rest was refused.
struct ClientParse {
  std::optional<ClientEvent> event;
  std::optional<std::string> event_id;
  ErrorInfo error;  // when !event
  bool ok() const { return event.has_value(); }
};
ClientParse parse_client_event(std::string_view text);

struct ServerParse {
  std::optional<ServerEvent> event;
  ErrorInfo error;
  bool ok() const { return event.has_value(); }
};
ServerParse parse_server_event(std::string_view text);

// Compact JSON, one event. Text that is not valid UTF-8 (from a model or a recogniser) is
// replaced, never thrown on.
std::string to_json(const ClientEvent& event);
std::string to_json(const ServerEvent& event);

// The event's "type" on the wire, e.g. "response.output_audio.delta".
const char* type_name(const ClientEventBody& body);
const char* type_name(const ServerEventBody& body);

// "session.update" names a session patch: `patch`'s fields replace `*into`'s (turn_detection and
// transcription: null clears them; a turn_detection of the same type merges field by field).
void apply_update(const Session& patch, Session* into);

}  // namespace earshot::protocol::realtime
