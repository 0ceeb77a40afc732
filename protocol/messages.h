// JSON control messages of the earshot.v1 wire protocol (WebSocket text frames).
//
// Every message is one JSON object with a string "type". This header is the whole contract of the
// control channel: the structs below are the messages, parse_message() validates one received text
// frame against the direction it travelled, to_json() builds one. docs/protocol.md documents each
// message with an example. JSON numbers that carry sequence numbers or durations are unsigned
// integers below 2^53 (so that browsers read them exactly).
//
// No JSON library type leaks out of this header: nlohmann-json is an implementation detail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace earshot::protocol {

inline constexpr const char* kSubprotocol = "earshot.v1";  // Sec-WebSocket-Protocol value
inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxControlMessageSize = 64 * 1024;  // larger text frames are refused
inline constexpr size_t kMaxIdLength = 64;                   // node_id, session_id, reply_id...
inline constexpr size_t kMaxTextLength = 16 * 1024;          // transcript / reply text fields

// WebSocket close codes (RFC 6455 private range 4000-4999 for ours).
enum CloseCode : uint16_t {
  kCloseNormal = 1000,
  kCloseGoingAway = 1001,         // server draining (SIGTERM) or node shutting down
  kCloseProtocolError = 4000,     // a malformed frame/message that makes the session unusable
  kCloseUnauthorized = 4001,      // missing or wrong bearer token
  kCloseBadVersion = 4002,        // no protocol version in common
  kCloseBadAudio = 4003,          // audio parameters the server cannot take
  kCloseReplaced = 4004,          // the same node_id connected again; the old link is closed
  kCloseHandshakeTimeout = 4008,  // no hello within the handshake timeout
  kCloseInternalError = 4011,     // the host failed (e.g. could not store what was said): redial
  kCloseStalled = 4012,           // the peer stopped reading what the host sends
  kCloseTooFast = 4029,           // audio faster than real time beyond the allowed burst
};

enum class Mode { kConversation, kAmbient };
const char* to_string(Mode mode);  // "conversation" / "ambient"

// Which way a message travels; parse_message() refuses a message type in the wrong direction.
enum class Direction { kNodeToHost, kHostToNode };

// Codecs of the audio streams. "opus": one Opus packet per frame (every node). "pcm16": raw 16-bit
// little-endian samples, for browsers without an Opus encoder; a frame must fit the payload limit
// (16 kHz mono: 10 or 20 ms). The host answers in the codec the client sent (welcome.audio).
inline constexpr const char* kCodecOpus = "opus";
inline constexpr const char* kCodecPcm16 = "pcm16";

// Hello capabilities with a meaning on the wire.
inline constexpr const char* kCapabilityPlayback = "playback";
inline constexpr const char* kCapabilityBargeIn = "barge_in";
inline constexpr const char* kCapabilityPartialTranscripts = "partial_transcripts";
inline constexpr const char* kCapabilityTurnTimings = "turn_timings";  // wants TurnTimings

struct AudioParams {
  std::string codec = kCodecOpus;  // kCodecOpus or kCodecPcm16
  uint32_t sample_rate = 16000;
  uint32_t channels = 1;
  uint32_t frame_ms = 20;
};

// --- node -> host -------------------------------------------------------------------------------

// First message on a connection. The server answers Welcome, or Error followed by a close.
struct Hello {
  std::vector<int> versions{kProtocolVersion};  // protocol versions the node speaks
  std::string node_id;                          // [A-Za-z0-9._-]{1,64}, stable across restarts
  std::optional<std::string> token;  // bearer token, for clients that cannot set headers (browsers)
  std::optional<std::string> room;   // free text, e.g. "kitchen"
  AudioParams audio;                 // what the node sends on the microphone stream
  std::vector<std::string> capabilities;  // e.g. "playback", "barge_in", "partial_transcripts"
  Mode mode = Mode::kConversation;
  std::optional<std::string> language;  // BCP-47 hint, e.g. "en", "kn"
};

// The node's VAD fired: the segment's first frame has this seq (its pre-roll included).
struct SpeechStart {
  uint64_t seq = 0;
  uint64_t timestamp = 0;
};

// The segment ended: its last frame has this seq.
struct SpeechEnd {
  uint64_t seq = 0;
  uint64_t timestamp = 0;
};

// Barge-in. Node -> host: the person spoke over reply `reply_id`; playback was flushed after
// `played_ms` of it had been heard (last reply frame played: `played_seq`). Host -> node: stop
// playing `reply_id` now (played_ms/played_seq are 0 and ignored).
struct Interrupt {
  std::string reply_id;
  uint64_t played_ms = 0;
  std::optional<uint64_t> played_seq;
};

// The node finished playing a reply to its end.
struct PlaybackDone {
  std::string reply_id;
  uint64_t played_ms = 0;
};

// Either side switches the node's mode.
struct ModeChange {
  Mode mode = Mode::kConversation;
};

// --- host -> node -------------------------------------------------------------------------------

struct Welcome {
  int version = kProtocolVersion;
  std::string session_id;
  AudioParams audio;  // what the host sends on the reply stream
  Mode mode = Mode::kConversation;
  // Highest microphone seq the host has already stored for this node_id (from an earlier
  // connection); the node resends everything above it and forgets everything at or below it.
  std::optional<uint64_t> acked_seq;
};

// Cumulative acknowledgement: every microphone frame with seq <= `seq` is safely handled (stored,
// for ambient mode) and the node may free it.
struct Ack {
  uint64_t seq = 0;
};

struct Transcript {
  std::string turn_id;
  std::string text;
  bool final = false;
  std::optional<std::string> language;
};

// The reply's text as the LLM writes it (what will be spoken; thinking never appears here).
struct ReplyText {
  std::string reply_id;
  std::string turn_id;
  std::string delta;
  bool final = false;
};

inline constexpr const char* kSpeechReasonReply = "reply";
inline constexpr const char* kSpeechReasonAnnouncement = "announcement";

struct SpeechOutStart {
  std::string reply_id;
  std::string turn_id;
  AudioParams audio;
  // Why the host speaks: "reply" (to a turn; the default, left off the wire) or "announcement"
  // (unprompted: a timer went off, a message from another room). Other values are kept as sent
  // (a newer host's) and played like a reply.
  std::string reason = kSpeechReasonReply;
};

// A sentence of the reply starts at reply frame `first_seq`.
struct SpeechOutSentence {
  std::string reply_id;
  uint32_t index = 0;
  std::string text;
  uint64_t first_seq = 0;
};

struct SpeechOutEnd {
  std::string reply_id;
  uint64_t last_seq = 0;
  std::string reason = "complete";  // "complete" | "interrupted" | "error"
};

// Where a turn's time went, in whole milliseconds from the end of the person's speech (the last
// speech frame's arrival); a stage that did not happen, or is not known, is absent. Sent after
// the turn's reply, only to clients whose hello listed kCapabilityTurnTimings.
struct TurnTimings {
  std::string turn_id;
  std::optional<std::string> reply_id;          // absent when the turn got no reply
  std::optional<uint64_t> end_of_turn_ms;       // the turn was confirmed over
  std::optional<uint64_t> stt_final_ms;         // the final transcript was ready
  std::optional<uint64_t> llm_first_token_ms;   // the model's first token
  std::optional<uint64_t> first_sentence_ms;    // the first sentence went to speech synthesis
  std::optional<uint64_t> tts_first_audio_ms;   // its first audio came back
  std::optional<uint64_t> first_frame_sent_ms;  // the first reply frame was written to the socket

  // A latency as the bridge measures it (double ms, negative when unknown), as sent.
  static std::optional<uint64_t> from_ms(double ms);
};

struct Error {
  std::string code;     // machine-readable, e.g. "bad_token", "unsupported_version", "stt_failed"
  std::string message;  // for people (and, if configured, spoken)
  bool fatal = false;   // true: a close follows
};

using Message = std::variant<Hello, SpeechStart, SpeechEnd, Interrupt, PlaybackDone, ModeChange,
                             Welcome, Ack, Transcript, ReplyText, SpeechOutStart, SpeechOutSentence,
                             SpeechOutEnd, Error, TurnTimings>;

// The wire name of a message's "type" field, e.g. "hello", "speech_out_start".
const char* type_name(const Message& message);

struct ParseResult {
  std::optional<Message> message;
  std::string error;  // set when !message: says what was wrong, e.g. "hello.node_id: missing"
  bool ok() const { return message.has_value(); }
};

// Validates one text frame: size, JSON syntax, "type", direction, every field's presence, type and
// range. Unknown extra fields are ignored (forward compatibility); unknown types are an error.
ParseResult parse_message(std::string_view text, Direction direction);

// Serializes a message; the result always parses back to an equal message.
std::string to_json(const Message& message);

// Picks the highest version both sides speak; nullopt when there is none.
std::optional<int> negotiate_version(const std::vector<int>& offered);

// True when the hello lists `capability` (e.g. kCapabilityTurnTimings).
bool has_capability(const Hello& hello, std::string_view capability);

// Validates an id (node_id, session_id, reply_id, turn_id): [A-Za-z0-9._-]{1,kMaxIdLength}.
bool is_valid_id(std::string_view id);

}  // namespace earshot::protocol
